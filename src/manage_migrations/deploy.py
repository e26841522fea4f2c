"""Migrating a database that is in use: the deploy lock, lock waits with retries, and the record
of migrations that did not finish where DDL cannot be rolled back.

``migrate`` uses these around the steps it runs; each is a function of one Connection.
"""
import fcntl
import signal
import time
from contextlib import contextmanager

import sqlalchemy as sa

from manage_migrations import graph, signals
from manage_migrations.database import current_state, lock_holders
from manage_migrations.output import CommandError, Console, Interrupted
from manage_migrations.conf import Settings

# The name of the deploy lock: a PostgreSQL advisory lock key and a MariaDB GET_LOCK name.
LOCK_KEY = 0x6D616E6167652E70  # "manage.p"
LOCK_NAME = "manage.py migrate"


# Migrations started and not finished, on a backend that cannot roll back DDL (MariaDB): each
# row is written and committed before its migration runs, and deleted once it has committed.
UNFINISHED = sa.Table(
    "manage_migrations_unfinished", sa.MetaData(),
    sa.Column("revision", sa.String(255), primary_key=True),
    sa.Column("forward", sa.Boolean, nullable=False),
)


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
    # PostgreSQL's advisory locks belong to one database; MariaDB's named locks to the whole
    # server, so its name carries the database's (at most 64 characters): two databases on one
    # server do not wait for each other.
    name = {"name": f"{LOCK_NAME} {connection.engine.url.database}"[:64]}
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


def rolls_back_ddl(connection: sa.Connection) -> bool:
    """Whether a failed migration leaves nothing of its DDL behind (PostgreSQL, SQLite as we
    run it); MariaDB and MySQL commit each DDL statement as it runs."""
    return connection.dialect.name not in ("mysql", "mariadb")


def unfinished(connection: sa.Connection) -> list[tuple[str, bool]]:
    """The migrations started and not finished, as ``(revision, forward)``; none where DDL rolls back."""
    if rolls_back_ddl(connection) or not sa.inspect(connection).has_table(UNFINISHED.name):
        return []
    rows = [tuple(row) for row in connection.execute(sa.select(UNFINISHED.c.revision, UNFINISHED.c.forward))]
    connection.rollback()
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


def unfinished_error(revision: str, forward: bool, migrations: list[graph.Migration]) -> str:
    """golang-migrate's "dirty" version, named, with the two ways out."""
    parents = next((m.parents for m in migrations if m.revision == revision), ())
    before = ", ".join(parents) or "zero"
    done, undone = (revision, before) if forward else (before, revision)
    what = "Migration" if forward else "Unapplying"
    return (f"{what} {revision} was started and did not finish, and this database cannot roll back what it did: "
            f"if all of it is in, run 'python manage.py fake {done}'; if not, undo what it did and run "
            f"'python manage.py fake {undone}'.")


LOCK_RETRY_DELAYS = (1, 2, 4)  # seconds between the tries of a migration that waited too long for a lock


def run_with_lock_retries(settings: Settings, connection, steps, console: Console, fake: bool,
                          faked: frozenset = frozenset(), scripts=None) -> None:
    """Run the steps; a migration that waits longer than ``settings.table_lock_timeout`` for a
    lock another session holds is rolled back (so it never keeps the queries queued behind it
    waiting longer than that) and tried again after a pause, then given up in one line naming
    the table, who holds it and where the database stands."""
    from manage_migrations.migrations import StepFailed, run_steps

    for delay in (*LOCK_RETRY_DELAYS, None):
        try:
            return run_steps(settings, connection, steps, console, fake=fake, lock_timeout=settings.table_lock_timeout,
                             faked=faked, scripts=scripts)
        except StepFailed as failed:
            if not failed.lock_wait:
                raise
            steps = steps[[revision for revision, _ in steps].index(failed.revision):]
            connection.rollback()
            table = f" on {failed.table}" if failed.table else ""
            holders = lock_holders(connection, failed.table) if failed.table else ""
            if delay is None:
                at = ", ".join(current_state(connection)) or "no migration"
                raise CommandError(f"Migration {failed.revision} waited over {settings.table_lock_timeout:g} s for a "
                                   f"lock{table}{holders}, {len(LOCK_RETRY_DELAYS) + 1} times; gave up. The database "
                                   f"is at {at}.") from failed
            console.line(f"  Waited over {settings.table_lock_timeout:g} s for a lock{table}{holders}; "
                         f"trying again in {delay} s.")
            time.sleep(delay)


def stopped_by(exc: KeyboardInterrupt, connection, migrations: list[graph.Migration]) -> Interrupted:
    """A signal arrived while migrating (while Alembic loaded, or a statement it cancelled
    failed, or between statements): the step's transaction is rolled back where the backend
    can, and the line says where the database stands, read over a new connection if the
    signal left this one mid-statement, with the unfinished migration and its ways out where
    DDL is not rolled back."""

    def standing(conn) -> tuple[str, list]:
        return ", ".join(current_state(conn)) or "no migration", unfinished(conn)

    signals.wait_for_statements_to_stop()
    try:
        connection.rollback()
        at, left = standing(connection)
    except Exception:
        try:
            with connection.engine.connect() as fresh:
                at, left = standing(fresh)
        except Exception:
            at, left = "where the last migration reported OK left it", []
    running = getattr(exc, "running", None)
    doing = f" while {'applying' if running[1] else 'unapplying'} {running[0]}" if running else ""
    message = f"Interrupted{doing}: the database is at {at}."
    for revision, forward in left[:1]:
        message += " " + unfinished_error(revision, forward, migrations)
    return Interrupted(getattr(exc, "signum", None) or Interrupted.received or signal.SIGINT, message)
