"""The record read straight through the database's driver, without SQLAlchemy: what ``migrate``,
``migrate --check`` and ``showmigrations`` need where there is nothing to do (every pod start),
for which importing SQLAlchemy would cost more than everything else they do.

Only for URLs whose connection is opened exactly as SQLAlchemy would open it (plain psycopg2,
psycopg, PyMySQL and sqlite3 URLs, see ``connect_arguments``). For any other URL, and on any
failure, ``read`` returns None and the command takes its SQLAlchemy path, which reads again and
says in one line what is wrong. Nothing here writes.
"""
import importlib
import importlib.util
import os
import re
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

from manage_migrations.conf import CONNECT_TIMEOUT, KEEPALIVES, Settings
from manage_migrations.tables import CHECKSUM, Applied, in_utc, record_tables

FOUND_ROWS = 2  # the MySQL protocol's CLIENT_FOUND_ROWS, which SQLAlchemy sets for PyMySQL
# How long the read here waits behind a lock on the tables before it leaves the read to the
# SQLAlchemy path (which waits tables.READ_LOCK_TIMEOUT, then names who holds it): seconds.
LOCK_GLANCE = 0.1
PYMYSQL_SSL = ("ssl_ca", "ssl_key", "ssl_cert", "ssl_capath", "ssl_cipher")  # text options SQLAlchemy nests as ssl={}

# SQLAlchemy's URL (sqlalchemy/engine/url.py, _parse_url): parsed here by the same rules.
URL_SHAPE = re.compile(r"""
    (?P<name>[\w\+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
""", re.X)


def connect_arguments(url_text: str, base_dir: Path) -> tuple[str, list, dict] | None:
    """The driver's module and the arguments SQLAlchemy would call its ``connect`` with, for the
    URL as ``database.parse_url`` reads it and ``database.create_engine`` opens it; None for
    every URL where that is not certain: other drivers (async ones, mysqlclient), several hosts,
    a query key given twice or not passed on as it is, SQLite's query options, an in-memory or
    missing SQLite file."""
    if url_text.partition("://")[2].split("/", 1)[0].count("@") > 1:  # parse_url refuses it
        return None
    found = URL_SHAPE.match(url_text)
    if found is None:
        return None
    pairs = parse_qsl(found["query"] or "")
    query = dict(pairs)
    if len(query) < len(pairs) or "plugin" in query:  # a repeated key is a list; plugin is SQLAlchemy's
        return None
    user, password, database = (unquote(part) if part is not None else None
                                for part in found.group("username", "password", "database"))
    host, port = found["ipv4host"] or found["ipv6host"], found["port"]
    try:
        port = int(port) if port is not None else None
    except ValueError:  # SQLAlchemy refuses it
        return None
    backend, _, driver = found["name"].partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg", "psycopg2"):
        driver = driver or ("psycopg" if importlib.util.find_spec("psycopg") else "psycopg2")
        return postgresql_arguments(driver, host, port, user, password, database, query)
    if backend in ("mysql", "mariadb") and driver in ("", "pymysql"):
        if not driver and importlib.util.find_spec("MySQLdb"):  # parse_url's choice: mysqlclient
            return None
        return pymysql_arguments(host, port, user, password, database, query)
    if backend == "sqlite" and driver in ("", "pysqlite") and not (user or password or host or port or query) \
            and database not in (None, "", ":memory:"):
        path = os.path.abspath(database if Path(database).is_absolute() else base_dir / database)
        return ("sqlite3", [path], {"check_same_thread": False}) if os.path.isfile(path) else None
    return None


