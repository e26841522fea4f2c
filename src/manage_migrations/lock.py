"""The deploy lock: app instances started together migrate one after another."""
import fcntl
import time
from contextlib import contextmanager

import sqlalchemy as sa

from manage_migrations.output import CommandError, Console

# The name of the deploy lock: a PostgreSQL advisory lock key and a MariaDB GET_LOCK name.
LOCK_KEY = 0x6D616E6167652E70  # "manage.p"
LOCK_NAME = "manage.py migrate"


@contextmanager
def deploy_lock(connection: sa.Connection, timeout: float, console: Console):
    """Hold the deploy lock while migrating, so that app instances started together migrate
    one after another: a PostgreSQL session advisory lock or a MariaDB ``GET_LOCK`` on a
    connection of its own, or an exclusive lock on the SQLite file. Waits up to ``timeout``."""
    backend = connection.dialect.name
    if backend == "sqlite":
        path = connection.engine.url.database
        if path in (None, "", ":memory:"):
            yield
            return
        with open(path, "rb") as handle:
            _wait_for(lambda: _try_flock(handle), timeout, console)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    name = lock_name(connection)
    if backend == "postgresql":
        take, release = f"SELECT pg_try_advisory_lock({LOCK_KEY})", f"SELECT pg_advisory_unlock({LOCK_KEY})"
    elif backend in ("mysql", "mariadb"):
        take, release = "SELECT GET_LOCK(:name, 0)", "SELECT RELEASE_LOCK(:name)"
    else:
        yield
        return
    with connection.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        _wait_for(lambda: bool(holder.execute(sa.text(take), name).scalar()), timeout, console)
        try:
            yield
        finally:
            holder.execute(sa.text(release), name)


def lock_name(connection: sa.Connection) -> dict:
    """PostgreSQL's advisory locks belong to one database; MariaDB's named locks to the whole
    server, so its name carries the database's (at most 64 characters): two databases on one
    server do not wait for each other."""
    return {"name": f"{LOCK_NAME} {connection.engine.url.database}"[:64]}


def held_elsewhere(connection: sa.Connection) -> bool:
    """Whether another migrate holds the deploy lock now, asked without waiting for it: the
    readers that take no lock (showmigrations, migrate --check) tell a migration being applied
    from one that did not finish. Asked where DDL is not rolled back (MariaDB), where that differs."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return False
    holder = connection.execute(sa.text("SELECT IS_USED_LOCK(:name)"), lock_name(connection)).scalar()
    connection.rollback()
    return holder is not None


def _try_flock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for(take_lock, timeout: float, console: Console) -> None:
    deadline = time.monotonic() + timeout
    waiting = False
    while not take_lock():
        if time.monotonic() >= deadline:
            raise CommandError(f"Another migrate held the deploy lock for over {timeout:g}s; gave up. "
                               "Retry, or raise --lock-timeout.")
        if not waiting:
            console.line("Waiting for another migrate to finish...", level=2)
            waiting = True
        time.sleep(0.2)
