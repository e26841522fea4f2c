"""Connections to the configured database: URLs, engines, and the one-line errors when any of it
fails (what is recorded there is in ``recorder``, scratch databases in ``scratch``).

Only commands that touch the database import this module (it imports SQLAlchemy). The
work of a command is a function of one synchronous Connection; ``run`` hands it one, also
for async drivers (through ``run_sync``), so env.py and the migrations never see the difference.
"""
import importlib.util
import re
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from manage_migrations import signals
from manage_migrations.output import CommandError
from manage_migrations.conf import CONNECT_TIMEOUT, KEEPALIVES, Settings

# The schemes DATABASE_URL may name (each with any driver SQLAlchemy has for it).
BACKENDS = {"sqlite", "postgresql", "postgres", "mysql", "mariadb"}


def database_url(settings: Settings) -> URL:
    """The settings' URL as SQLAlchemy's URL (see ``parse_url``)."""
    return parse_url(settings.database_url, settings.base_dir)


def parse_url(text: str, base_dir: Path, setting: str = "DATABASE_URL") -> URL:
    """A database URL as SQLAlchemy's URL: ``postgres://`` as ``postgresql://``, a bare
    ``postgresql://`` on psycopg 3 when installed and psycopg2 otherwise, a relative SQLite
    path relative to the project. An explicit ``+driver`` is kept as given. ``setting`` is
    where it was given, for the errors."""
    if text.partition("://")[2].split("/", 1)[0].count("@") > 1:  # before parsing: it misreads them
        raise CommandError(f"The password in {setting} holds a raw '@': URL-encode it (%40), "
                           "and a ':' as %3A.")
    try:
        url = make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise CommandError(f"{setting} is not a database URL of the form dialect://user@host/name.") from None
    backend = url.get_backend_name()
    if backend not in BACKENDS:
        raise CommandError(f"Unknown database driver '{backend}' in {setting}: use one of "
                           f"{', '.join(f'{name}://' for name in sorted(BACKENDS))}.")
    if backend == "postgres":
        backend = "postgresql"
        url = url.set(drivername="postgresql" + (f"+{url.get_driver_name()}" if "+" in url.drivername else ""))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg" if importlib.util.find_spec("psycopg") else "postgresql+psycopg2")
    if url.drivername in ("mysql", "mariadb") and not importlib.util.find_spec("MySQLdb"):
        url = url.set(drivername=f"{url.drivername}+pymysql")
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_absolute():
            url = url.set(database=str(base_dir / url.database))
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


def is_async(url: URL) -> bool:
    return url.get_dialect().is_async


# The blocking driver for each asyncio one, for what needs a plain Session (the shell).
SYNC_DRIVERS = {"asyncpg": "psycopg2", "psycopg_async": "psycopg", "aiosqlite": "pysqlite", "aiomysql": "pymysql",
                "asyncmy": "pymysql"}


def blocking(url: URL) -> URL:
    """The same database through a blocking driver (``postgresql+asyncpg`` as psycopg2's)."""
    driver = SYNC_DRIVERS.get(url.get_driver_name())
    return url.set(drivername=f"{url.get_backend_name()}+{driver}") if driver and is_async(url) else url


def create_engine(url: URL, **options):
    """An engine for one command: no pool, a connect timeout, and real transactions on SQLite."""
    connect_args = {}
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        connect_args = {"timeout": CONNECT_TIMEOUT} if driver == "asyncpg" else {"connect_timeout": CONNECT_TIMEOUT}
    if backend == "postgresql" and driver != "asyncpg":
        # A server or route that goes dark mid-run is noticed within about a minute, not when the
        # system's TCP timers give up (hours); the URL's own settings win.
        connect_args.update({name: value for name, value in KEEPALIVES.items() if name not in url.query})
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": CONNECT_TIMEOUT}
        if driver == "pymysql":  # its connect_timeout ends once TCP connects: the greeting needs one too
            connect_args["read_timeout"] = CONNECT_TIMEOUT
    if driver == "asyncpg":
        # Behind a pooler in transaction mode a statement may reach a server connection another
        # client prepared statements on: none kept, and each named uniquely (SQLAlchemy's recipe).
        import uuid

        connect_args["prepared_statement_name_func"] = lambda: f"__manage_{uuid.uuid4().hex}__"
        url = url.update_query_dict({"prepared_statement_cache_size": "0"})
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
            keep_alive(dbapi_connection._sock)  # PyMySQL has no option for it; libpq's, for the same reason
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


def keep_alive(sock) -> None:
    """libpq's ``KEEPALIVES`` on a socket of our own driver's: a server or route gone dark
    mid-run is noticed within about a minute."""
    import socket

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, name in (("TCP_KEEPIDLE", "keepalives_idle"), ("TCP_KEEPINTVL", "keepalives_interval"),
                         ("TCP_KEEPCNT", "keepalives_count")):
        if hasattr(socket, option):  # Linux's names; macOS has only some
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), KEEPALIVES[name])