def postgresql_arguments(driver, host, port, user, password, database, query) -> tuple[str, list, dict] | None:
    """psycopg's and psycopg2's: SQLAlchemy's ``create_connect_args`` (the query passed on as
    libpq's options) and create_engine's connect timeout and keepalives, unless the URL gives
    them. One host only: ``?host=`` naming several, or with a port, falls back. (SQLAlchemy also
    gives psycopg a copy of its default adapters, which changes nothing that is read here.)"""
    if "port" in query or any(mark in query.get("host", "") for mark in ",:"):
        return None
    kwargs = {name: value for name, value in (("host", host), ("dbname", database), ("user", user),
                                              ("password", password), ("port", port)) if value}
    args = [] if kwargs or query else [""]  # psycopg2 wants a dsn when given nothing
    kwargs.update(query)
    if "connect_timeout" not in query:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    kwargs.update({name: value for name, value in KEEPALIVES.items() if name not in query})
    return driver, args, kwargs


def pymysql_arguments(host, port, user, password, database, query) -> tuple[str, list, dict] | None:
    """PyMySQL's: SQLAlchemy's ``create_connect_args`` (``charset`` and the SSL files, the only
    query keys passed on here, and its FOUND_ROWS flag) and create_engine's timeouts."""
    if set(query) - {"charset", *PYMYSQL_SSL}:
        return None
    kwargs = {name: value for name, value in (("host", host), ("database", database), ("user", user),
                                              ("password", password), ("port", port)) if value}
    if "charset" in query:
        kwargs["charset"] = query["charset"]
    ssl = {name.removeprefix("ssl_"): query[name] for name in PYMYSQL_SSL if name in query}
    if ssl:
        kwargs["ssl"] = ssl
    kwargs.update(client_flag=FOUND_ROWS, connect_timeout=CONNECT_TIMEOUT, read_timeout=CONNECT_TIMEOUT)
    return "pymysql", [], kwargs


class Record(NamedTuple):
    """What ``read`` found: the heads in the version table and, when asked for, the history."""
    state: tuple[str, ...]
    history: dict[str, Applied]


class Tables(NamedTuple):
    """The names of the version table and of our two beside it."""
    version: str
    history: str
    unfinished: str


def read(settings: Settings, with_history: bool = False) -> Record | None:
    """The record, read through the driver in a few statements, or None where the SQLAlchemy
    path must read it: a URL ``connect_arguments`` leaves to it, a driver not installed, any
    error of the read (a lock held on the tables for more than LOCK_GLANCE too: that path waits
    tables.READ_LOCK_TIMEOUT and names who holds it), no version table yet, or a migration recorded as
    unfinished (which that path tells from one being applied). A server that cannot be reached
    is the same one-line error as that path's, after one connect timeout, not two."""
    found = connect_arguments(settings.database_url, settings.base_dir)
    if found is None or (found[0] == "sqlite3" and settings.version_table_schema):
        return None
    driver, args, kwargs = found
    tables = Tables(settings.version_table, *record_tables(settings.version_table))
    try:
        module = importlib.import_module(driver)
    except ImportError:
        return None
    try:
        connection = module.connect(*args, **kwargs)
    except module.Error as exc:  # the server's refusal, or no answer within the connect timeout
        if driver == "sqlite3":
            return None
        raise cannot_connect(settings, module, exc) from exc
    try:
        cursor = connection.cursor()
        present, with_checksum = PROBES[driver](cursor, tables, settings.version_table_schema)
        if tables.version not in present:
            return None
        mark = "`" if driver == "pymysql" else '"'  # how the backend quotes a name
        cursor.execute(record_statement(tables, present, with_checksum, with_history,
                                        lambda name: quoted(settings.version_table_schema, name, mark)))
        return record_from(cursor.fetchall(), from_text=driver == "sqlite3")
    except Exception:  # noqa: BLE001
        return None
    finally:
        try:
            connection.close()  # the read's transaction ends with it
        except Exception:  # noqa: BLE001 - a connection already gone
            pass


def cannot_connect(settings: Settings, module, exc: Exception) -> Exception:
    """The SQLAlchemy path's error for a server that cannot be reached, word for word (its
    wrapping of the driver's error, its words): SQLAlchemy is imported for it, as that path would."""
    import sqlalchemy as sa

    from manage_migrations import database

    wrapped = sa.exc.DBAPIError.instance(None, None, exc, module.Error)
    return database.cannot_connect(database.database_url(settings), wrapped)


