"""The deploy lock: app instances started together migrate one after another."""
import fcntl
import time
from contextlib import contextmanager

import sqlalchemy as sa

from manage_migrations.output import CommandError, Console

# The name of the deploy lock: a PostgreSQL advisory lock key and a MariaDB GET_LOCK name.
LOCK_KEY = 0x6D616E6167652E70  # "manage.p"
# Taken by each migration's own transaction on PostgreSQL, where it checks that no one else ran it.
STEP_KEY = LOCK_KEY + 1
LOCK_NAME = "manage.py migrate"
# How long a lock that answered is taken to be held still: a migration's own check stops a
# double run meanwhile, so the lock's connection need not be asked before every migration.
CHECK_AFTER = 1.0  # seconds


@contextmanager
def deploy_lock(connection: sa.Connection, timeout: float, console: Console):
    """Hold the deploy lock while migrating, so that app instances started together migrate
    one after another; waits up to ``timeout``. Yields the ``DeployLock``, whose ``check`` the
    executor calls before each migration."""
    held = DeployLock(connection, timeout, console)
    held.take()
    try:
        yield held
    finally:
        held.release()


class DeployLock:
    """The deploy lock. On PostgreSQL, an advisory lock of a transaction that a connection of its
    own keeps open for the run (a transaction stays on one server connection, also behind a
    pooler in transaction mode, and the lock ends with it, the process's death included); one
    whose connection an idle timeout, a pooler or a firewall closed is noticed before the first
    migration that starts CHECK_AFTER seconds after it last answered, and taken again (each
    migration also checks, in its own transaction, that no one else has run it). On MariaDB, a
    ``GET_LOCK`` of the migrating connection itself, which outlives its transactions: it is
    never idle while the run goes on, and it cannot be lost without the migration being stopped
    with it, so another migrate never gets in while a migration is half-way. On SQLite, an
    exclusive lock on the file."""

    def __init__(self, connection: sa.Connection, timeout: float, console: Console):
        self.connection, self.engine, self.backend = connection, connection.engine, connection.dialect.name
        self.name, self.timeout, self.console = lock_name(connection), timeout, console
        self.holder = self.file = None
        self.answered = 0.0  # when the lock's connection last said it holds the lock (time.monotonic)
        self.named = False  # MariaDB's lock, taken on the migrating connection

    def take(self) -> None:
        if self.backend == "sqlite":
            path = self.engine.url.database
            if path not in (None, "", ":memory:"):
                self.file = open(path, "rb")
                _wait_for(lambda: _try_flock(self.file), self.timeout, self.console)
            return
        if self.backend == "postgresql":
            self.holder = self.engine.connect()
        elif self.backend not in ("mysql", "mariadb"):
            return
        _wait_for(self._try, self.timeout, self.console)

    def _try(self) -> bool:
        if self.backend == "postgresql":
            taken = self.holder.execute(sa.text(f"SELECT pg_try_advisory_xact_lock({LOCK_KEY})")).scalar()
            if not taken:
                self.holder.rollback()
                # The migrating connection waits too: an idle timeout must not close it meanwhile.
                self.connection.exec_driver_sql("SELECT 1")
        else:
            taken = self.named = bool(self.connection.execute(sa.text("SELECT GET_LOCK(:name, 0)"), self.name).scalar())
        self.connection.rollback()
        self.answered = time.monotonic()
        return bool(taken)

    def check(self, always: bool = False) -> None:
        """Before a migration: the lock is still ours, or it is taken again (waiting as at the
        start); asked once CHECK_AFTER seconds have passed since it last answered, or
        ``always``. MariaDB's is held while the migrating connection answers: nothing to check."""
        if self.holder is None or not always and time.monotonic() - self.answered < CHECK_AFTER:
            return
        try:
            self.holder.execute(sa.text("SELECT 1"))
            self.answered = time.monotonic()
            return
        except sa.exc.DBAPIError:
            pass
        self.console.line("  The deploy lock's connection was closed; taking the lock again.", level=2)
        self._close()
        self.take()

    def release(self) -> None:
        """Let go; a lock whose connection is gone is gone with it, so a failure here is no
        failure (nor is one on a connection a failed migration left unusable: MariaDB lets go
        of its lock when the run closes that connection)."""
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
        if self.named:
            try:
                self.connection.rollback()
                self.connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), self.name)
                self.connection.rollback()
            except sa.exc.SQLAlchemyError:
                pass
        self._close()

    def _close(self) -> None:
        if self.holder is not None:
            try:
                self.holder.close()  # the rollback that ends the lock's transaction
            except sa.exc.DBAPIError:
                pass
            self.holder = None


def lock_name(connection: sa.Connection) -> dict:
    """PostgreSQL's advisory locks belong to one database; MariaDB's named locks to the whole
    server, so its name carries the database's (at most 64 characters): two databases on one
    server do not wait for each other."""
    return {"name": f"{LOCK_NAME} {connection.engine.url.database}"[:64]}


def held_elsewhere(connection: sa.Connection) -> bool:
    """Whether another migrate holds the deploy lock now, asked without waiting for it: the
    readers that take no lock (showmigrations, migrate --check) tell a migration being applied
    from one that did not finish."""
    if connection.dialect.name == "postgresql":
        holder = connection.execute(sa.text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = :high "
            "AND objid = :low AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}).first()
    elif connection.dialect.name in ("mysql", "mariadb"):
        holder = connection.execute(sa.text("SELECT IS_USED_LOCK(:name)"), lock_name(connection)).scalar()
    else:
        return False
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