def statement_stopper(engine: sa.Engine, dbapi_connection):
    """What stops the statement ``dbapi_connection`` runs, called from another thread:
    ``sqlite3_interrupt``, or a second connection that stops it on the server, as the mysql
    client does on Ctrl-C: ``KILL QUERY`` (MariaDB), ``pg_cancel_backend`` (PostgreSQL). Not
    libpq's own cancel request: the drivers send it holding Python's lock, so a server that does
    not answer would stop every thread of the process; a connection waits at most its connect
    timeout, and lets the others run meanwhile."""
    if hasattr(dbapi_connection, "interrupt"):  # sqlite3
        return dbapi_connection.interrupt
    if hasattr(dbapi_connection, "thread_id"):  # PyMySQL, mysqlclient
        stop = sa.text(f"KILL QUERY {int(dbapi_connection.thread_id())}")
    elif hasattr(dbapi_connection, "get_backend_pid") or hasattr(getattr(dbapi_connection, "info", None),
                                                                 "backend_pid"):  # psycopg2, psycopg
        pid = server_pid(dbapi_connection)
        if pid is None:
            return None
        stop = sa.text(f"SELECT pg_cancel_backend({pid})")
    else:
        return None

    def stop_on_the_server():
        with engine.connect() as other:
            other.execute(stop)

    return stop_on_the_server


def server_pid(dbapi_connection) -> int | None:
    """The server process of a PostgreSQL connection; None behind a pooler, whose connections
    name a process of their own (cancelling that number would cancel some other session's
    statement, or nothing)."""
    named = (dbapi_connection.get_backend_pid() if hasattr(dbapi_connection, "get_backend_pid")
             else dbapi_connection.info.backend_pid)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT pg_backend_pid()")
        real = cursor.fetchone()[0]
    finally:
        cursor.close()
        dbapi_connection.rollback()
    return int(real) if real == named else None


def transactional_ddl(engine: sa.Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions, so that DDL is inside them
    too and a failed migration rolls back whole (the recipe from SQLAlchemy's SQLite docs)."""

    @event.listens_for(engine, "connect")
    def no_implicit_transactions(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get(WRITES) else "BEGIN")


WRITES = "manage_migrations.writes"  # connection.info: this SQLite connection's transactions write


def writing(connection: sa.Connection) -> None:
    """From here on, each SQLite transaction of ``connection`` takes the write lock as it begins
    (``BEGIN IMMEDIATE``). A deferred one reads first, and its first write beside an application
    that holds the lock is refused at once; an immediate one waits for it (the busy timeout),
    and a wait that runs out is retried as any lock wait is."""
    if connection.dialect.name == "sqlite":
        connection.info[WRITES] = True


def run(url: URL, work, **engine_options):
    """Call ``work(connection)`` with one connection to ``url`` and return what it returns. An
    error of SQLite's names the file, which its own words do not (a read-only or locked file)."""
    engine = create_engine(url, **engine_options)
    if is_async(url):
        import asyncio  # only for async drivers: its import costs every other command's start

        return asyncio.run(_run_async(engine, url, work))
    try:
        with _connected(engine, url) as connection:
            return work(connection)
    except sa.exc.DBAPIError as exc:
        if url.get_backend_name() != "sqlite":
            raise
        raise CommandError(f"{one_line(exc)} ({url.database})") from exc
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


class CannotConnect(CommandError):
    """A database that could not be reached: not a failure of what was to run there."""


def cannot_connect(url: URL, exc: BaseException) -> CannotConnect:
    """Host, port and database named; the password never."""
    if isinstance(exc, TimeoutError):  # asyncpg's says nothing more than its type
        return CannotConnect(f"Cannot connect to {where(url)}: no answer within {CONNECT_TIMEOUT} s.")
    return CannotConnect(f"Cannot connect to {where(url)}: {one_line(exc)}")


@contextmanager
def durable_at_end(connection: sa.Connection):
    """On PostgreSQL each migration's commit returns without waiting for the disk (its own
    transaction sets ``synchronous_commit`` off, see ``executor.recorded``: nothing is set on the
    session, which behind a pooler would be another client's); the run waits once, when it ends,
    after a failure too. Every commit is still atomic and in order (a crash can only lose the
    newest, whole), and what migrate reports is on disk when it does."""
    try:
        yield
    finally:
        if connection.dialect.name == "postgresql":
            connection.rollback()
            connection.exec_driver_sql("SELECT txid_current()")  # a commit that waits for the WAL
            connection.commit()


