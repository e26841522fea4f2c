"""The record of what ran, as Django's ``MigrationRecorder``: Alembic's version table (the heads
applied), the history of when each migration ran, the migrations started and not finished where
DDL cannot be rolled back, and squashed migrations recorded in place of what they replace.

Each is a function of one Connection; nothing here loads Alembic (``migrate`` with nothing to do
reads the version table and stops).
"""
from datetime import datetime, timezone

import sqlalchemy as sa

from manage_migrations import graph
from manage_migrations.database import is_lock_wait, lock_holders
from manage_migrations.output import CommandError, Console

READ_LOCK_TIMEOUT = 5  # seconds a read of alembic_version waits behind another session's lock
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
# When each migration was applied, which alembic_version does not keep (Django's
# django_migrations). manage.py writes it in the same transaction as the version table.
HISTORY = sa.Table(
    "manage_migrations", sa.MetaData(),
    sa.Column("revision", sa.String(255), primary_key=True),
    sa.Column("applied", sa.DateTime(timezone=True), nullable=False),
)


def current_state(connection: sa.Connection) -> tuple[str, ...]:
    """The heads recorded in ``alembic_version``, read without loading Alembic; the read
    transaction is closed so that each migration can run in a transaction of its own.

    The read waits at most READ_LOCK_TIMEOUT seconds behind another session's lock on the table
    (a readiness probe must answer, not hang), then stops in one line naming who holds it."""
    state, backend = (), connection.dialect.name
    try:
        if backend == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{READ_LOCK_TIMEOUT}s'")
        elif backend in ("mysql", "mariadb"):
            connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {READ_LOCK_TIMEOUT}")
        if sa.inspect(connection).has_table(VERSION_TABLE):  # SQLite's busy wait (5 s) may end here
            state = tuple(connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    except sa.exc.OperationalError as exc:
        if not is_lock_wait(exc):
            raise
        connection.rollback()
        raise CommandError(f"{VERSION_TABLE} has been locked by another session for over {READ_LOCK_TIMEOUT} s"
                           f"{lock_holders(connection, VERSION_TABLE)}; nothing was done.") from None
    finally:
        if backend in ("mysql", "mariadb"):
            connection.exec_driver_sql("SET SESSION lock_wait_timeout = DEFAULT")
    connection.rollback()
    return state


def read_heads(connection: sa.Connection) -> tuple[str, ...]:
    """The heads in the version table, read inside the caller's transaction (a migration's own)."""
    return tuple(connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def forget_versions(connection: sa.Connection) -> None:
    """Empty ``alembic_version``, as Alembic's ``stamp --purge`` does, in a transaction of its own."""
    connection.execute(sa.text(f"DELETE FROM {VERSION_TABLE}"))
    connection.commit()


def replace_version(connection: sa.Connection, old: str, new: str) -> None:
    """Record ``new`` in ``old``'s place, with today's date in the history, in one transaction."""
    connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = :new WHERE version_num = :old"),
                       {"new": new, "old": old})
    HISTORY.create(connection, checkfirst=True)
    connection.execute(HISTORY.delete().where(HISTORY.c.revision == new))
    connection.execute(HISTORY.insert(), {"revision": new, "applied": datetime.now(timezone.utc)})
    connection.commit()


def prepare(connection: sa.Connection, applying: list[str]) -> None:
    """Before steps run: the version table wide enough, the history table there, and the rows
    the plain alembic command left behind for what it unapplied (and is now applied) gone."""
    ensure_version_table(connection)
    HISTORY.create(connection, checkfirst=True)
    connection.execute(HISTORY.delete().where(HISTORY.c.revision.in_(applying)))
    connection.commit()


def forget_history(connection: sa.Connection, revision: str) -> None:
    connection.execute(HISTORY.delete().where(HISTORY.c.revision == revision))
    connection.commit()


# Django's migration names can be longer than the 32 characters Alembic gives its version column.
VERSION_LENGTH = 255


def ensure_version_table(connection: sa.Connection) -> None:
    """Make ``alembic_version`` (and our history table) hold names of up to 255 characters:
    created so before Alembic would create it with 32, or widened where an older run made it.
    SQLite does not enforce a VARCHAR's length, so only PostgreSQL and MariaDB are altered."""
    inspector = sa.inspect(connection)
    if not inspector.has_table(VERSION_TABLE):
        sa.Table(VERSION_TABLE, sa.MetaData(),
                 sa.Column("version_num", sa.String(VERSION_LENGTH), nullable=False),
                 sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc")).create(connection)
    if connection.dialect.name == "sqlite":
        return
    for table, column in ((VERSION_TABLE, "version_num"), (HISTORY.name, "revision")):
        if inspector.has_table(table):
            length = next(c["type"].length for c in inspector.get_columns(table) if c["name"] == column)
            if length is not None and length < VERSION_LENGTH:
                from alembic.operations import Operations  # env.py calls this: Alembic is loaded
                from alembic.runtime.migration import MigrationContext

                Operations(MigrationContext.configure(connection)).alter_column(
                    table, column, type_=sa.String(VERSION_LENGTH), existing_type=sa.String(length),
                    existing_nullable=False)


def applied_dates(connection: sa.Connection) -> dict:
    """When each applied migration ran, as far as manage.py recorded it."""
    dates = {}
    if sa.inspect(connection).has_table(HISTORY.name):
        for revision, applied in connection.execute(sa.select(HISTORY.c.revision, HISTORY.c.applied)):
            # In UTC, as Django shows them, whatever the session's time zone (SQLite keeps UTC).
            dates[revision] = applied.astimezone(timezone.utc) if applied.tzinfo else applied
    connection.rollback()
    return dates


# Migrations started and not finished, on a backend that cannot roll back DDL (MariaDB): each
# row is written and committed before its migration runs, and deleted once it has committed.
UNFINISHED = sa.Table(
    "manage_migrations_unfinished", sa.MetaData(),
    sa.Column("revision", sa.String(255), primary_key=True),
    sa.Column("forward", sa.Boolean, nullable=False),
)


def rolls_back_ddl(connection: sa.Connection) -> bool:
    """Whether a failed migration leaves nothing of its DDL behind (PostgreSQL, SQLite as we
    run it); MariaDB and MySQL commit each DDL statement as it runs."""
    return connection.dialect.name not in ("mysql", "mariadb")


def unfinished(connection: sa.Connection) -> list[tuple[str, bool]]:
    """The migrations started and not finished, as ``(revision, forward)``: where DDL is not
    rolled back (MariaDB), and, on every backend, migrations that are not atomic."""
    rows = []
    if sa.inspect(connection).has_table(UNFINISHED.name):
        rows = [tuple(row) for row in connection.execute(sa.select(UNFINISHED.c.revision, UNFINISHED.c.forward))]
    connection.rollback()  # no read transaction left open: SQLite's would refuse the migration's writes
    return rows


def mark_unfinished(connection: sa.Connection, revision: str, forward: bool | None) -> None:
    """Record (``forward`` True or False) or clear (None) a migration as started, and commit.
    A record left by a try that waited too long for a lock is replaced by the next try's."""
    if forward is not None:
        UNFINISHED.create(connection, checkfirst=True)
    connection.execute(UNFINISHED.delete().where(UNFINISHED.c.revision == revision))
    if forward is not None:
        connection.execute(UNFINISHED.insert(), {"revision": revision, "forward": forward})
    connection.commit()


def forget_unfinished(connection: sa.Connection) -> None:
    connection.execute(UNFINISHED.delete())
    connection.commit()


def unfinished_error(revision: str, forward: bool, migrations: list[graph.Migration], rolls_back: bool = False) -> str:
    """golang-migrate's "dirty" version, named, with the two ways out. Where the database rolls
    DDL back (``rolls_back``), only a migration that is not atomic leaves one."""
    parents = next((m.parents for m in migrations if m.revision == revision), ())
    before = ", ".join(parents) or "zero"
    done, undone = (revision, before) if forward else (before, revision)
    what = "Migration" if forward else "Unapplying"
    why = "it is not atomic, so what it did before it stopped stays" if rolls_back else \
        "this database cannot roll back what it did"
    return (f"{what} {revision} was started and did not finish, and {why}: "
            f"if all of it is in, run 'python manage.py fake {done}'; if not, undo what it did and run "
            f"'python manage.py fake {undone}'.")


# The tables manage.py keeps its records in: not models, so autogenerate leaves them alone.
OWN_TABLES = frozenset({HISTORY.name, UNFINISHED.name})


def include_name(name, type_, parent_names) -> bool:
    """Alembic's ``include_name`` hook that leaves manage.py's own tables out of autogenerate."""
    return not (type_ == "table" and name in OWN_TABLES)


def record_squashed(connection, recorded: dict[str, str], console: Console) -> None:
    """Django's ``check_replacements``: a squashed migration recorded in place of the last it replaces."""
    for last, squashed in recorded.items():
        console.line(f"  Recording {squashed} in place of {last}, which it replaces.")
        replace_version(connection, last, squashed)


def being_applied(revision: str) -> str:
    """What a reader that takes no lock says of an unfinished migration another migrate is running."""
    return (f"Migration {revision} is being applied by another migrate, which holds the deploy lock: "
            "look again once it has finished.")


# Built once: SQLAlchemy then compiles each once per run, not once per migration.
RECORD_APPLIED = HISTORY.insert()
RECORD_UNAPPLIED = HISTORY.delete().where(HISTORY.c.revision == sa.bindparam("gone"))


def record_step(connection, revision: str, forward: bool) -> None:
    """A step's row in the history, written in the step's own transaction."""
    if forward:
        connection.execute(RECORD_APPLIED, {"revision": revision, "applied": datetime.now(timezone.utc)})
    else:
        connection.execute(RECORD_UNAPPLIED, {"gone": revision})
