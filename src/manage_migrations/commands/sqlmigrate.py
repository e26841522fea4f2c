"""``sqlmigrate``: the SQL of one migration, as Django's prints it.

On PostgreSQL and MariaDB that is Alembic's offline mode. On SQLite a batch migration rebuilds
its table from what it reads of the table first, which offline mode has no database to read; so
there the migration runs on a scratch database at the state it starts from, and what it runs
there is printed. The user's database is never opened.
"""
import re

from manage_migrations import graph
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
