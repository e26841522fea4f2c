"""What each command does: one function per command, called by ``project.cli``.

Questions about the graph go to ``project.graph`` over the files as ``project.index`` reads
them. Each function imports what it needs when it needs it: SQLAlchemy (``project.database``)
only to reach the database, Alembic (``project.migrations``) only where a migration must run or
be written, so that ``migrate`` with nothing to do never loads Alembic and ``makemigrations``
with nothing new since its last clean comparison loads neither.
"""
import os
import sys
from pathlib import Path

import click

from project import cache, graph, index, naming
from project.output import APP_LABEL, CommandError, Console
from project.settings import Settings


def migrations_of(settings: Settings) -> list[graph.Migration]:
    return index.read_migrations(settings.versions_dir, settings.cache_dir)


def migrate(settings: Settings, console: Console, target: str | None = None, fake: bool = False,
            lock_timeout: float = 300, plan: bool = False, check: bool = False) -> bool:
    """Django's migrate: bring the database to ``target`` (all heads when none), up or down,
    under the deploy lock so that concurrent deploys run each migration once. With ``plan``
    or ``check``, only say what would run. Returns whether anything was (or would be) run."""
    from project import database

    migrations = migrations_of(settings)
    leaves = graph.single_head(migrations)

    def steps_from(connection):
        current = database.current_state(connection)
        wanted = graph.resolve(target, migrations, current) if target else leaves
        return wanted, graph.plan(migrations, current, wanted)

    def apply(connection):
        wanted, steps = steps_from(connection)
        if not steps:  # at head, the deploy hot path: nothing to lock for
            return carry_out(connection, wanted, steps)
        with database.deploy_lock(connection, lock_timeout, console):
            return carry_out(connection, *steps_from(connection))  # again: another migrate may have run some

    def carry_out(connection, wanted, steps):
        """Django's header, then the steps (or the word that there are none)."""
        console.operations(wanted, all_heads=wanted == leaves)
        if not steps:
            console.nothing_to_apply()
            return False
        from project.migrations import run_steps

        with database.durable_at_end(connection):
            run_steps(settings, connection, steps, console, fake=fake)
        return True

    def planned(connection):
        wanted, steps = steps_from(connection)
        if plan:
            by_id = {m.revision: m for m in migrations}
            console.planned([(revision, forward, index.operations(by_id[revision].path, forward))
                             for revision, forward in steps])
        return bool(steps)

    return database.run(database.database_url(settings), planned if plan or check else apply)


def showmigrations(settings: Settings, console: Console, plan: bool = False) -> None:
    """Django's showmigrations: every migration in order, marked when applied (and when, at -v 2)."""
    from project import database

    migrations = graph.in_order(migrations_of(settings))
    if plan:
        graph.single_head(migrations)

    def read(connection):
        dates = database.applied_dates(connection) if console.verbosity >= 2 and not plan else {}
        return database.current_state(connection), dates

    state, dates = database.run(database.database_url(settings), read)
    applied = graph.applied(state, migrations)
    names = [m.revision for m in migrations]
    if plan:
        console.migration_plan(names, {m.revision: m.parents for m in migrations}, applied)
    else:
        console.migration_list(names, applied, dates)


def sqlmigrate(settings: Settings, console: Console, target: str, backwards: bool = False) -> None:
    """Django's sqlmigrate: the SQL of one migration, from Alembic's offline mode."""
    from project.migrations import run_steps

    revision = graph.find(target, migrations_of(settings))
    run_steps(settings, None, [(revision, not backwards)], Console(0), sql=True)


