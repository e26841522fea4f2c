"""makemigrations' scratch databases on PostgreSQL and MariaDB: named ``manage_scratch_<hex>``,
and one that a killed run left behind is dropped by a later run, never one whose run is alive
or that a session is connected to. Real servers, each test on a database of its own; every
scratch database a test sees made is dropped at its end, also when it fails."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from manage_migrations import database
from manage_migrations.scratch import _scratch_lock, scratch_database
from manage_migrations.output import Console

REPO = Path(__file__).resolve().parents[2]
# A run that makes a scratch database, says its name and stays alive inside it until killed.
OWNER = textwrap.dedent("""\
    import sys, time
    from sqlalchemy.engine import make_url
    from manage_migrations.scratch import scratch_database
    from manage_migrations.output import Console

    with scratch_database(make_url(sys.argv[1]), Console(0)) as url:
        print(url.database, flush=True)
        time.sleep(300)
    """)


class Server:
    """The server of the test's database seen from its maintenance database, where the runs
    take their locks; it remembers the scratch databases and owner processes to clean up."""

    def __init__(self, url: str, drivername: str | None):
        self.url = make_url(url).set(drivername=drivername) if drivername else make_url(url)
        self.backend = self.url.get_backend_name()
        maintenance = make_url(url).set(database="postgres" if self.backend == "postgresql" else None)
        self.admin = sa.create_engine(maintenance, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.names, self.owners = [], []

    def sql(self, statement: str):
        with self.admin.connect() as connection:
            result = connection.execute(sa.text(statement))
            return result.scalars().all() if result.returns_rows else None

    def scratch_databases(self) -> set:
        if self.backend == "postgresql":
            return set(self.sql(r"SELECT datname FROM pg_database WHERE datname LIKE 'manage\_scratch\_%'"))
        return set(self.sql(r"SHOW DATABASES LIKE 'manage\_scratch\_%'"))

    def lock_is_free(self, name: str) -> bool:
        take, release = _scratch_lock(self.backend, name)
        with self.admin.connect() as connection:
            free = connection.execute(sa.text(take)).scalar()
            if free:
                connection.execute(sa.text(release))
        return bool(free)

    def start_owner(self) -> tuple[subprocess.Popen, str]:
        owner = subprocess.Popen([sys.executable, "-c", OWNER, self.url.render_as_string(hide_password=False)],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.owners.append(owner)
        name = owner.stdout.readline().strip()
        assert name, owner.communicate(timeout=30)
        self.names.append(name)
        return owner, name

    def leftover(self) -> str:
        """A scratch database as a killed run leaves it: no run holds its lock."""
        name = f"manage_scratch_{uuid.uuid4().hex[:16]}"
        self.names.append(name)
        self.sql(f"CREATE DATABASE {name}")
        return name

    @contextmanager
    def session(self, name: str):
        """A plain connection to ``name``, as someone looking into a leftover."""
        engine = sa.create_engine(self.url.set(drivername=self.admin.url.drivername, database=name), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
                yield
        finally:
            engine.dispose()

    def clean_up(self):
        for owner in self.owners:
            if owner.poll() is None:
                owner.kill()
            owner.communicate(timeout=30)
        force = " WITH (FORCE)" if self.backend == "postgresql" else ""
        for name in self.names:
            self.sql(f"DROP DATABASE IF EXISTS {name}{force}")
        self.admin.dispose()


def eventually(condition, timeout: float = 10) -> bool:
    """Whether ``condition()`` comes true within ``timeout``: the server ends a session whose
    client went away a moment after, not at once."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(params=[("postgres_url", None), ("postgres_url", "postgresql+asyncpg"), ("mariadb_url", None)],
                ids=["postgresql", "asyncpg", "mariadb"])
def server(request):
    fixture, drivername = request.param
    if drivername:
        pytest.importorskip(drivername.split("+")[1])
    server = Server(request.getfixturevalue(fixture), drivername)
    try:
        yield server
    finally:
        server.clean_up()


@contextmanager
def scratch(server: Server, console: Console = Console(0)):
    with scratch_database(server.url, console) as url:
        server.names.append(url.database)
        yield url


def test_a_scratch_database_has_a_recognisable_name_and_is_gone_afterwards(server):
    with scratch(server) as url:
        name = url.database
        assert re.fullmatch("manage_scratch_[0-9a-f]{16}", name)
        assert name in server.scratch_databases()
        # Usable, also through asyncio.run with an async driver, and its run holds its lock meanwhile.
        assert database.run(url, lambda connection: connection.exec_driver_sql("SELECT 1").scalar()) == 1
        assert not server.lock_is_free(name)

    assert name not in server.scratch_databases()


def test_a_leftover_of_a_killed_run_is_dropped_by_the_next_run(server):
    owner, leftover = server.start_owner()
    os.kill(owner.pid, signal.SIGKILL)  # no finally, no DROP DATABASE
    owner.wait(timeout=30)
    assert eventually(lambda: server.lock_is_free(leftover))
    assert leftover in server.scratch_databases()

    with scratch(server) as url:
        assert leftover not in server.scratch_databases()
        assert url.database in server.scratch_databases()


def test_a_scratch_database_whose_run_is_alive_is_left_alone(server):
    owner, alive = server.start_owner()

    with scratch(server) as url:
        assert {alive, url.database} <= server.scratch_databases()

    assert alive in server.scratch_databases()
    assert owner.poll() is None  # the server fixture kills it and drops its database


def test_a_leftover_a_session_is_connected_to_is_left_alone_until_it_goes(server, capsys):
    leftover = server.leftover()

    with server.session(leftover):
        started = time.monotonic()
        with scratch(server, Console(2)):
            pass
        assert leftover in server.scratch_databases()

    assert leftover not in capsys.readouterr().out  # not even tried: no error line at -v 2
    assert time.monotonic() - started < 5  # PostgreSQL's DROP would have waited 5 s before refusing

    def dropped_by_a_run():
        with scratch(server):
            return leftover not in server.scratch_databases()

    assert eventually(dropped_by_a_run)  # once the server has ended the session
