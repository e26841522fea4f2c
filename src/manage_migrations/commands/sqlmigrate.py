"""``sqlmigrate``: the SQL of one migration, as Django's prints it.

On PostgreSQL and MariaDB that is Alembic's offline mode. On SQLite a batch migration rebuilds
its table from what it reads of the table first, which offline mode has no database to read; so
there the migration runs on a scratch database at the state it starts from, and what it runs
there is printed. The user's database is never opened.
"""
import re

from manage_migrations import graph, source
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console

# A qmark placeholder, or a quoted string or identifier (whose question marks are text).
PLACEHOLDER_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


def sqlmigrate(settings: Settings, console: Console, target: str, backwards: bool = False,
               app: str | None = None) -> None:
    """Django's sqlmigrate: the SQL of one migration, from Alembic's offline mode, or on SQLite
    from a run on a scratch database (see the module's docstring)."""
    from manage_migrations import database
    from manage_migrations.executor import run_steps

    migrations = migrations_of(settings)
    app, _ = app_and_target(migrations, app, None, settings.app_labels)
    revision = graph.find(target, migrations, app)
    url = database.database_url(settings)
    if url.get_backend_name() == "sqlite":
        statements = run_on_scratch(settings, url, migrations, revision, not backwards)
        console.line("".join(f"{statement}\n\n" for statement in statements), level=0, nl=False)
    else:
        run_steps(settings, None, [(revision, not backwards)], Console(0), sql=True)


def run_on_scratch(settings: Settings, url, migrations: list[graph.Migration], revision: str,
                   forward: bool) -> list[str]:
    """Run the step as ``migrate`` runs it, on a scratch SQLite file brought to where the step
    starts (what the migration needs, or the migration itself to go backwards), and return the
    SQL it ran there. A live database is what lets a batch block read the table it rebuilds,
    after whatever the migration did to it before; the scratch file is thrown away."""
    from manage_migrations import database, executor, recorder, scratch

    migration = next(m for m in migrations if m.revision == revision)

    def run(connection) -> list[str]:
        scratch.migrate_to(settings, connection, migrations, migration.needs if forward else (revision,))
        transcript = Transcript(connection, recorder.of(settings), running_comment(migration, forward))
        try:
            executor.run_steps(settings, connection, [(revision, forward)], transcript)
        except executor.StepFailed as failed:
            raise CommandError(f"Cannot write the SQL of {revision}: it failed on a scratch database at the "
                               f"migrations it starts from: {failed.reason}") from failed
        return transcript.statements

    with scratch.scratch_database(url, Console(0)) as scratch_url:
        return database.run(scratch_url, run)


def running_comment(migration: graph.Migration, forward: bool) -> str:
    """The comment Alembic's offline mode writes before a migration's SQL (its ``short_log``)."""
    parents = ", ".join(migration.parents)
    if forward:
        return f"-- Running upgrade {parents} -> {migration.revision}"
    return f"-- Running downgrade {migration.revision} -> {parents}"


