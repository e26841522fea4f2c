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
                   update: bool = False) -> list[str]:
    """Django's makemigrations: compare the models with a scratch database brought to head, so
    the migration is what the models add to the migrations, whatever the real database holds;
    ask what the comparison cannot know; write the file and try it on the scratch database.
    Always compares: what the models are can depend on anything they read. The migration
    continues ``app`` (by default the one app, or the project's); a project with ``APPS`` gets
    one for each app that changed, on the app's own branch. With ``update`` (Django 4.2), the
    app's latest migration is written again with the changes folded in. Returns the apps that
    had a migration to write."""
    slug = naming.slugify(name) if name is not None else None
    if name is not None and not slug:
        raise CommandError(f"The migration name '{name}' has no letters or digits to use.")
    from manage_migrations.questioner import Questioner

    migrations = migrations_of(settings)
    leaves = graph.single_head(migrations)
    plan = Plan(settings, migrations, slug, app)
    if update:
        leaves = plan.instead_of_latest(leaves)
    write = not (dry_run or check)
    if empty:
        from manage_migrations.migrations import migration_text, write_migration

        after = plan.after(app)
        revision = plan.revision(after, [])
        text = migration_text(settings, revision, after.parents, name or "empty", branch_labels=after.labels)
        path = new_file(settings, after.folder, revision)
        if write:
            write_migration(settings, path, text)
        console.new_migration(display_path(path), [], after.app)
        written = [(after.app, revision, text)]
    else:
        questioner = Questioner(interactive, dry_run=not write, verbosity=console.verbosity, err=console.scriptable)
        unwritten = []
        written = compare_with_models(settings, console, plan, leaves, questioner, name, write, unwritten)
        if unwritten and check:  # a difference seen is never passed over, even one no file can be written for
            raise CommandError(f"The models differ from the migrations in what makemigrations cannot write: "
                               f"{'; '.join(unwritten)}. Write a migration for it by hand.")
        for difference in unwritten:
            console.unwritten(difference)
        if not written:
            console.no_changes(app)
    if dry_run and console.verbosity >= 3:
        for _, revision, text in written:
            console.full_file(f"{revision}.py", text)
    return [app for app, _, _ in written]


@dataclass(frozen=True)
class New:
    """Where a new migration of an app goes: after the app's head, numbered after the highest
    number the app has used (whatever ids sit between), in the folder of the app's files; an
    app's first migration carries the app's label (unless it is the project's own app)."""
    app: str
    parents: tuple[str, ...]
    number: int
    folder: Path
    labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


class Plan:
    """Where each new migration of one makemigrations goes, as the migrations grow with them."""

    def __init__(self, settings: Settings, migrations: list[graph.Migration], slug: str | None, app: str | None):
        heads = graph.app_heads(migrations)
        if app is not None and app not in heads and app not in settings.app_labels:
            raise CommandError(f"No installed app with label '{app}'.")
        self.settings, self.migrations, self.slug, self.app = settings, list(migrations), slug, app
        self.replaced: graph.Migration | None = None

    @property
    def split(self) -> bool:
        """Whether the models' changes are told apart by app (the settings name ``APPS``)."""
        return bool(self.settings.apps) and self.replaced is None

    def after(self, app: str | None, needs: tuple[str, ...] = ()) -> New:
        """Where ``app``'s next migration goes; ``needs``: the apps whose tables it refers to."""
        if self.replaced is not None:
            return self.instead
        heads = graph.app_heads(self.migrations)
        if app is None:
            if len(heads) > 1 and self.settings.app_label not in heads:
                raise CommandError(f"The migrations have several apps ({', '.join(sorted(heads))}): name the one the "
                                   "new migration continues, as in 'python manage.py makemigrations APP_LABEL'.")
            app = self.settings.app_label if len(heads) != 1 else next(iter(heads))
        by_id = {m.revision: m for m in self.migrations}
        parents = heads.get(app, ())
        folder = Path(by_id[parents[0]].path).parent if parents else self.settings.versions_dir
        labels = (app,) if not parents and app != self.settings.app_label else ()
        depends_on = tuple(head for other in needs if other != app for head in heads.get(other, ()))
        return New(app, parents, number_in_app(self.settings, self.migrations, app), folder, labels, depends_on)

    def instead_of_latest(self, leaves: tuple[str, ...]) -> tuple[str, ...]:
        """``makemigrations --update``: the app's latest migration written again, which must be
        applied nowhere this project knows, and hold only what makemigrations writes. Returns
        the heads to compare with: the latest's parents in its place."""
        from manage_migrations import database, recorder

        after = self.after(self.app)
        latest = next(m for m in self.migrations if m.revision == after.parents[0]) if after.parents else None
        if latest is None:
            raise CommandError(f"App {after.app} has no migration to update.")
        state = database.run(database.database_url(self.settings), recorder.of(self.settings).current_state)
        if latest.replaces:  # databases at what it replaces are recognised by it
            raise CommandError(f"Cannot update squash migration '{latest.revision}'.")
        if latest.revision in graph.applied(state, self.migrations):
            raise CommandError(f"Cannot update applied migration '{latest.revision}'.")
        hand_written = list(dict.fromkeys(source.hand_written(latest.path)))
        if hand_written:
            raise CommandError(f"Cannot update {latest.revision}: it calls {', '.join(hand_written)}, which "
                               "makemigrations does not write. Fold the changes in by hand, or make a new migration.")
        self.migrations.remove(latest)
        self.replaced = latest
        self.instead = New(after.app, latest.parents, number_in_app(self.settings, self.migrations, after.app),
                           Path(latest.path).parent, latest.branch_labels, latest.depends_on)
        return tuple(dict.fromkeys(r for head in leaves for r in (latest.parents if head == latest.revision
                                                                  else (head,))))

    def revision(self, after: New, fragments: list[str | None]) -> str:
        """The new migration's id, Django's name: ``0005_users_phone``, ``0001_initial`` for an
        app's first. Ids are one namespace in Alembic, so an id another app has already taken
        gets the app's label: ``0001_billing_initial``."""
        app_of = graph.apps(self.migrations)
        initial = not [m for m in self.migrations if app_of[m.revision] == after.app]
        slug = self.slug or naming.suggest_name(fragments, initial=initial)
        revision = naming.revision_id(after.number, slug)
        if self.replaced is not None and revision == self.replaced.revision:
            return f"{revision}_updated"
        return naming.revision_id(after.number, f"{after.app}_{slug}") if revision in app_of else revision

    def add(self, after: New, revision: str, path: Path) -> None:
        """The new migration, as the rest of this run sees the graph."""
        self.migrations.append(graph.Migration(revision, after.parents, str(path), after.depends_on, after.labels,
                                               app_label=self.settings.app_label))


