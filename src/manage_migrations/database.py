"""Connections to the configured database: URLs, engines, the version table, the deploy lock,
and the one-line errors when any of it fails (scratch databases are in ``manage_migrations.scratch``).

Only commands that touch the database import this module (it imports SQLAlchemy). The
work of a command is a function of one synchronous Connection; ``run`` hands it one, also
for async drivers (through ``run_sync``), so env.py and the migrations never see the difference.
"""
import asyncio
import importlib.util
import os
import re
import shutil
import signal
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from manage_migrations import signals
from manage_migrations.output import CommandError
from manage_migrations.conf import Settings

CONNECT_TIMEOUT = 10
READ_LOCK_TIMEOUT = 5  # seconds a read of alembic_version waits behind another session's lock
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
# When each migration was applied, which alembic_version does not keep (Django's
# django_migrations). manage.py writes it in the same transaction as the version table.
HISTORY = sa.Table(
    "manage_migrations", sa.MetaData(),
    sa.Column("revision", sa.String(255), primary_key=True),
    sa.Column("applied", sa.DateTime(timezone=True), nullable=False),
)
# The schemes DATABASE_URL may name (each with any driver SQLAlchemy has for it).
BACKENDS = {"sqlite", "postgresql", "postgres", "mysql", "mariadb"}


def database_url(settings: Settings) -> URL:
    """The settings' URL as SQLAlchemy's URL: ``postgres://`` as ``postgresql://``, a bare
    ``postgresql://`` on psycopg 3 when installed and psycopg2 otherwise, a relative SQLite
    path relative to the project. An explicit ``+driver`` is kept as given."""
    try:
        url = make_url(settings.database_url)
    except (sa.exc.ArgumentError, ValueError):
        raise CommandError("DATABASE_URL is not a database URL of the form dialect://user@host/name.") from None
    backend = url.get_backend_name()
    if backend not in BACKENDS:
        raise CommandError(f"Unknown database driver '{backend}' in DATABASE_URL: use one of "
                           f"{', '.join(f'{name}://' for name in sorted(BACKENDS))}.")
    if url.host and "@" in url.host:
        raise CommandError("The password in DATABASE_URL holds a raw '@': URL-encode it (%40), "
                           "and a ':' as %3A.")
    if backend == "postgres":
        backend = "postgresql"
        url = url.set(drivername="postgresql" + (f"+{url.get_driver_name()}" if "+" in url.drivername else ""))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg" if importlib.util.find_spec("psycopg") else "postgresql+psycopg2")
    if url.drivername in ("mysql", "mariadb") and not importlib.util.find_spec("MySQLdb"):
        url = url.set(drivername=f"{url.drivername}+pymysql")
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_absolute():
            url = url.set(database=str(settings.base_dir / url.database))
    return url


def where(url: URL) -> str:
    """The database named for a person: never with its password, whether in the user part or
    in the query (``?password=``, ``sslpassword=``, as libpq takes them)."""
    secrets = {key: "***" for key in url.query if "password" in key.lower() or key.lower() in ("pass", "pwd")}
    return url.update_query_dict(secrets).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def one_line(exc: BaseException) -> str:
    """An error in one line: a database's own message without SQLAlchemy's statement and link
    but with its DETAIL and HINT (PostgreSQL's advice, such as the USING a cast needs), any
    other error with its type."""
    if isinstance(exc, sa.exc.DBAPIError):
        message = str(exc.orig).strip()
    else:
        message = f"{type(exc).__name__}: {exc}".strip()
    if not message:
        return type(exc).__name__
    first, *rest = message.splitlines()
    advice = [line.strip() for line in rest if line.startswith(("DETAIL:", "HINT:"))]
    return " ".join([first, *(" ".join(line.split()) for line in advice)])


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


def is_lock_wait(exc: BaseException) -> bool:
    """Whether an error is a wait for a lock that ran out (PostgreSQL, MariaDB, SQLite)."""
    return isinstance(exc, sa.exc.OperationalError) and any(
        words in str(exc.orig) for words in ("lock timeout", "Lock wait timeout", "database is locked"))


def waited_table(exc: BaseException) -> str | None:
    """The table the statement that waited too long was about, read from its SQL."""
    found = re.search(r'\b(?:ALTER TABLE|UPDATE|INTO|FROM|JOIN|DROP TABLE|ON)\s+(?:ONLY\s+|IF EXISTS\s+)?"?([\w.]+)"?',
                      getattr(exc, "statement", None) or "", re.IGNORECASE)
    return found.group(1) if found else None


def lock_holders(connection: sa.Connection, table: str) -> str:
    """`` (held by pid 4242 'billing-worker', for 12 s)``: who holds a lock on ``table``, as far as
    the server tells (PostgreSQL's pg_locks); for SQLite, the file; empty for MariaDB."""
    if connection.dialect.name == "sqlite":
        return f" (in {connection.engine.url.database})"
    if connection.dialect.name != "postgresql":
        return ""
    rows = connection.execute(sa.text(
        "SELECT a.pid, a.application_name, EXTRACT(EPOCH FROM now() - a.xact_start) FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation = to_regclass(:table) AND l.granted "
        "AND a.pid <> pg_backend_pid()"), {"table": table}).all()
    connection.rollback()
    holders = [f"pid {pid}" + (f" '{name}'" if name else "") + (f", for {age:.0f} s" if age is not None else "")
               for pid, name, age in rows]
    return f" (held by {'; '.join(holders)})" if holders else ""


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


def is_async(url: URL) -> bool:
    return url.get_dialect().is_async


