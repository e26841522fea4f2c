"""What each command does: one function per command, called by ``manage_migrations.cli``.

Questions about the graph go to ``manage_migrations.graph`` over the files as ``manage_migrations.index`` reads
them. Each function imports what it needs when it needs it: SQLAlchemy (``manage_migrations.database``)
only to reach the database, Alembic (``manage_migrations.migrations``) only where a migration must run or
be compared, so that ``migrate`` with nothing to do never loads Alembic.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import click

from manage_migrations import cache, graph, index, naming
from manage_migrations.output import CommandError, Console
from manage_migrations.conf import Settings


def migrations_of(settings: Settings) -> list[graph.Migration]:
    return index.read_migrations(settings.migration_folders, settings.cache_dir, settings.sourceless,
                                 settings.recursive_version_locations, settings.app_label)


def squashed_history(settings: Settings, migrations: list[graph.Migration], state: tuple[str, ...]):
    """``squash.history``: the files as they are, unless the database is part-way through what
    a squashed migration replaces. ``manage_migrations.squash`` is imported only where a squashed
    migration is involved: compiling it is time ``migrate`` at head does not spend."""
    if not graph.part_way(state, migrations):
        return migrations, {}
    from manage_migrations import squash

    return squash.history(settings, migrations, state)


def app_and_target(migrations: list[graph.Migration], app: str | None, target: str | None):
    """Django's ``APP [MIGRATION]``: a lone word that names an app is the app, anything else a
    target (a migration, or one of Alembic's forms)."""
    labels = set(graph.apps(migrations).values())
    if app is None and target in labels:
        return target, None
    if app is not None and app not in labels:
        raise CommandError(f"No installed app with label '{app}'.")
    return app, target


def migrate(settings: Settings, console: Console, target: str | None = None, fake: bool = False,
            lock_timeout: float = 300, plan: bool = False, check: bool = False, app: str | None = None,
            fake_initial: bool = False) -> bool:
    """Django's migrate: bring the database to ``target`` (all heads when none), up or down,
    under the deploy lock so that concurrent deploys run each migration once; with ``app``,
    only that app's migrations (and what they need). With ``plan`` or ``check``, only say
    what would run; with ``fake_initial``, record without running each initial migration
    whose tables are already there. Returns whether anything was (or would be) run."""
    from manage_migrations import database, deploy

    files = migrations_of(settings)
    graph.single_head(files)
    app, target = app_and_target(files, app, target)

    def steps_from(connection) -> MigratePlan:
        """Where the database stands and the steps to the target; with ``fake``, a recorded
        revision that no file has is forgotten first (Alembic's ``stamp --purge``), as the
        error about it advises."""
        current = database.current_state(connection)
        history, record_after = squashed_history(settings, files, current)
        left = deploy.unfinished(connection)
        if left and not fake:
            raise CommandError(deploy.unfinished_error(*left[0], history))
        record_now = graph.squashed_in(current, history)
        known = {m.revision for m in history}
        unknown = [revision for revision in current
                   if revision not in known and revision not in record_now] if fake else []
        if unknown:
            current, record_now = (), {}
        current = tuple(record_now.get(revision, revision) for revision in current)
        heads = graph.heads(history)
        if target is not None:
            named = target
            if record_after:
                from manage_migrations import squash

                named = squash.before_squashed(target, history, record_after)
            wanted, scope = graph.resolve(named, history, current, app)
        else:
            wanted, scope = graph.app_heads(history)[app] if app else heads, app
        return MigratePlan(history, heads, wanted, scope, graph.plan(history, current, wanted, scope), unknown, left,
                           record_now, record_after)

    def apply(connection):
        planned = steps_from(connection)
        if not (planned.steps or planned.unknown or planned.left or planned.record_now):
            return carry_out(connection, planned)  # at head, the deploy hot path: nothing to lock for
        with deploy.deploy_lock(connection, lock_timeout, console):
            return carry_out(connection, steps_from(connection))  # again: another migrate may have run some

    def carry_out(connection, planned: MigratePlan):
        """Django's header, then the steps (or the word that there are none). A signal from
        here on ends in one line saying where the database stands."""
        history, wanted, scope, steps = planned.history, planned.wanted, planned.scope, planned.steps
        app_of, known = graph.apps(history), {m.revision for m in history}
        everything = scope is None and wanted == planned.heads or scope is not None and target is None
        labels = [scope] if scope else sorted({app_of[r] for r in (known if everything else wanted or known)}) or [
            settings.app_label]
        console.operations(wanted, everything, ", ".join(labels))
        try:
            if planned.unknown:
                console.line(f"  Forgetting {', '.join(planned.unknown)}, which no migration file has.")
                database.forget_versions(connection)
            if planned.left:  # fake is the way out the error names
                console.line(f"  Forgetting that {', '.join(revision for revision, _ in planned.left)} did not finish.")
                deploy.forget_unfinished(connection)
            if planned.record_now:
                from manage_migrations import squash

                squash.record(connection, planned.record_now, console)
            if not steps:
                console.nothing_to_apply()
                return bool(planned.unknown or planned.left or planned.record_now)
            faked = there_already(connection, history, steps) if fake_initial and not fake else frozenset()
            from manage_migrations import squash

            with database.durable_at_end(connection):
                squash.run_steps(settings, connection, history, steps, console, fake, faked, planned.record_after)
            return True
        except KeyboardInterrupt as exc:
            raise deploy.stopped_by(exc, connection, history) from exc

    def show(connection):
        planned = steps_from(connection)
        if plan:
            by_id = {m.revision: m for m in planned.history}
            console.planned([(revision, forward, index.operations(by_id[revision].path, forward))
                             for revision, forward in planned.steps], planned.record_now,
                            {last: squashed.revision for last, squashed in planned.record_after.items()})
        return bool(planned.steps)

    return database.run(database.database_url(settings), show if plan or check else apply)


class MigratePlan(NamedTuple):
    """What ``migrate`` found and will do: the history it plans in (before a squash, for a
    database part-way through what it replaces), its heads, the state wanted and the app it
    is about, the steps there, the revisions to forget (``unknown``, with fake), an unfinished
    migration (MariaDB), the squashed migrations to record now in place of the last migration
    they replace ({last: squashed}) and those to record once that last one is applied."""
    history: list[graph.Migration]
    heads: tuple[str, ...]
    wanted: tuple[str, ...]
    scope: str | None
    steps: list[tuple[str, bool]]
    unknown: list[str]
    left: list
    record_now: dict[str, str]
    record_after: dict[str, graph.Migration]


def notice_model_changes(settings: Settings, console: Console) -> None:
    """Django's notice after a migrate with nothing to apply: the models have changes that no
    migration holds. A notice, never a failure: a comparison that cannot be made says nothing."""
    from manage_migrations.questioner import Quit

    try:
        changed = makemigrations(settings, Console(0), check=True, interactive=False)
    except (CommandError, Quit):
        return
    if changed:
        console.line(f"  Your models in app(s): '{settings.app_label}' have changes that are not yet reflected in a migration, "
                     "and so won't be applied.")
        console.line("  Run 'manage.py makemigrations' to make new migrations, and then re-run 'manage.py migrate' "
                     "to apply them.")


def there_already(connection, migrations: list[graph.Migration], steps) -> frozenset:
    """Django's ``--fake-initial``: the initial migrations to apply (none of their parents in
    their app) that create tables or add columns, every one of which the database has already,
    as where ``create_all()`` or hand-made tables came first. Nothing else is compared."""
    import sqlalchemy as sa

    inspector, app_of = sa.inspect(connection), graph.apps(migrations)
    tables, by_id = set(inspector.get_table_names()), {m.revision: m for m in migrations}

    def exists(table, column=None):
        return table in tables and (column is None or column in {c["name"] for c in inspector.get_columns(table)})

    found = set()
    for revision, forward in steps:
        if not forward or any(app_of[parent] == app_of[revision] for parent in by_id[revision].parents):
            continue
        made = [(name, subject, on) for name, subject, on in index.calls(by_id[revision].path)
                if name in ("create_table", "add_column")]
        if made and all(exists(subject) if name == "create_table" else exists(on, subject) for name, subject, on in made):
            found.add(revision)
    connection.rollback()
    return frozenset(found)


def prune(settings: Settings, console: Console) -> None:
    """Django's ``migrate --prune``: forget the applied dates of migrations whose files are gone
    (those a squashed migration replaces, once deleted from migrations/replaced/). A database
    at a revision only a squashed migration knows of is left for migrate to record."""
    from manage_migrations import database, squash

    migrations = migrations_of(settings)
    recognised = {m.revision for m in migrations} | {r for m in migrations for r in m.replaces}
    on_disk = {m.revision for m in migrations} | {Path(path).stem for path in squash.replaced_files(settings)}

    def forget(connection):
        gone = sorted(set(database.applied_dates(connection)) - on_disk)
        console.line(click.style("Pruning migrations:", bold=True))
        if not gone:
            console.line("  No migrations to prune.")
        for revision in gone:
            console.line(f"  Pruning {settings.app_label}.{revision}", nl=False)
            database.forget_history(connection, revision)
            console.line(console.success(" OK"))
        missing = [revision for revision in database.current_state(connection) if revision not in recognised]
        if missing:
            raise CommandError(f"The database is at revision '{missing[0]}', which no migration file has: "
                               "mark it with 'fake' at a migration that exists.")

    database.run(database.database_url(settings), forget)


def showmigrations(settings: Settings, console: Console, plan: bool = False, apps: tuple[str, ...] = ()) -> None:
    """Django's showmigrations: every migration of each app (of ``apps``, when named) in order,
    marked when applied (and when, at -v 2)."""
    from manage_migrations import database, deploy

    migrations = graph.in_order(migrations_of(settings))
    if plan:
        graph.single_head(migrations)
    app_of = graph.apps(migrations)
    for app in apps:
        app_and_target(migrations, app, None)
    labels = apps or sorted(set(app_of.values())) or [settings.app_label]

    def read(connection):
        dates = database.applied_dates(connection) if console.verbosity >= 2 and not plan else {}
        return database.current_state(connection), dates, deploy.unfinished(connection)

    state, dates, left = database.run(database.database_url(settings), read)
    history, _ = squashed_history(settings, migrations, state)
    if history is not migrations:
        migrations, app_of = graph.in_order(history), graph.apps(history)
    applied = graph.applied(state, migrations)
    names = [m.revision for m in migrations]
    squashed = {m.revision: len(m.replaces) for m in migrations if m.replaces}
    if plan:
        shown = [name for name in names if not apps or app_of[name] in apps]
        console.migration_plan(shown, {m.revision: m.needs for m in migrations}, applied)
    else:
        groups = [(app, [name for name in names if app_of[name] == app]) for app in labels]
        console.migration_list(groups, applied, dates, {revision for revision, _ in left}, squashed)
    if left:
        raise CommandError(deploy.unfinished_error(*left[0], migrations))


def sqlmigrate(settings: Settings, console: Console, target: str, backwards: bool = False,
               app: str | None = None) -> None:
    """Django's sqlmigrate: the SQL of one migration, from Alembic's offline mode."""
    from manage_migrations.migrations import run_steps

    migrations = migrations_of(settings)
    app, _ = app_and_target(migrations, app, None)
    revision = graph.find(target, migrations, app)
    run_steps(settings, None, [(revision, not backwards)], Console(0), sql=True)


def display_path(path: Path) -> str:
    """Relative to the current folder when inside it, as Django prints new migration files."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def makemigrations(settings: Settings, console: Console, name: str | None = None, empty: bool = False,
                   dry_run: bool = False, check: bool = False, interactive: bool = True, app: str | None = None,
                   update: bool = False) -> bool:
    """Django's makemigrations: compare the models with a scratch database brought to head, so
    the migration is what the models add to the migrations, whatever the real database holds;
    ask what the comparison cannot know; write the file and try it on the scratch database.
    Always compares: what the models are can depend on anything they read. The migration
    continues ``app`` (by default the one app, or ``migrations``); with ``update`` (Django 4.2),
    the app's latest migration is written again with the changes folded in. Returns whether
    there was a migration to write."""
    slug = naming.slugify(name) if name is not None else None
    if name is not None and not slug:
        raise CommandError(f"The migration name '{name}' has no letters or digits to use.")
    from manage_migrations.questioner import Questioner

    migrations = migrations_of(settings)
    leaves = graph.single_head(migrations)
    after = New.after(settings, migrations, app)
    write = not (dry_run or check)
    replaced = None
    if update:
        after, replaced = New.instead_of_latest(settings, migrations, after)
        leaves = tuple(dict.fromkeys(r for head in leaves for r in (after.parents if head == replaced.revision
                                                                    else (head,))))

    def name_for(fragments: list[str | None]) -> str:
        revision = naming.revision_id(after.number, slug or naming.suggest_name(
            fragments, initial=not [m for m in migrations if m != replaced]))
        return f"{revision}_updated" if replaced and revision == replaced.revision else revision

    if empty:
        from manage_migrations.migrations import migration_text, write_migration

        revision = name_for([])
        text = migration_text(settings, revision, after.parents, name or "empty")
        path = new_file(settings, after.folder, revision)
        if write:
            write_migration(settings, path, text)
        console.new_migration(display_path(path), [], after.app)
    else:
        questioner = Questioner(interactive, dry_run=not write, verbosity=console.verbosity, err=console.scriptable)
        revision, text = compare_with_models(settings, console, migrations, leaves, after, questioner, name_for, name,
                                             write, replaced)
        if revision is None:
            console.no_changes()
            return False
    if dry_run and console.verbosity >= 3:
        console.full_file(f"{revision}.py", text)
    return True


@dataclass(frozen=True)
class New:
    """Where a new migration of an app goes: after the app's head, numbered after the highest
    number the app has used (whatever ids sit between), in the folder of the app's files."""
    app: str
    parents: tuple[str, ...]
    number: int
    folder: Path

    @classmethod
    def instead_of_latest(cls, settings: Settings, migrations: list[graph.Migration], after: "New"):
        """``makemigrations --update``: the app's latest migration written again, which must be
        applied nowhere this project knows, and hold only what makemigrations writes."""
        from manage_migrations import database

        latest = next(m for m in migrations if m.revision == after.parents[0]) if after.parents else None
        if latest is None:
            raise CommandError(f"App {after.app} has no migration to update.")
        state = database.run(database.database_url(settings), database.current_state)
        if latest.replaces:  # databases at what it replaces are recognised by it
            raise CommandError(f"Cannot update squash migration '{latest.revision}'.")
        if latest.revision in graph.applied(state, migrations):
            raise CommandError(f"Cannot update applied migration '{latest.revision}'.")
        hand_written = list(dict.fromkeys(index.hand_written(latest.path)))
        if hand_written:
            raise CommandError(f"Cannot update {latest.revision}: it calls {', '.join(hand_written)}, which "
                               "makemigrations does not write. Fold the changes in by hand, or make a new migration.")
        number = number_in_app(settings, [m for m in migrations if m != latest], after.app)
        return cls(after.app, latest.parents, number, Path(latest.path).parent), latest

    @classmethod
    def after(cls, settings: Settings, migrations: list[graph.Migration], app: str | None) -> "New":
        heads = graph.app_heads(migrations)
        if app is None:
            if len(heads) > 1 and settings.app_label not in heads:
                raise CommandError(f"The migrations have several apps ({', '.join(sorted(heads))}): name the one the "
                                   "new migration continues, as in 'python manage.py makemigrations APP_LABEL'.")
            app = settings.app_label if len(heads) != 1 else next(iter(heads))
        elif app not in heads:
            raise CommandError(f"No installed app with label '{app}'.")
        by_id = {m.revision: m for m in migrations}
        parents = heads.get(app, ())
        folder = Path(by_id[parents[0]].path).parent if parents else settings.versions_dir
        return cls(app, parents, number_in_app(settings, migrations, app), folder)


def number_in_app(settings: Settings, migrations: list[graph.Migration], app: str) -> int:
    """The number a new migration of ``app`` takes: one past the app's (see naming.next_number)."""
    app_of = graph.apps(migrations)
    return naming.next_number([m.revision for m in migrations if app_of[m.revision] == app])


def new_file(settings: Settings, folder: Path, revision: str) -> Path:
    """Where a new migration is written: named by the project's Alembic file_template."""
    return folder / naming.file_name(settings.file_template, revision)


def compare_with_models(settings, console, migrations, heads, after: New, questioner, name_for, message, write,
                        replaced: graph.Migration | None = None):
    """Bring a scratch database to ``heads``, compare the models with it and, if ``write``,
    write the migration (``after`` one app's head; in place of ``replaced``, whose file is then
    deleted) and try it there; print what it does. Returns the new revision (None when nothing
    changed) and the migration's text.

    On SQLite the scratch database is kept in the cache for the next run, under a key of the
    migration files and the library versions that built it; after a successful try it is at
    the new head, and is kept under the new files' key."""
    from manage_migrations import database, scratch
    from manage_migrations import migrations as alembic

    def compare(connection):
        if scratch_url is not None:
            scratch.migrate_to(settings, connection, migrations, heads)
        return alembic.autogenerate(settings, connection, questioner,
                                    lambda: index.enum_values([m.path for m in graph.in_order(migrations)]),
                                    scratch=scratch_url is not None)

    url = database.database_url(settings)
    kept = scratch.kept_file(settings, url, heads)
    with scratch.scratch_database(url, console, kept) as scratch_url:
        if scratch_url is None and set(database.run(url, database.current_state)) != set(heads):
            raise CommandError("The database is not at the latest migration, so makemigrations "
                               "cannot compare with it: run migrate first, or allow this user to create databases.")
        changes, rendered = database.run(scratch_url or url, compare)
        if changes is None:
            return None, ""
        revision = name_for(changes.fragments)
        text = alembic.migration_text(settings, revision, after.parents, message or "; ".join(changes.phrases), rendered)
        path = new_file(settings, after.folder, revision)
        if write:
            alembic.write_migration(settings, path, text)
        console.new_migration(display_path(path), changes.phrases, after.app)
        if write and replaced is not None:
            Path(replaced.path).unlink()
            console.line(f"Deleted {display_path(Path(replaced.path))}")
        if not write:
            return revision, text
        if scratch_url is None:
            console.line(f"  Not tried: no scratch database to try {revision} on.")
            return revision, text
        try:
            database.run(scratch_url, lambda connection: alembic.try_migration(settings, connection, revision))
        except CommandError:
            if kept is not None:
                kept.unlink(missing_ok=True)  # no longer at any head
            raise
        console.line(f"  Tried {revision} on the scratch database: upgrade, downgrade, upgrade... OK", level=2)
    if kept is not None:
        new_heads = tuple(head for head in heads if head not in after.parents) + (revision,)
        cache.move(kept, scratch.kept_file(settings, url, new_heads))
    return revision, text


def merge(settings: Settings, console: Console, name: str | None = None, interactive: bool = True) -> None:
    """Django's ``makemigrations --merge``: for each app with several heads, one migration
    whose parents are those heads."""
    migrations = migrations_of(settings)
    conflicts = {app: leaves for app, leaves in graph.app_heads(migrations).items() if len(leaves) > 1}
    if not conflicts:
        console.line("No conflicts detected to merge.")
        return
    for app, leaves in sorted(conflicts.items()):
        shared = set.intersection(*(graph.applied((leaf,), migrations) for leaf in leaves))
        console.line(f"Merging {app}")
        for leaf in leaves:
            console.line(f"  Branch {leaf}")
            only_here = graph.applied((leaf,), migrations) - shared
            for migration in [m for m in graph.in_order(migrations) if m.revision in only_here]:
                console.changes([phrase for phrase, _ in index.operations(migration.path)])
        if interactive and not click.confirm("\nMerging will only work if the operations printed above do not "
                                             "conflict\nwith each other (working on different fields or models)\n"
                                             "Should these migration branches be merged?", default=False):
            continue
        from manage_migrations.migrations import migration_text, write_migration

        after = New.after(settings, migrations, app)  # after every head of the app
        revision = naming.revision_id(after.number, naming.slugify(name) if name else naming.merge_name(leaves))
        path = new_file(settings, after.folder, revision)
        write_migration(settings, path, migration_text(settings, revision, after.parents,
                                                       name or f"merge {', '.join(leaves)}"))
        console.line(f"\nCreated new merge migration {display_path(path)}")
        console.path(display_path(path))


MODEL_CHANGES = ("Your models have changes that are not yet reflected in a migration: "
                 "run 'python manage.py makemigrations'.")


def check(settings: Settings, console: Console, with_database: bool = False) -> None:
    """One command for CI: the migration files agree, every one imports, the models have no
    change without a migration, and (with ``with_database``) the database is at head."""
    from manage_migrations.migrations import AlembicCommandError, explain, import_errors
    from manage_migrations.questioner import Quit

    problems = []
    try:
        migrations = migrations_of(settings)
        heads = graph.single_head(migrations)
    except CommandError as exc:
        problems.append(exc.message)
    else:
        problems += import_errors([m.path for m in migrations])
        try:
            if not problems and makemigrations(settings, Console(0), check=True, interactive=False):
                problems.append(MODEL_CHANGES)
        except Quit:  # a NOT NULL column with no default: a change all the same
            problems.append(MODEL_CHANGES)
        except (CommandError, AlembicCommandError) as exc:  # e.g. a models module that does not import
            problems.append(explain(exc))
        if not problems and with_database:
            from manage_migrations import database

            state = database.run(database.database_url(settings), database.current_state)
            missing = graph.plan(migrations, state, heads)
            if missing:
                problems.append(f"The database is not at the latest migration: {len(missing)} to run "
                                f"({', '.join(revision for revision, _ in missing)}).")
    if problems:  # the verdict is what check exists to give: at every verbosity, as Django's
        for problem in problems:
            console.line(problem, level=0)
        raise CommandError(f"System check identified {len(problems)} issue{'s' if len(problems) > 1 else ''}.")
    console.line("System check identified no issues.", level=0)