def number_in_app(settings: Settings, migrations: list[graph.Migration], app: str) -> int:
    """The number a new migration of ``app`` takes: one past the app's (see naming.next_number)."""
    app_of = graph.apps(migrations)
    return naming.next_number([m.revision for m in migrations if app_of[m.revision] == app])


def compare_with_models(settings, console, plan: Plan, heads, questioner, message, write,
                        unwritten: list[str] | None = None) -> list[tuple[str, str, str]]:
    """Bring a scratch database to ``heads``, compare the models with it and, if ``write``,
    write the migrations (one per app that changed, in the order their foreign keys need; in
    place of ``plan.replaced``, whose file is then deleted) and try each there; print what
    they do. Returns each new migration's app, revision and text.

    On SQLite the scratch database is kept in the cache for the next run, under a key of the
    migration files and the library versions that built it; after a successful try it is at
    the new heads, and is kept under the new files' key. A comparison with it that found
    nothing, with nothing ``uncertain`` (env.py's own hooks, a warning), is remembered
    (``clean_checks``): the same inputs again are answered from there, without loading Alembic."""
    from manage_migrations import clean_checks

    migrations = plan.migrations
    files = [m.path for m in migrations]
    clean_key = clean_checks.comparison_key(settings, models_if_they_load(settings), files) \
        if plan.replaced is None and unwritten is not None else None
    if clean_checks.known(settings, clean_key):
        return []
    from manage_migrations import database, recorder, scratch
    from manage_migrations import migrations as alembic

    def compare(connection):
        if scratch_url is not None:
            scratch.migrate_to(settings, connection, migrations, heads)
        return alembic.autogenerate(settings, connection, questioner,
                                    lambda: source.enum_types([m.path for m in graph.in_order(migrations)]),
                                    scratch=scratch_url is not None, unwritten=unwritten,
                                    created_by=made_by_apps(migrations) if plan.split else None, uncertain=uncertain)

    url = database.database_url(settings)
    kept = scratch.kept_file(settings, url, heads)
    written, uncertain = [], []
    with scratch.scratch_database(url, console, kept) as scratch_url:
        if scratch_url is None and set(database.run(url, recorder.of(settings).current_state)) != set(heads):
            raise CommandError("The database is not at the latest migration, so makemigrations "
                               "cannot compare with it: run migrate first, or allow this user to create databases.")
        found = database.run(scratch_url or url, compare)
        parts = [part for part in found if plan.app is None or not plan.split or part.app == plan.app]
        for part in in_dependency_order(parts, settings.app_label):
            after = plan.after(part.app if plan.split else plan.app, part.needs)
            revision = plan.revision(after, part.changes.fragments)
            text = alembic.migration_text(settings, revision, after.parents, message or "; ".join(part.changes.phrases),
                                          part.rendered, branch_labels=after.labels, depends_on=after.depends_on)
            path = new_file(settings, after.folder, revision)
            if write:
                alembic.write_migration(settings, path, text)
            console.new_migration(display_path(path), part.changes.phrases, after.app)
            if write:  # lintmigrations' backend-neutral rules: warnings, the file is written all the same
                from manage_migrations import lint

                console.lint_findings(lint.lint(graph.Migration(revision, path=str(path)), after.app,
                                                display_path(path)))
            if write and plan.replaced is not None:
                Path(plan.replaced.path).unlink()
                console.line(f"Deleted {display_path(Path(plan.replaced.path))}")
            before = graph.heads(plan.migrations)
            plan.add(after, revision, path)
            written.append((after.app, revision, text))
            if write:
                try_new_migration(settings, console, scratch_url, kept, plan.migrations, before, revision)
    if write and kept is not None and written and scratch_url is not None:
        cache.move(kept, scratch.kept_file(settings, url, graph.heads(plan.migrations)))
    if not (found or unwritten or uncertain) and kept is not None:
        clean_checks.remember(settings, clean_key, [str(settings.migrations_dir / "env.py"), *files, str(kept)])
    return written


