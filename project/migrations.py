"""The Alembic glue: the Config built in code, the migration scripts, and each command's work.

Each public function is one command. They read the revision graph from Alembic's
``ScriptDirectory``, ask ``project.graph`` what to do, run it through Alembic's own
``EnvironmentContext`` (so ``migrations/env.py`` stays a normal Alembic environment),
and report through ``project.output.Console``.
"""
import os
import time
from argparse import Namespace
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicCommandError

from project import database, graph, naming
from project.output import CommandError, Console
from project.settings import Settings


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


def load_scripts(settings: Settings) -> ScriptDirectory:
    try:
        return ScriptDirectory.from_config(alembic_config(settings))
    except AlembicCommandError as exc:
        raise CommandError(str(exc)) from exc


def migrations_of(scripts: ScriptDirectory) -> list[graph.Migration]:
    try:
        revisions = list(scripts.walk_revisions())
    except AlembicCommandError as exc:
        raise CommandError(str(exc)) from exc
    return [graph.Migration(script.revision, tuple(script._all_down_revisions)) for script in revisions]


def current_state(connection) -> tuple[str, ...]:
    """The heads recorded in ``alembic_version``; the read transaction is closed so that each
    migration can run in a transaction of its own."""
    state = MigrationContext.configure(connection).get_current_heads()
    connection.rollback()
    return tuple(state)


def run_steps(settings, scripts, connection, steps, console: Console, fake=False) -> None:
    """Run ``graph.plan`` steps through Alembic, one transaction each, printing Django's lines.

    Alembic consumes the step generator lazily, so "Applying X..." is printed just before X
    runs and " OK" once its transaction (with the version-table update) has committed.
    """
    running = None

    def alembic_steps(heads, context):
        nonlocal running
        for revision, forward in steps:
            script = scripts.get_revision(revision)
            if forward:
                step = MigrationStep.upgrade_from_script(scripts.revision_map, script)
            else:
                step = MigrationStep.downgrade_from_script(scripts.revision_map, script)
            if fake:
                step.migration_fn = lambda **kw: None
            console.step_started(revision, forward)
            running, started = revision, time.perf_counter()
            yield step
            console.step_finished(fake, time.perf_counter() - started)
            running = None

    try:
        with EnvironmentContext(alembic_config(settings, connection), scripts, fn=alembic_steps):
            scripts.run_env()
        connection.commit()
    except CommandError:
        raise
    except Exception as exc:
        if running is None:
            raise
        console.line()
        raise CommandError(f"Migration {running} failed: {database.one_line(exc)}") from exc


def migrate(settings: Settings, console: Console, target: str | None = None, fake: bool = False,
            lock_timeout: float = 300) -> None:
    """Django's migrate: bring the database to ``target`` (all heads when none), up or down,
    under the deploy lock so that concurrent deploys run each migration once."""
    scripts = load_scripts(settings)
    migrations = migrations_of(scripts)

    def under_lock(connection):
        with database.deploy_lock(connection, lock_timeout, console):
            current = current_state(connection)
            wanted = graph.resolve(target, migrations, current) if target else graph.heads(migrations)
            steps = graph.plan(migrations, current, wanted)
            console.operations(wanted, all_heads=wanted == graph.heads(migrations))
            if steps:
                run_steps(settings, scripts, connection, steps, console, fake=fake)
            else:
                console.nothing_to_apply()

    database.run(database.database_url(settings), under_lock)


def showmigrations(settings: Settings, console: Console, plan: bool = False) -> None:
    """Django's showmigrations: every migration in order, marked when applied."""
    migrations = graph.in_order(migrations_of(load_scripts(settings)))
    state = database.run(database.database_url(settings), current_state)
    applied = graph.applied(state, migrations)
    names = [m.revision for m in migrations]
    if plan:
        console.migration_plan(names, {m.revision: m.parents for m in migrations}, applied)
    else:
        console.migration_list(names, applied)


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
    return path if relative.startswith("..") else relative


def makemigrations(settings: Settings, console: Console, name: str | None = None,
                   empty: bool = False, dry_run: bool = False, check: bool = False) -> bool:
    """Django's makemigrations: autogenerate against a scratch database brought to head, so the
    migration is what the models add to the migrations, whatever the real database holds.
    Returns whether there was a migration to write."""
    slug = naming.slugify(name) if name is not None else None
    if name is not None and not slug:
        raise CommandError(f"The migration name '{name}' has no letters or digits to use.")
    scripts = load_scripts(settings)
    migrations = migrations_of(scripts)
    heads = graph.heads(migrations)
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
            run_steps(settings, scripts, connection, steps, Console(0))
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
