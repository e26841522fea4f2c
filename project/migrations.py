"""The Alembic glue: the Config built in code, and each command's work.

Each public function is one command. The graph comes from ``project.index`` (the files read
without importing them); ``project.graph`` says what to do; the steps run through Alembic's
own ``EnvironmentContext`` (so ``migrations/env.py`` stays a normal Alembic environment); and
``project.output.Console`` says what happened.
"""
import os
import time
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicCommandError
from alembic.util import load_python_file

from project import database, graph, index, naming
from project.output import APP_LABEL, CommandError, Console
from project.settings import Settings

# When each migration was applied, which alembic_version does not keep (Django's
# django_migrations). Written in the same transaction as the version table.
HISTORY = sa.Table(
    "manage_migrations", sa.MetaData(),
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("applied", sa.DateTime(timezone=True), nullable=False),
)


def alembic_config(settings: Settings, connection=None) -> Config:
    """Alembic's Config without an ini file. The database goes in as a connection, never
    through ConfigParser, so a ``%`` in a password needs no escaping."""
    config = Config(cmd_opts=Namespace(quiet=True))
    config.set_main_option("script_location", str(settings.migrations_dir).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["settings"] = settings
    config.attributes["connection"] = connection
    return config


def explain(exc: BaseException) -> str:
    """One line for an error from Alembic or the database."""
    return str(exc) if isinstance(exc, AlembicCommandError) else database.one_line(exc)


def load_scripts(settings: Settings) -> ScriptDirectory:
    """Alembic's full load, which imports every migration file: only when one must run."""
    try:
        scripts = ScriptDirectory.from_config(alembic_config(settings))
        scripts.revision_map.heads  # loads the files now, where errors are explained
    except AlembicCommandError as exc:
        raise CommandError(str(exc)) from exc
    return scripts


def current_state(connection) -> tuple[str, ...]:
    """The heads recorded in ``alembic_version``; the read transaction is closed so that each
    migration can run in a transaction of its own."""
    state = MigrationContext.configure(connection).get_current_heads()
    connection.rollback()
    return tuple(state)


def applied_dates(connection) -> dict[str, datetime]:
    if not sa.inspect(connection).has_table(HISTORY.name):
        return {}
    dates = dict(connection.execute(sa.select(HISTORY.c.revision, HISTORY.c.applied)).all())
    connection.rollback()
    return dates


def run_steps(settings, connection, steps, console: Console, fake=False, sql=False) -> None:
    """Run ``graph.plan`` steps through Alembic, one transaction each, printing Django's lines;
    with ``sql``, print their SQL instead (Alembic's offline mode).

    Alembic consumes the step generator lazily, so "Applying X..." is printed just before X
    runs and " OK" once its transaction (with the version-table update) has committed.
    """
    scripts = load_scripts(settings)
    if not sql:
        HISTORY.create(connection, checkfirst=True)
        connection.commit()
        if console.verbosity >= 3:
            sa.event.listen(connection, "before_cursor_execute",
                            lambda conn, cursor, statement, *args: console.sql(statement))
    running = None

    def alembic_steps(heads, context):
        nonlocal running
        for revision, forward in steps:
            script = scripts.get_revision(revision)
            if forward:
                step = MigrationStep.upgrade_from_script(scripts.revision_map, script)
            else:
                step = MigrationStep.downgrade_from_script(scripts.revision_map, script)
            if not sql:
                step.migration_fn = recorded(None if fake else step.migration_fn, connection, revision, forward)
            console.step_started(revision, forward)
            running, started = revision, time.perf_counter()
            yield step
            console.step_finished(fake, time.perf_counter() - started)
            running = None

    offline = {}
    if sql:
        first, forward = steps[0]
        parents = scripts.get_revision(first).down_revision
        offline = dict(as_sql=True, starting_rev=(parents if forward else first) or None, destination_rev=first)
    try:
        with EnvironmentContext(alembic_config(settings, connection), scripts, fn=alembic_steps, **offline):
            scripts.run_env()
        if not sql:
            connection.commit()
    except CommandError:
        raise
    except Exception as exc:
        if running is None:
            raise
        console.line()
        failed = f"Cannot write the SQL of {running}" if sql else f"Migration {running} failed"
        raise CommandError(f"{failed}: {explain(exc)}") from exc


def recorded(migration_fn, connection, revision: str, forward: bool):
    """The step's work followed by its row in the history table, in the step's transaction."""

    def run(**kw):
        if migration_fn is not None:
            migration_fn(**kw)
        connection.execute(HISTORY.delete().where(HISTORY.c.revision == revision))
        if forward:
            connection.execute(HISTORY.insert().values(revision=revision, applied=datetime.now(timezone.utc)))

    return run


def migrate(settings: Settings, console: Console, target: str | None = None, fake: bool = False,
            lock_timeout: float = 300, plan: bool = False, check: bool = False) -> bool:
    """Django's migrate: bring the database to ``target`` (all heads when none), up or down,
    under the deploy lock so that concurrent deploys run each migration once. With ``plan``
    or ``check``, only say what would run. Returns whether anything was (or would be) run."""
    migrations = index.read_migrations(settings.versions_dir)
    leaves = graph.single_head(migrations)

    def steps_from(connection):
        current = current_state(connection)
        wanted = graph.resolve(target, migrations, current) if target else leaves
        return wanted, graph.plan(migrations, current, wanted)

    def under_lock(connection):
        with database.deploy_lock(connection, lock_timeout, console):
            wanted, steps = steps_from(connection)
            console.operations(wanted, all_heads=wanted == leaves)
            if steps:
                run_steps(settings, connection, steps, console, fake=fake)
            else:
                console.nothing_to_apply()
            return bool(steps)

    def planned(connection):
        wanted, steps = steps_from(connection)
        if plan:
            by_id = {m.revision: m for m in migrations}
            console.planned([(revision, forward, index.operations(by_id[revision].path, forward))
                             for revision, forward in steps])
        return bool(steps)

    return database.run(database.database_url(settings), planned if plan or check else under_lock)


def showmigrations(settings: Settings, console: Console, plan: bool = False) -> None:
    """Django's showmigrations: every migration in order, marked when applied (and when, at -v 2)."""
    migrations = graph.in_order(index.read_migrations(settings.versions_dir))
    if plan:
        graph.single_head(migrations)

    def read(connection):
        return current_state(connection), applied_dates(connection)

    state, dates = database.run(database.database_url(settings), read)
    applied = graph.applied(state, migrations)
    names = [m.revision for m in migrations]
    if plan:
        console.migration_plan(names, {m.revision: m.parents for m in migrations}, applied)
    else:
        console.migration_list(names, applied, dates)


def sqlmigrate(settings: Settings, console: Console, target: str, backwards: bool = False) -> None:
    """Django's sqlmigrate: the SQL of one migration, from Alembic's offline mode."""
    revision = graph.find(target, index.read_migrations(settings.versions_dir))
    run_steps(settings, None, [(revision, not backwards)], Console(0), sql=True)


def describe(operations) -> list[str]:
    """Django-style phrases for what autogenerate found, such as ``Create table hotels``."""
    phrases = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            phrases.extend(describe(op.ops))
        elif isinstance(op, ops.CreateTableOp):
            phrases.append(f"Create table {op.table_name}")
        elif isinstance(op, ops.DropTableOp):
            phrases.append(f"Drop table {op.table_name}")
        elif isinstance(op, ops.AddColumnOp):
            phrases.append(f"Add column {op.column.name} to {op.table_name}")
        elif isinstance(op, ops.DropColumnOp):
            phrases.append(f"Remove column {op.column_name} from {op.table_name}")
        elif isinstance(op, ops.AlterColumnOp):
            phrases.append(f"Alter column {op.column_name} on {op.table_name}")
        elif isinstance(op, ops.CreateIndexOp):
            phrases.append(f"Create index {op.index_name} on {op.table_name}")
        elif isinstance(op, ops.DropIndexOp):
            phrases.append(f"Drop index {op.index_name} from {op.table_name}")
        elif isinstance(op, ops.CreateUniqueConstraintOp):
            phrases.append(f"Create unique constraint {op.constraint_name} on {op.table_name}")
        elif isinstance(op, ops.CreateForeignKeyOp):
            phrases.append(f"Create foreign key {op.constraint_name} on {op.source_table}")
        elif isinstance(op, ops.DropConstraintOp):
            phrases.append(f"Drop constraint {op.constraint_name} from {op.table_name}")
        else:
            phrases.append(type(op).__name__.removesuffix("Op"))
    return phrases


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
    migrations = index.read_migrations(settings.versions_dir)
    heads = graph.single_head(migrations)
    number = naming.next_number(heads)
    write = not (dry_run or check)
    changes: list[str] = []
    revision = naming.revision_id(number, slug or naming.auto_slug([]))

    def name_and_filter(context, rev, directives):
        nonlocal changes, revision
        script = directives[0]
        changes = describe(script.upgrade_ops.ops)
        revision = script.rev_id = naming.revision_id(number, slug or naming.auto_slug(changes))
        script.message = name or "; ".join(changes)
        if not changes or not write:
            directives[:] = []

    def autogenerate(connection):
        steps = graph.plan(migrations, current_state(connection), heads)
        if steps:
            run_steps(settings, connection, steps, Console(0))
        command.revision(alembic_config(settings, connection), autogenerate=True,
                         process_revision_directives=name_and_filter)

    if empty:
        if write:
            command.revision(alembic_config(settings), message=name or "empty", rev_id=revision)
    else:
        url = database.database_url(settings)
        with database.scratch_database(url, console) as scratch_url:
            if scratch_url is None and set(database.run(url, current_state)) != set(heads):
                raise CommandError("The database is not at the latest migration, so makemigrations "
                                   "cannot compare with it: run migrate first, or allow this user to create databases.")
            database.run(scratch_url or url, autogenerate)
        if not changes:
            console.no_changes()
            return False
    console.new_migration(display_path(settings.versions_dir / f"{revision}.py"), changes)
    return True


def merge(settings: Settings, console: Console, name: str | None = None, interactive: bool = True) -> None:
    """Django's ``makemigrations --merge``: one migration whose parents are all the heads."""
    migrations = index.read_migrations(settings.versions_dir)
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
    slug = naming.slugify(name) if name else naming.merge_slug(leaves)
    revision = naming.revision_id(naming.next_number(leaves), slug)
    command.merge(alembic_config(settings), revisions=list(leaves), message=name or f"merge {', '.join(leaves)}",
                  rev_id=revision)
    console.line(f"\nCreated new merge migration {display_path(settings.versions_dir / f'{revision}.py')}")


def check(settings: Settings, console: Console, with_database: bool = False) -> None:
    """One command for CI: the migration files agree, every one imports, the models have no
    change without a migration, and (with ``with_database``) the database is at head."""
    problems = []
    try:
        migrations = index.read_migrations(settings.versions_dir)
        heads = graph.single_head(migrations)
    except CommandError as exc:
        problems.append(exc.message)
    else:
        for migration in migrations:
            path = Path(migration.path)
            try:
                load_python_file(str(path.parent), path.name)
            except Exception as exc:
                problems.append(f"Migration file {path.name} does not import: {type(exc).__name__}: {exc}")
        if not problems and makemigrations(settings, Console(0), check=True):
            problems.append("Your models have changes that are not yet reflected in a migration: "
                            "run 'python manage.py makemigrations'.")
        if not problems and with_database:
            state = database.run(database.database_url(settings), current_state)
            missing = graph.plan(migrations, state, heads)
            if missing:
                problems.append(f"The database is not at the latest migration: {len(missing)} to run "
                                f"({', '.join(revision for revision, _ in missing)}).")
    if problems:
        for problem in problems:
            console.line(problem)
        raise CommandError(f"System check identified {len(problems)} issue{'s' if len(problems) > 1 else ''}.")
    console.line("System check identified no issues.")