def display_path(path: Path) -> str:
    """Relative to the current folder when inside it, as Django prints new migration files."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def makemigrations(settings: Settings, console: Console, name: str | None = None,
                   empty: bool = False, dry_run: bool = False, check: bool = False) -> bool:
    """Django's makemigrations: autogenerate against a scratch database brought to head, so the
    migration is what the models add to the migrations, whatever the real database holds.
    Returns whether there was a migration to write."""
    slug = naming.slugify(name) if name is not None else None
    if name is not None and not slug:
        raise CommandError(f"The migration name '{name}' has no letters or digits to use.")
    migrations = migrations_of(settings)
    heads = graph.single_head(migrations)
    number = naming.next_number(heads)
    write = not (dry_run or check)

    def name_revision(changes: list[str]) -> str:
        return naming.revision_id(number, slug or naming.auto_slug(changes))

    if empty:
        revision, changes = name_revision([]), []
        if write:
            from project.migrations import write_empty

            write_empty(settings, revision, name or "empty")
    else:
        migrations_digest = index.fingerprint(settings.migrations_dir)
        fingerprint = f"{settings.database_url.partition(':')[0]}:{migrations_digest}"
        if unchanged_since_clean(settings, fingerprint):
            console.no_changes()
            return False
        modules_before = set(sys.modules)
        kept = settings.cache_dir and settings.cache_dir / f"scratch-{migrations_digest}.sqlite3"
        revision, changes = compare_with_models(settings, console, migrations, heads, kept, name_revision, name, write)
        if not changes:
            remember_clean(settings, fingerprint, modules_before)
            console.no_changes()
            return False
    console.new_migration(display_path(settings.versions_dir / f"{revision}.py"), changes)
    return True


def compare_with_models(settings, console, migrations, heads, kept, name_revision, name, write):
    """Bring a scratch database to head (or reuse ``kept``, the SQLite one kept for these
    migration files) and let Alembic compare the models with it."""
    from project import database
    from project import migrations as alembic

    def compare(connection):
        steps = graph.plan(migrations, database.current_state(connection), heads)
        if steps:
            alembic.run_steps(settings, connection, steps, Console(0))
        return alembic.autogenerate(settings, connection, name_revision, name, write)

    url = database.database_url(settings)
    with database.scratch_database(url, console, kept) as scratch_url:
        if scratch_url is None and set(database.run(url, database.current_state)) != set(heads):
            raise CommandError("The database is not at the latest migration, so makemigrations "
                               "cannot compare with it: run migrate first, or allow this user to create databases.")
        return database.run(scratch_url or url, compare)


def models_folder(settings: Settings) -> list[str]:
    """The files of the models package, where a new module is found without any import."""
    return sorted(os.listdir(settings.base_dir.joinpath(*settings.models_package.split("."))))


def unchanged_since_clean(settings: Settings, fingerprint: str) -> bool:
    """Whether the last comparison found no changes and nothing it depended on has changed
    since: the migration files (by content), the models folder, and every file of every module
    that comparison imported (the models, what they import, SQLAlchemy, Alembic, env.py's)."""
    record = cache.load(settings.cache_dir, "clean.json")
    return (record.get("fingerprint") == fingerprint and record.get("models") == models_folder(settings)
            and all(cache.stamp(path) == stamp for path, stamp in record["files"].items()))


def remember_clean(settings: Settings, fingerprint: str, modules_before: set[str]) -> None:
    files = {getattr(module, "__file__", None) for name, module in list(sys.modules.items())
             if name not in modules_before}
    cache.save(settings.cache_dir, "clean.json", {
        "fingerprint": fingerprint, "models": models_folder(settings),
        "files": {path: cache.stamp(path) for path in files if path},
    })


def merge(settings: Settings, console: Console, name: str | None = None, interactive: bool = True) -> None:
    """Django's ``makemigrations --merge``: one migration whose parents are all the heads."""
    migrations = migrations_of(settings)
    leaves = graph.heads(migrations)
    if len(leaves) < 2:
        console.line("No conflicts detected to merge.")
        return
    by_id = {m.revision: m for m in migrations}
    shared = set.intersection(*(graph.applied((leaf,), migrations) for leaf in leaves))
    console.line(f"Merging {APP_LABEL}")
    for leaf in leaves:
        console.line(f"  Branch {leaf}")
        for migration in graph.in_order([by_id[r] for r in graph.applied((leaf,), migrations) - shared]):
            for phrase, _ in index.operations(migration.path):
                console.line(f"    - {phrase}")
    if interactive and not click.confirm("\nMerging will only work if the operations printed above do not conflict\n"
                                         "with each other (working on different fields or models)\n"
                                         "Should these migration branches be merged?", default=False):
        return
    from project.migrations import write_merge

    revision = naming.revision_id(naming.next_number(leaves), naming.slugify(name) if name else naming.merge_slug(leaves))
    write_merge(settings, leaves, revision, name or f"merge {', '.join(leaves)}")
    console.line(f"\nCreated new merge migration {display_path(settings.versions_dir / f'{revision}.py')}")


def check(settings: Settings, console: Console, with_database: bool = False) -> None:
    """One command for CI: the migration files agree, every one imports, the models have no
    change without a migration, and (with ``with_database``) the database is at head."""
    from project.migrations import AlembicCommandError, explain, import_errors

    problems = []
    try:
        migrations = migrations_of(settings)
        heads = graph.single_head(migrations)
    except CommandError as exc:
        problems.append(exc.message)
    else:
        problems += import_errors([m.path for m in migrations])
        try:
            if not problems and makemigrations(settings, Console(0), check=True):
                problems.append("Your models have changes that are not yet reflected in a migration: "
                                "run 'python manage.py makemigrations'.")
        except (CommandError, AlembicCommandError) as exc:  # e.g. a models module that does not import
            problems.append(explain(exc))
        if not problems and with_database:
            from project import database

            state = database.run(database.database_url(settings), database.current_state)
            missing = graph.plan(migrations, state, heads)
            if missing:
                problems.append(f"The database is not at the latest migration: {len(missing)} to run "
                                f"({', '.join(revision for revision, _ in missing)}).")
    if problems:
        for problem in problems:
            console.line(problem)
        raise CommandError(f"System check identified {len(problems)} issue{'s' if len(problems) > 1 else ''}.")
    console.line("System check identified no issues.")
