"""The Alembic glue: the Config built in code, the scripts loaded, steps run, files written.

Everything here needs Alembic, which ``project.commands`` imports only when a migration must
run or be written: the deploy hot path (``migrate`` with nothing to do) never loads it.
Steps run through Alembic's own ``EnvironmentContext``, so ``migrations/env.py`` stays a
normal Alembic environment.
"""
import time
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicCommandError
from alembic.util import load_python_file

from project import database
from project.database import HISTORY
from project.output import CommandError, Console
from project.settings import Settings


def alembic_config(settings: Settings, connection=None, models: bool = True) -> Config:
    """Alembic's Config without an ini file. The database goes in as a connection (the
    cookbook's ``config.attributes["connection"]``), never through ConfigParser, so a ``%``
    in a password needs no escaping. ``models`` tells env.py whether to load the models."""
    config = Config(cmd_opts=Namespace(quiet=True))
    config.set_main_option("script_location", str(settings.migrations_dir).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["settings"] = settings
    config.attributes["connection"] = connection
    config.attributes["models"] = models
    return config


def explain(exc: BaseException) -> str:
    """One line for an error from us, Alembic or the database."""
    if isinstance(exc, CommandError):
        return exc.message
    return str(exc) if isinstance(exc, AlembicCommandError) else database.one_line(exc)


def load_scripts(settings: Settings) -> ScriptDirectory:
    """Alembic's full load, which imports every migration file: now, so that a file that does
    not load is not reported as the failure of the first migration to run."""
    scripts = ScriptDirectory.from_config(alembic_config(settings))
    scripts.revision_map.heads
    return scripts


def run_steps(settings, connection, steps, console: Console, fake=False, sql=False) -> None:
    """Run ``graph.plan`` steps through Alembic, one transaction each, printing Django's lines;
    with ``sql``, print their SQL instead (Alembic's offline mode).

    Alembic consumes the step generator lazily, so "Applying X..." is printed just before X
    runs and " OK" once its transaction (with the version-table update) has committed.
    """
    scripts = load_scripts(settings)
    if not sql:
        HISTORY.create(connection, checkfirst=True)
        # Rows the plain alembic command left behind for what it unapplied: gone before we start.
        connection.execute(HISTORY.delete().where(HISTORY.c.revision.in_([r for r, forward in steps if forward])))
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
        with EnvironmentContext(alembic_config(settings, connection, models=False), scripts, fn=alembic_steps, **offline):
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


# Built once: SQLAlchemy then compiles each once per run, not once per migration.
RECORD_APPLIED = HISTORY.insert()
RECORD_UNAPPLIED = HISTORY.delete().where(HISTORY.c.revision == sa.bindparam("gone"))


def recorded(migration_fn, connection, revision: str, forward: bool):
    """The step's work followed by its row in the history table, in the step's transaction."""

    def run(**kw):
        if migration_fn is not None:
            migration_fn(**kw)
        if forward:
            connection.execute(RECORD_APPLIED, {"revision": revision, "applied": datetime.now(timezone.utc)})
        else:
            connection.execute(RECORD_UNAPPLIED, {"gone": revision})

    return run


# Django-style phrases for what autogenerate finds; the verb decides the +/-/~ of the summary.
PHRASES = {
    ops.CreateTableOp: "Create table {op.table_name}",
    ops.DropTableOp: "Drop table {op.table_name}",
    ops.AddColumnOp: "Add column {op.column.name} to {op.table_name}",
    ops.DropColumnOp: "Remove column {op.column_name} from {op.table_name}",
    ops.AlterColumnOp: "Alter column {op.column_name} on {op.table_name}",
    ops.CreateIndexOp: "Create index {op.index_name} on {op.table_name}",
    ops.DropIndexOp: "Drop index {op.index_name} from {op.table_name}",
    ops.CreateUniqueConstraintOp: "Create unique constraint {op.constraint_name} on {op.table_name}",
    ops.CreateForeignKeyOp: "Create foreign key {op.constraint_name} on {op.source_table}",
    ops.DropConstraintOp: "Drop constraint {op.constraint_name} from {op.table_name}",
}


def describe(operations) -> list[str]:
    """What autogenerate found, such as ``Create table hotels``, one phrase per operation."""
    phrases = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            phrases.extend(describe(op.ops))
        else:
            phrase = PHRASES.get(type(op))
            phrases.append(phrase.format(op=op) if phrase else type(op).__name__.removesuffix("Op"))
    return phrases


def autogenerate(settings: Settings, connection, name_revision, message: str | None,
                 write: bool) -> tuple[str | None, list[str]]:
    """Compare the models with the database on ``connection`` (which is at head) and, if
    ``write``, write the migration. ``name_revision(changes)`` names it. Returns its revision
    id and the changes found.

    The comparison runs through env.py without loading the migration files (Alembic's own
    ``revision --autogenerate`` would import them all); only writing a file goes through it."""
    config = alembic_config(settings, connection)
    scripts = ScriptDirectory.from_config(config)
    changes: list[str] = []

    def compare(heads, context):
        changes.extend(describe(produce_migrations(context, context.opts["target_metadata"]).upgrade_ops.ops))
        return []

    with EnvironmentContext(config, scripts, fn=compare, dont_mutate=True):
        scripts.run_env()
    if not changes:
        return None, []
    revision = name_revision(changes)
    if write:
        command.revision(config, message=message or "; ".join(changes), autogenerate=True, rev_id=revision)
    return revision, changes


def write_empty(settings: Settings, revision: str, message: str) -> None:
    command.revision(alembic_config(settings), message=message, rev_id=revision)


def write_merge(settings: Settings, heads: tuple[str, ...], revision: str, message: str) -> None:
    command.merge(alembic_config(settings), revisions=list(heads), message=message, rev_id=revision)


def import_errors(paths: list[str]) -> list[str]:
    """The migration files that fail to import, each with its error: Alembic would stop at the first."""
    errors = []
    for path in map(Path, paths):
        try:
            load_python_file(str(path.parent), path.name)
        except Exception as exc:
            errors.append(f"Migration file {path.name} does not import: {type(exc).__name__}: {exc}")
    return errors