class Transcript(Console):
    """The Console ``run_steps`` reports to, which keeps what the run sends to SQLite as the SQL
    sqlmigrate prints: the writes, parameters written in as literals, within their transactions,
    and Alembic's running comment where the step starts (``run_steps`` calls ``step_started``
    just before Alembic runs it). Left out, as Django's sqlmigrate and Alembic's offline mode
    show neither: reads (the table a batch block reflects first, the version table, a
    migration's queries) and manage.py's own records of when migrations ran."""

    def __init__(self, connection, records, comment: str):
        import sqlalchemy as sa

        super().__init__(0)
        self.records, self.comment, self.statements, self.comment_due = records, comment, [], False
        sa.event.listen(connection, "after_cursor_execute", self.executed)
        sa.event.listen(connection, "commit", self.committed)

    def step_started(self, name: str, forward: bool) -> None:
        """The comment goes after the BEGIN of the step's transaction, as in Alembic's offline
        mode: Alembic's read of the version table has begun it, or the step's first statement will."""
        if self.statements[-1:] == ["BEGIN;"]:
            self.statements.append(self.comment)
        else:
            self.comment_due = True

    def executed(self, connection, cursor, statement: str, parameters, context, executemany: bool) -> None:
        words = statement.lstrip().upper()
        if words.startswith("BEGIN"):
            self.began()
        elif not (cursor.description is not None and words.startswith(("SELECT", "PRAGMA"))) \
                and not self.is_record(context):
            for row in parameters if executemany else [parameters]:
                self.statements.append(with_literals(statement, row).replace("\t", "    ").strip() + ";")

    def began(self) -> None:
        """migrate's BEGIN IMMEDIATE, written BEGIN as every backend's output says it."""
        self.statements.append("BEGIN;")
        if self.comment_due:
            self.statements.append(self.comment)
            self.comment_due = False

    def committed(self, connection) -> None:
        """COMMIT, or nothing for a transaction with nothing to show (only reads and records)."""
        if self.statements[-1:] == ["BEGIN;"]:
            self.statements.pop()
        else:
            self.statements.append("COMMIT;")

    def is_record(self, context) -> bool:
        """Whether a statement creates or writes manage.py's history or unfinished table."""
        statement = getattr(context.compiled, "statement", None)
        subject = getattr(statement, "table", getattr(statement, "element", None))  # DML's table, DDL's element
        return any(subject is table for table in (self.records.history, self.records.unfinished_table))


def with_literals(statement: str, parameters) -> str:
    """The statement with its qmark parameters written in, as Django's sqlmigrate shows them."""
    if not parameters:
        return statement
    values = iter(parameters)
    return PLACEHOLDER_OR_QUOTED.sub(lambda found: literal(next(values)) if found.group() == "?" else found.group(),
                                     statement)


