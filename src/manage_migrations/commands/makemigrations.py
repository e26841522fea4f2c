"""``makemigrations`` (and ``--merge``, ``--update``): a new migration from what the models add
to what the migrations build, asked as Django asks, written with the project's template and
tried on a scratch database before anyone else runs it."""
from dataclasses import dataclass
from pathlib import Path

import click

from manage_migrations import cache, graph, naming, source
from manage_migrations.conf import Settings
from manage_migrations.loader import migrations_of
from manage_migrations.naming import new_file
from manage_migrations.output import CommandError, Console, display_path


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
        unwritten = []
        revision, text = compare_with_models(settings, console, migrations, leaves, after, questioner, name_for, name,
                                             write, replaced, unwritten)
        if unwritten and check:  # a difference seen is never passed over, even one no file can be written for
            raise CommandError(f"The models differ from the migrations in what makemigrations cannot write: "
                               f"{'; '.join(unwritten)}. Write a migration for it by hand.")
        for difference in unwritten:
            console.unwritten(difference)
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
        from manage_migrations import database, recorder

        latest = next(m for m in migrations if m.revision == after.parents[0]) if after.parents else None
        if latest is None:
            raise CommandError(f"App {after.app} has no migration to update.")
        state = database.run(database.database_url(settings), recorder.of(settings).current_state)
        if latest.replaces:  # databases at what it replaces are recognised by it
            raise CommandError(f"Cannot update squash migration '{latest.revision}'.")
        if latest.revision in graph.applied(state, migrations):
            raise CommandError(f"Cannot update applied migration '{latest.revision}'.")
        hand_written = list(dict.fromkeys(source.hand_written(latest.path)))
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


def compare_with_models(settings, console, migrations, heads, after: New, questioner, name_for, message, write,
                        replaced: graph.Migration | None = None, unwritten: list[str] | None = None):
    """Bring a scratch database to ``heads``, compare the models with it and, if ``write``,
    write the migration (``after`` one app's head; in place of ``replaced``, whose file is then
    deleted) and try it there; print what it does. Returns the new revision (None when nothing
    changed) and the migration's text.

    On SQLite the scratch database is kept in the cache for the next run, under a key of the
    migration files and the library versions that built it; after a successful try it is at
    the new head, and is kept under the new files' key."""
    from manage_migrations import database, executor, recorder, scratch
    from manage_migrations import migrations as alembic

    def compare(connection):
        if scratch_url is not None:
            scratch.migrate_to(settings, connection, migrations, heads)
        return alembic.autogenerate(settings, connection, questioner,
                                    lambda: source.enum_types([m.path for m in graph.in_order(migrations)]),
                                    scratch=scratch_url is not None, unwritten=unwritten)

    url = database.database_url(settings)
    kept = scratch.kept_file(settings, url, heads)
    with scratch.scratch_database(url, console, kept) as scratch_url:
        if scratch_url is None and set(database.run(url, recorder.of(settings).current_state)) != set(heads):
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
            database.run(scratch_url, lambda connection: executor.try_migration(settings, connection, revision))
        except CommandError:
            if kept is not None:
                kept.unlink(missing_ok=True)  # no longer at any head
            raise
        console.line(f"  Tried {revision} on the scratch database: upgrade, downgrade, upgrade... OK", level=2)
        for server in settings.try_on:
            try_on_server(settings, console, server, migrations, heads, revision)
    if kept is not None:
        new_heads = tuple(head for head in heads if head not in after.parents) + (revision,)
        cache.move(kept, scratch.kept_file(settings, url, new_heads))
    return revision, text


def try_on_server(settings: Settings, console: Console, server: str, migrations: list[graph.Migration],
                  heads: tuple[str, ...], revision: str) -> None:
    """Try the new migration, up, down and up, on a scratch database of a server the settings
    name besides the configured one (``TRY_MIGRATIONS_ON``): a migration made on SQLite is run
    on PostgreSQL and MariaDB before anyone deploys it. A server that does not answer, or where
    this user cannot create a database, is named and skipped; a failure there keeps the file
    for the author to fix, naming the server."""
    from manage_migrations import database, executor, scratch

    url = database.parse_url(server, settings.base_dir, "TRY_MIGRATIONS_ON")

    def attempt(connection):
        scratch.migrate_to(settings, connection, migrations, heads)
        executor.try_migration(settings, connection, revision)

    try:
        with scratch.scratch_database(url, Console(0)) as scratch_url:
            if scratch_url is None:
                console.line(f"  Not tried on {database.where(url)}: this user cannot create a database there.")
                return
            database.run(scratch_url, attempt)
    except database.CannotConnect as exc:
        console.line(f"  Not tried: {exc.message}")
        return
    except CommandError as exc:
        raise CommandError(f"On {database.where(url)}: {exc.message}") from exc
    console.line(f"  Tried {revision} on {database.where(url)}: upgrade, downgrade, upgrade... OK", level=2)


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
                console.changes([phrase for phrase, _ in source.operations(migration.path)])
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