def probe_postgresql(cursor, tables: Tables, schema: str | None) -> tuple[set[str], bool]:
    """Which of the tables exist (in ``schema``, else on the search path) and whether the history
    has its checksum column, in one statement that also sets the transaction's lock_timeout."""
    names = [quoted(schema, name, '"') for name in tables]
    cursor.execute("SELECT set_config('lock_timeout', %s, true), to_regclass(%s), to_regclass(%s), to_regclass(%s), "
                   "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
                   "AND NOT attisdropped)", [f"{round(LOCK_GLANCE * 1000)}ms", *names, names[1], CHECKSUM])
    _, *oids, with_checksum = cursor.fetchone()
    return {name for name, oid in zip(tables, oids) if oid is not None}, with_checksum


def probe_mysql(cursor, tables: Tables, schema: str | None) -> tuple[set[str], bool]:
    """The same from information_schema, in the URL's database unless a schema is named; the
    session's lock_wait_timeout set first (the connection is closed after the read)."""
    cursor.execute("SET SESSION lock_wait_timeout = 0")  # whole seconds only: none at all, LOCK_GLANCE's nearest
    cursor.execute("SELECT table_name, column_name FROM information_schema.columns "
                   "WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name IN (%s, %s, %s)", [schema, *tables])
    columns = cursor.fetchall()
    return {table for table, _ in columns}, (tables.history, CHECKSUM) in columns


def probe_sqlite(cursor, tables: Tables, schema: None) -> tuple[set[str], bool]:
    """The same from sqlite_master (``read`` leaves a schema on SQLite to SQLAlchemy)."""
    cursor.execute(f"PRAGMA busy_timeout = {round(LOCK_GLANCE * 1000)}")
    cursor.execute("SELECT m.name, EXISTS (SELECT 1 FROM pragma_table_info(m.name) AS c WHERE c.name = ?) "
                   "FROM sqlite_master AS m WHERE m.type = 'table' AND m.name IN (?, ?, ?)", [CHECKSUM, *tables])
    found = dict(cursor.fetchall())
    return set(found), bool(found.get(tables.history))


PROBES = {"psycopg2": probe_postgresql, "psycopg": probe_postgresql, "pymysql": probe_mysql, "sqlite3": probe_sqlite}


def quoted(schema: str | None, name: str, mark: str) -> str:
    """A table's name as the backend writes it (``mark`` its quote), in the schema if one is named."""
    return ".".join(mark + part.replace(mark, mark * 2) + mark for part in (schema, name) if part is not None)


def record_statement(tables: Tables, present: set[str], with_checksum: bool, with_history: bool, quote) -> str:
    """One statement for every row wanted, each marked with its table: the heads (``v``), any
    unfinished migration (``u``), and, when asked for, the history (``h``). The history comes
    first: PostgreSQL types a UNION's columns pair by pair, and two NULLs would make text."""
    parts = []
    if with_history and tables.history in present:
        parts.append(f"SELECT 'h', revision, applied, {CHECKSUM if with_checksum else 'NULL'} "
                     f"FROM {quote(tables.history)}")
    parts.append(f"SELECT 'v', version_num, NULL, NULL FROM {quote(tables.version)}")
    if tables.unfinished in present:
        parts.append(f"SELECT 'u', revision, NULL, NULL FROM {quote(tables.unfinished)}")
    return " UNION ALL ".join(parts)


def record_from(rows, from_text: bool) -> Record | None:
    """The rows of ``record_statement`` as a Record; None if a migration is recorded as
    unfinished. SQLite keeps dates as text, which SQLAlchemy reads with ``fromisoformat``."""
    state, history = [], {}
    for table, revision, applied, digest in rows:
        if table == "u":
            return None
        if table == "v":
            state.append(revision)
        else:
            history[revision] = Applied(in_utc(datetime.fromisoformat(applied) if from_text else applied), digest)
    return Record(tuple(state), history)