def literal(value) -> str:
    """A parameter as SQLite reads it in SQL. Past SQLAlchemy's bind processing (dates,
    booleans, decimals) a value is None, a number, text or bytes."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


# A range: what migrate writes, for a DBA to run


NOT_ATOMIC = ("-- {revision} is not atomic (atomic = False, or an autocommit block): it commits as it goes, so this "
              "script cannot run in one transaction (psql -1).")


def sqlmigrate_range(settings: Settings, app: str | None, start: str, end: str, backwards: bool = False,
                     single_transaction: bool = False) -> None:
    """Liquibase's ``update-sql``: the SQL that takes a database from ``start`` to ``end`` (from
    ``end`` back to ``start`` with ``backwards``) as ``migrate`` takes it there, records included
    (see ``write_range``), from Alembic's offline mode. PostgreSQL and MariaDB only: on SQLite a
    migration's SQL depends on the tables it reads as it runs (see the module's docstring)."""
    from manage_migrations import database

    migrations = migrations_of(settings)
    app, _ = app_and_target(migrations, app, None, settings.app_labels)
    states = [graph.resolve(name, migrations, (), app)[0] for name in (start, end)]
    before, after = reversed(states) if backwards else states
    steps = graph.plan(migrations, before, after, app)
    url = database.database_url(settings)
    if url.get_backend_name() == "sqlite":
        raise CommandError("The SQL of a range of migrations is written for PostgreSQL and MariaDB; on SQLite, "
                           "ask for one migration at a time ('python manage.py sqlmigrate NAME').")
    if not steps:
        raise CommandError(f"No migration runs from {', '.join(before) or 'zero'} to {', '.join(after) or 'zero'}.")
    not_atomic = [revision for revision, _ in steps if source.non_atomic(next(m.path for m in migrations
                                                                            if m.revision == revision))]
    if single_transaction and not_atomic:
        raise CommandError(f"{not_atomic[0]} is not atomic: it commits as it goes, so the range cannot run in one "
                           "transaction; leave out --single-transaction.")
    header = [f"-- What 'python manage.py migrate' runs from {', '.join(before) or 'zero'} to {', '.join(after) or 'zero'}."]
    if url.get_backend_name() == "postgresql":
        header.append("-- Run it in one transaction with: psql -1 -v ON_ERROR_STOP=1 -f FILE" if single_transaction else
                      "-- Each migration commits on its own, as migrate runs them: psql -v ON_ERROR_STOP=1 -f FILE")
    write_range(settings, before, steps, set(not_atomic), single_transaction, header)


def write_range(settings: Settings, before: tuple[str, ...], steps: list[tuple[str, bool]], not_atomic: set[str],
                single_transaction: bool, header: list[str]) -> None:
    """Alembic's offline SQL of the steps, with what ``migrate`` adds around them: first its
    tables (the version table 255 wide, as ``recorder.ensure_version_table`` makes or widens
    it; the history table), then each migration in its transaction (none with
    ``single_transaction``, for ``psql -1``) with its history row written beside Alembic's
    version row, as ``executor.recorded`` writes it."""
    import sqlalchemy as sa
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationStep

    from manage_migrations import recorder
    from manage_migrations.migrations import alembic_config, alembic_logs, load_scripts, project_environment

    scripts, records = load_scripts(settings), recorder.of(settings)

    def alembic_steps(heads, context):
        # MigrationContext._version (private) is the table Alembic's offline mode creates (32
        # wide) and writes: migrate's own, 255 wide, in its place.
        context._version = CreatedIfMissing(records.version)
        context.impl.static_output("\n".join(header))
        write = (lambda statement: context.execute(sa.text(str(statement.compile(
            dialect=context.dialect, compile_kwargs={"literal_binds": True})))))
        if heads:  # made by Alembic or an older manage.py: widened (a no-op where it is 255 already)
            Operations(context).alter_column(records.version.name, "version_num", schema=records.schema,
                                             type_=sa.String(recorder.VERSION_LENGTH), existing_nullable=False)
        context.execute(sa.schema.CreateTable(records.history, if_not_exists=True))
        if not_atomic or not recorder.rolls_back_ddl(context):  # migrate's record of a migration under way
            context.execute(sa.schema.CreateTable(records.unfinished_table, if_not_exists=True))
        applying = [revision for revision, forward in steps if forward]
        if applying:  # rows the plain alembic command left behind for what it unapplied
            write(records.history.delete().where(records.history.c.revision.in_(applying)))
        for revision, forward in steps:
            script = scripts.get_revision(revision)
            if revision in not_atomic:
                context.impl.static_output(NOT_ATOMIC.format(revision=revision))
            step = (MigrationStep.upgrade_from_script if forward else MigrationStep.downgrade_from_script)(
                scripts.revision_map, script)
            step.migration_fn = with_history_row(step.migration_fn, write, records, revision, forward, script.path)
            yield step

    offline = dict(as_sql=True, starting_rev=before or None, destination_rev=steps[-1][0])
    if single_transaction:
        offline["transactional_ddl"] = False  # no BEGIN and COMMIT of Alembic's: psql -1 gives the one
    with project_environment(alembic_config(settings, models=False), scripts, fn=alembic_steps, **offline), \
            alembic_logs():
        scripts.run_env()


class CreatedIfMissing:
    """The version table, which Alembic's offline mode creates before the first migration from
    zero: created IF NOT EXISTS, as a database taken back to zero keeps it, empty."""

    def __init__(self, table):
        self.table = table

    def __getattr__(self, name: str):
        return getattr(self.table, name)

    def create(self, bind, checkfirst: bool = False) -> None:
        import sqlalchemy as sa

        bind.execute(sa.schema.CreateTable(self.table, if_not_exists=True))


def with_history_row(migration_fn, write, records, revision: str, forward: bool, path: str):
    """The migration's SQL, then its history row (the insert or delete of ``recorder.record_step``
    without a guard), dated when the script runs. Under the migration's own name, which Alembic's running comment shows."""
    import functools

    import sqlalchemy as sa

    from manage_migrations.loader import checksum
    from manage_migrations.recorder import CHECKSUM

    @functools.wraps(migration_fn)
    def run(**kw):
        migration_fn(**kw)
        history = records.history
        if forward:
            write(history.insert().values({"revision": revision, "applied": sa.func.current_timestamp(),
                                           CHECKSUM: checksum(path)}))
        else:
            write(history.delete().where(history.c.revision == revision))

    return run
