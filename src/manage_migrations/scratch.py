"""Scratch databases: empty databases of the same kind as the user's, which ``makemigrations``
brings to head to learn the schema the migrations produce, and then tries a new migration on.

On PostgreSQL and MariaDB a scratch database lives on the user's server for one run; SQLite's is
a file, kept in the user's cache for the next run as long as nothing it depends on changes.
"""
import asyncio
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from manage_migrations import graph, loader, recorder
from manage_migrations.database import cannot_connect, create_engine, is_async, one_line, where
from manage_migrations.output import CommandError, Console
from manage_migrations.conf import Settings


@contextmanager
def scratch_database(url: URL, console: Console, cache: Path | None = None):
    """An empty database of the same kind as ``url``, thrown away afterwards: what
    ``makemigrations`` brings to head to learn the schema the migrations produce.
    Yields its URL, or None when the server will not let this user create one.

    On a server it is named ``manage_scratch_<16 hex>`` and its run holds its lock (see
    ``_scratch_lock``) on one connection from before CREATE until after DROP DATABASE, so that
    one a killed run left behind is recognisable by name and by its free lock, and a later run
    drops it (``_drop_leftovers``).

    For SQLite, ``cache`` names a file to keep for next time once it is at head: the caller
    keys it by the migration files' content, so a kept file is always at the current head."""
    if url.get_backend_name() == "sqlite":
        if cache is not None and cache.exists():
            yield url.set(database=str(cache))
            return
        with tempfile.TemporaryDirectory(prefix="makemigrations-") as folder:
            scratch = Path(folder) / "scratch.sqlite3"
            yield url.set(database=str(scratch))
            if cache is not None:
                _keep(scratch, cache)
        return
    backend, name = url.get_backend_name(), f"manage_scratch_{uuid.uuid4().hex[:16]}"
    with on_server(url) as sql:
        _drop_leftovers(sql, backend, console)
        take, _ = _scratch_lock(backend, name)  # released as the connection closes, after the DROP
        sql(take)
        try:
            sql(f"CREATE DATABASE {name}")
        except sa.exc.DBAPIError as exc:
            console.line(f"Cannot create a scratch database ({one_line(exc)}); comparing with {where(url)}.")
            yield None
            return
        try:
            yield url.set(database=name)
        finally:
            # Behind a pooler, its idle server connections to the scratch database would keep it:
            # PostgreSQL 13 and later close them (it is ours, and our run is over).
            force = backend == "postgresql" and int(sql("SHOW server_version_num").scalar()) >= 130000
            sql(f"DROP DATABASE {name}{' WITH (FORCE)' if force else ''}")


@contextmanager
def on_server(url: URL):
    """One AUTOCOMMIT connection for CREATE and DROP DATABASE and the scratch databases' locks,
    open for a scratch database's whole life since its lock lives as long as this connection:
    to the server's maintenance database (the user's own may not exist yet), or to the user's
    database when the maintenance one is closed to them. Yields ``sql(statement)``, which
    returns the result. An async driver's connection gets an event loop of its own, idle
    between statements, so that it outlives the ``asyncio.run`` of the work done meanwhile."""
    loop = asyncio.new_event_loop() if is_async(url) else None
    wait = loop.run_until_complete if loop else lambda result: result
    # "" for none on MariaDB: URL.set(database=None) would leave the name as it is.
    maintenance = url.set(database="postgres" if url.get_backend_name() == "postgresql" else "")
    try:
        for target in (maintenance, url):
            engine = create_engine(target, isolation_level="AUTOCOMMIT")
            try:
                connection = wait(engine.connect().start()) if loop else engine.connect()
                break
            except (sa.exc.DBAPIError, OSError) as exc:
                wait(engine.dispose())
                if target is url:
                    raise cannot_connect(url, exc) from exc
        try:
            yield lambda statement: wait(connection.execute(sa.text(statement)))
        finally:
            wait(connection.close())
            wait(engine.dispose())
    finally:
        if loop:
            loop.close()


def _scratch_lock(backend: str, name: str) -> tuple[str, str]:
    """The statements that take (without waiting) and release the lock that says a scratch
    database's run is alive: a MariaDB ``GET_LOCK`` of its name (server-wide), or a PostgreSQL
    session advisory lock keyed by its 16 hex digits as a bigint (per database: owner and
    cleaner both take it on the connection of ``on_server``, so in the same database)."""
    if backend == "postgresql":
        key = int.from_bytes(bytes.fromhex(name[-16:]), "big", signed=True)
        return f"SELECT pg_try_advisory_lock({key})", f"SELECT pg_advisory_unlock({key})"
    return f"SELECT GET_LOCK('{name}', 0)", f"SELECT RELEASE_LOCK('{name}')"