def create_engine(url: URL, **options):
    """An engine for one command: no pool, a connect timeout, and real transactions on SQLite."""
    connect_args = {}
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        connect_args = {"timeout": CONNECT_TIMEOUT} if driver == "asyncpg" else {"connect_timeout": CONNECT_TIMEOUT}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": CONNECT_TIMEOUT}
        if driver == "pymysql":  # its connect_timeout ends once TCP connects: the greeting needs one too
            connect_args["read_timeout"] = CONNECT_TIMEOUT
    try:
        if is_async(url):
            from sqlalchemy.ext.asyncio import create_async_engine as factory  # only for async drivers
        else:
            factory = sa.create_engine
        engine = factory(url, poolclass=NullPool, connect_args=connect_args, **options)
    except sa.exc.NoSuchModuleError:
        raise CommandError(f"Unknown database driver '{url.drivername}' in DATABASE_URL.") from None
    except ImportError as exc:
        raise CommandError(f"The driver for '{url.drivername}' is not installed ({exc.name}).") from None
    if backend == "sqlite":
        transactional_ddl(getattr(engine, "sync_engine", engine))
    if "read_timeout" in connect_args:
        @event.listens_for(engine, "connect")
        def statements_may_take_their_time(dbapi_connection, connection_record):
            dbapi_connection._read_timeout = None  # PyMySQL reads it before every packet
    if not is_async(url):  # an async driver waits in Python, where a signal is handled at once
        @event.listens_for(engine, "checkout")
        def stoppable(dbapi_connection, connection_record, connection_proxy):
            stopper = statement_stopper(engine, dbapi_connection)
            if stopper is not None:
                signals.STATEMENT_STOPPERS[connection_record] = stopper

        @event.listens_for(engine, "checkin")
        def returned(dbapi_connection, connection_record):
            signals.STATEMENT_STOPPERS.pop(connection_record, None)
    return engine


def statement_stopper(engine: sa.Engine, dbapi_connection):
    """What stops the statement ``dbapi_connection`` runs, called from another thread: libpq's
    cancel request (psycopg2, psycopg), ``sqlite3_interrupt``, or, for MariaDB, ``KILL QUERY``
    from a second connection, as the mysql client does on Ctrl-C."""
    if hasattr(dbapi_connection, "interrupt"):  # sqlite3
        return dbapi_connection.interrupt
    if hasattr(dbapi_connection, "thread_id"):
        thread_id = dbapi_connection.thread_id()

        def kill_query():
            with engine.connect() as other:
                other.exec_driver_sql(f"KILL QUERY {thread_id}")

        return kill_query
    return getattr(dbapi_connection, "cancel", None)


def transactional_ddl(engine: sa.Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions, so that DDL is inside them
    too and a failed migration rolls back whole (the recipe from SQLAlchemy's SQLite docs)."""

    @event.listens_for(engine, "connect")
    def no_implicit_transactions(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def begin(connection):
        connection.exec_driver_sql("BEGIN")


def run(url: URL, work, **engine_options):
    """Call ``work(connection)`` with one connection to ``url`` and return what it returns."""
    engine = create_engine(url, **engine_options)
    if is_async(url):
        return asyncio.run(_run_async(engine, url, work))
    try:
        with _connected(engine, url) as connection:
            return work(connection)
    finally:
        engine.dispose()


async def _run_async(engine, url: URL, work):
    try:
        connection = engine.connect()
        try:
            await connection.start()
        except (sa.exc.DBAPIError, OSError) as exc:
            raise cannot_connect(url, exc) from exc
        try:
            return await connection.run_sync(work)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


@contextmanager
def _connected(engine: sa.Engine, url: URL):
    try:
        connection = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise cannot_connect(url, exc) from exc
    with connection:
        yield connection


def cannot_connect(url: URL, exc: BaseException) -> CommandError:
    """Host, port and database named; the password never."""
    if isinstance(exc, TimeoutError):  # asyncpg's says nothing more than its type
        return CommandError(f"Cannot connect to {where(url)}: no answer within {CONNECT_TIMEOUT} s.")
    return CommandError(f"Cannot connect to {where(url)}: {one_line(exc)}")


@contextmanager
def durable_at_end(connection: sa.Connection):
    """On PostgreSQL, let each migration's commit return without waiting for the disk, and wait
    once when the run ends, after a failure too. Every commit is still atomic and in order (a
    crash can only lose the newest, whole), and what migrate reports is on disk when it does."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET synchronous_commit TO off")
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.exec_driver_sql("SET synchronous_commit TO on")
        connection.exec_driver_sql("SELECT txid_current()")  # a commit that waits for the WAL
        connection.commit()


def dbshell(url: URL) -> int:
    """Django's dbshell: the database's own client on this database. The password goes to the
    client through its environment (PGPASSWORD, MYSQL_PWD), never on its command line."""
    backend = url.get_backend_name()
    secret = {}
    if backend == "sqlite":
        args = ["sqlite3", url.database or ":memory:"]
    elif backend == "postgresql":
        args = ["psql", *_flags(("-h", url.host), ("-p", url.port), ("-U", url.username)), url.database or "postgres"]
        secret = {"PGPASSWORD": url.password} if url.password else {}
    elif backend in ("mysql", "mariadb"):
        args = ["mysql", *_flags(("-h", url.host), ("-P", url.port), ("-u", url.username)), *([url.database] if url.database else [])]
        secret = {"MYSQL_PWD": url.password} if url.password else {}
    else:
        raise CommandError(f"dbshell does not know the client for {backend}.")
    if shutil.which(args[0]) is None:
        raise CommandError(f"You appear not to have the '{args[0]}' program installed or on your path.")
    # Ctrl-C belongs to the client while it runs (it cancels a query there), as in Django's dbshell.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(args, env={**os.environ, **secret}).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def _flags(*pairs) -> list[str]:
    return [str(part) for flag, value in pairs if value for part in (flag, value)]