def models_if_they_load(settings: Settings):
    """The models' MetaData, as ``MODELS`` names it; None when it does not load (the full
    comparison then says why, in its own words). Imported with the garbage collector off, as
    the models' modules make objects that live as long as the run, then frozen (once a process)
    so that later collections do not look through them again: 7% of the instructions of a
    ``makemigrations --check`` answered from ``clean_checks``."""
    import gc

    from manage_migrations.conf import load_models

    if not settings.models:
        return None
    collecting = gc.isenabled()
    gc.disable()
    try:
        return load_models(settings)
    except CommandError:
        return None
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
        if collecting:
            gc.enable()


def try_new_migration(settings: Settings, console: Console, scratch_url, kept, migrations, heads, revision) -> None:
    """Run a new migration up, down and up on the scratch database (left at it), then on each
    server of ``TRY_MIGRATIONS_ON``. A failure keeps the file for the author to fix."""
    from manage_migrations import database, executor

    if scratch_url is None:
        console.line(f"  Not tried: no scratch database to try {revision} on.")
        return
    try:
        database.run(scratch_url, lambda connection: executor.try_migration(settings, connection, revision))
    except CommandError:
        if kept is not None:
            kept.unlink(missing_ok=True)  # no longer at any head
        raise
    console.line(f"  Tried {revision} on the scratch database: upgrade, downgrade, upgrade... OK", level=2)
    for server in settings.try_on:
        try_on_server(settings, console, server, migrations, heads, revision)


def in_dependency_order(parts: list, own_app: str) -> list:
    """The apps' migrations, each after those of the apps whose tables it refers to (Django's
    autodetector orders its migrations so), else the project's own app first, then by label (the
    first to take an id keeps it plain). Two apps that refer to each other's new tables cannot
    both go first: that is an error asking to make one app's migration at a time."""
    ordered, left = [], sorted(parts, key=lambda part: (part.app != own_app, part.app or ""))
    while left:
        ready = [part for part in left if not set(part.needs) & {other.app for other in left}]
        if not ready:
            raise CommandError(f"The apps {', '.join(sorted(part.app for part in left))} refer to each other's new "
                               "tables: make the migration of one of them first ('makemigrations APP_LABEL'), "
                               "without the foreign key to the other.")
        ordered += ready
        left = [part for part in left if part not in ready]
    return ordered


def made_by_apps(migrations: list[graph.Migration]) -> tuple[dict[str, str], dict[str, str]]:
    """Which app's migrations created each table (a renamed one keeps its app) and each enum
    type, read from their source: whose they are once the models no longer have them."""
    app_of, tables, types = graph.apps(migrations), {}, {}
    for migration in graph.in_order(migrations):
        for operation, subject, table in source.calls(migration.path):
            if operation == "create_table" and subject:
                tables[subject] = app_of[migration.revision]
            elif operation == "rename_table" and table:
                tables[table] = tables.pop(subject, app_of[migration.revision])
            elif operation == "create_enum_type":
                types[subject] = app_of[migration.revision]
    return tables, types


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

        after = Plan(settings, migrations, None, app).after(app)  # after every head of the app
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
        console.line(f"  Your models in app(s): {', '.join(repr(app) for app in changed)} have changes that are not "
                     "yet reflected in a migration, and so won't be applied.")
        console.line("  Run 'manage.py makemigrations' to make new migrations, and then re-run 'manage.py migrate' "
                     "to apply them.")