def _drop_leftovers(sql, backend: str, console: Console) -> None:
    """Drop the scratch databases that killed runs left behind: those no session is connected
    to whose lock can be taken, since a live run holds its own and the server frees a dead
    run's with its connection. The sessions are checked first because PostgreSQL's DROP would
    wait 5 s before refusing (it is still refused, without FORCE, when one connects meanwhile)
    and MariaDB's would not refuse at all. Names are checked against the pattern before they go
    into a statement. Cleaning up is a favour: a failure costs a line at verbosity 2, no more."""
    if backend == "postgresql":
        listed = (r"SELECT datname FROM pg_database WHERE datname LIKE 'manage\_scratch\_%' AND datname NOT IN "
                  "(SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)")
    else:
        listed = (r"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'manage\_scratch\_%' "
                  "AND schema_name NOT IN (SELECT db FROM information_schema.processlist WHERE db IS NOT NULL)")
    try:
        if backend != "postgresql":  # a DROP behind another session's open transaction: not for a day
            sql("SET SESSION lock_wait_timeout = 5")
        names = [name for name in sql(listed).scalars() if re.fullmatch("manage_scratch_[0-9a-f]{16}", name)]
    except sa.exc.DBAPIError as exc:
        console.line(f"Cannot list leftover scratch databases: {one_line(exc)}", level=2)
        return
    for name in names:
        take, release = _scratch_lock(backend, name)
        try:
            if sql(take).scalar():
                try:
                    sql(f"DROP DATABASE IF EXISTS {name}")
                finally:
                    sql(release)
        except sa.exc.DBAPIError as exc:
            console.line(f"Cannot drop the leftover scratch database {name}: {one_line(exc)}", level=2)


def _keep(scratch: Path, cache: Path) -> None:
    """Move a scratch database into the cache, replacing those of older migration sets."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("scratch-*.sqlite3"):
            old.unlink(missing_ok=True)
        shutil.move(scratch, cache.with_suffix(".tmp"))
        os.replace(cache.with_suffix(".tmp"), cache)
    except OSError:
        pass  # a cache that cannot be written only costs time


def kept_file(settings: Settings, url, heads: tuple[str, ...]) -> Path | None:
    """Where the SQLite scratch database at ``heads`` is kept: its key covers everything the
    schema it holds depends on (env.py and every migration file by content, Alembic's,
    SQLAlchemy's and SQLite's versions). One that cannot be read, or is not at ``heads``,
    is removed and built again."""
    if settings.cache_dir is None or url.get_backend_name() != "sqlite":
        return None
    import alembic

    versions = f"{alembic.__version__}:{sa.__version__}:{sqlite3.sqlite_version}"
    key = loader.fingerprint(settings.migrations_dir / "env.py", loader.files_of(settings), versions)
    kept = settings.cache_dir / f"scratch-{key}.sqlite3"
    if kept.exists():
        try:
            with closing(sqlite3.connect(f"file:{kept}?mode=ro", uri=True)) as scratch:
                versions = scratch.execute(f'SELECT version_num FROM "{settings.version_table}"')
                usable = {row[0] for row in versions} == set(heads)
        except sqlite3.Error:
            usable = False
        if not usable:
            kept.unlink(missing_ok=True)
    return kept


def migrate_to(settings: Settings, connection, migrations: list[graph.Migration], heads: tuple[str, ...]) -> None:
    """Bring a scratch database to ``heads``. A migration that fails there is named, with the
    likely reason: a scratch database starts empty."""
    from manage_migrations import executor

    if settings.version_table_schema and connection.dialect.name == "postgresql":
        # The schema the project keeps its version table in, which a new database lacks.
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS "
                                   f"{connection.dialect.identifier_preparer.quote_schema(settings.version_table_schema)}")
        connection.commit()
    if connection.dialect.name == "sqlite":
        # A scratch file need not survive a crash: no disk flush at each migration's commit. On
        # the DBAPI connection, since SQLite refuses it inside the transaction SQLAlchemy begins.
        connection.connection.dbapi_connection.cursor().execute("PRAGMA synchronous = OFF")
    steps = graph.plan(migrations, recorder.of(settings).current_state(connection), heads)
    try:
        if steps:  # a kept scratch database is at head already: no migration file is loaded
            executor.run_steps(settings, connection, steps, Console(0))
    except executor.StepFailed as failed:
        raise CommandError(f"While building the scratch database from the migrations, {failed.revision} "
                           f"failed: {failed.reason}. The scratch database starts empty: a data migration "
                           "must not assume rows.") from failed
