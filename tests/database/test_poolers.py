"""Through PgBouncer, as production runs PostgreSQL: in transaction and in session pooling, four to
eight concurrent deploys apply each migration exactly once, all exit 0, and no lock is left
behind; makemigrations leaves no scratch database. Each test starts a PgBouncer of its own (the
distribution's package, which .ci/run installs) in front of the test's database."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from slow_migrations import REVISIONS, add_slow_migrations, sql

from manage_migrations.lock import LOCK_KEY

REQUIRE = os.environ.get("REQUIRE_DATABASE_SERVERS") == "1"
PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["transaction", "session"])
def pooled_url(request, postgres_url):
    """The test's database through a PgBouncer in the given pool mode, started for the test."""
    if PGBOUNCER is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        pytest.fail(message) if REQUIRE else pytest.skip(message)
    direct = make_url(postgres_url)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text(f'"{direct.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(textwrap.dedent(f"""\
        [databases]
        * = host={direct.host} port={direct.port or 5432}
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = {port}
        unix_socket_dir =
        auth_type = trust
        auth_file = {folder / 'users.txt'}
        pool_mode = {request.param}
        default_pool_size = 10
        max_client_conn = 200
        ignore_startup_parameters = extra_float_digits
        logfile = {folder / 'pgbouncer.log'}
        pidfile = {folder / 'pgbouncer.pid'}
        """))
    run_as = []
    if os.geteuid() == 0:  # PgBouncer will not run as root
        user = pwd.getpwnam("postgres")
        os.chmod(folder, 0o755)
        for path in (folder, *folder.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = ["-u", "postgres"]
    bouncer = subprocess.Popen([PGBOUNCER, *run_as, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    through = direct.set(port=port).render_as_string(hide_password=False)
    deadline = time.monotonic() + 30
    while True:
        try:
            sql(through, "SELECT 1")
            break
        except sa.exc.OperationalError:
            assert time.monotonic() < deadline and bouncer.poll() is None, bouncer.stderr.read() if bouncer.poll() else ""
            time.sleep(0.2)
    try:
        yield through
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("deploys", [4, 8])
def test_concurrent_deploys_through_pgbouncer_run_each_migration_once(project_copy, run_manage, postgres_url,
                                                                        pooled_url, tmp_path, deploys):
    assert run_manage(project_copy, "migrate", database_url=pooled_url).returncode == 0
    sql(postgres_url, "CREATE TABLE runs (revision VARCHAR(100))")
    add_slow_migrations(project_copy, "SELECT pg_sleep(0.5)")
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": pooled_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    processes = [subprocess.Popen([sys.executable, str(project_copy / "manage.py"), "migrate"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(deploys)]
    results = [(process.wait(timeout=300), *process.communicate()) for process in processes]

    assert [code for code, _, _ in results] == [0] * deploys, [err for _, _, err in results]
    assert sorted(row[0] for row in sql(postgres_url, "SELECT revision FROM runs")) == REVISIONS  # each once
    assert sql(postgres_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]
    left = sql(postgres_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :low AND "
                             "database = (SELECT oid FROM pg_database WHERE datname = current_database())",
               low=LOCK_KEY & 0xFFFFFFFF)
    assert left == [(0,)]
    # And the next deploy, through the same pooled server connections, is not kept waiting.
    again = run_manage(project_copy, "migrate", "--lock-timeout", "5", database_url=pooled_url)
    assert (again.returncode, again.stdout.splitlines()[-1]) == (0, "  No migrations to apply."), again.stderr


def test_makemigrations_through_pgbouncer_leaves_no_scratch_database(project_copy, run_manage, postgres_url,
                                                                      pooled_url):
    assert run_manage(project_copy, "migrate", database_url=pooled_url).returncode == 0
    hotels = project_copy / "project" / "models" / "hotels.py"
    hotels.write_text(hotels.read_text() + "    stars: Mapped[int | None] = mapped_column()\n")
    scratch = r"SELECT datname FROM pg_database WHERE datname LIKE 'manage\_scratch\_%'"
    before = set(sql(postgres_url, scratch))  # another run on this server may have one of its own

    made = run_manage(project_copy, "makemigrations", database_url=pooled_url)

    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[1].endswith("0005_hotels_stars.py")
    assert set(sql(postgres_url, scratch)) <= before


def test_asyncpg_through_pgbouncer(project_copy, run_manage, postgres_url, pooled_url):
    """asyncpg prepares statements; behind a pooler in transaction mode they would meet another
    client's on a shared server connection. None are kept, and each is named uniquely."""
    url = make_url(pooled_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    for _ in range(2):  # the second run meets the server connections the first one used
        migrated = run_manage(project_copy, "migrate", database_url=url)
        assert migrated.returncode == 0, migrated.stderr
        shown = run_manage(project_copy, "showmigrations", database_url=url)
        assert (shown.returncode, shown.stdout.splitlines()[-1]) == (0, " [X] 0004_make_email_unique"), shown.stderr
    assert run_manage(project_copy, "migrate", "zero", database_url=url).returncode == 0
    assert sql(postgres_url, "SELECT count(*) FROM alembic_version") == [(0,)]


def test_sigterm_through_pgbouncer_ends_the_run_and_the_migration_is_rolled_back(project_copy, run_manage,
                                                                                 postgres_url, pooled_url, tmp_path):
    """Through a pooler the statement is not cancelled (the process it names is not the
    server's), so the run ends after its grace, and the server rolls the migration back."""
    assert run_manage(project_copy, "migrate", database_url=pooled_url).returncode == 0
    add_slow_migrations(project_copy, "SELECT pg_sleep(6)", ["0005_slow"])
    sql(postgres_url, "CREATE TABLE runs (revision VARCHAR(100))")
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": pooled_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    migrate = subprocess.Popen([sys.executable, str(project_copy / "manage.py"), "migrate"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(6)%'"
    deadline = time.monotonic() + 30
    while not sql(postgres_url, sleeping)[0][0]:
        assert time.monotonic() < deadline and migrate.poll() is None
        time.sleep(0.1)
    started = time.monotonic()
    migrate.send_signal(signal.SIGTERM)
    _, err = migrate.communicate(timeout=60)

    assert migrate.returncode == 143, err
    assert time.monotonic() - started < 15
    assert err.splitlines()[-1].startswith("Interrupted while applying 0005_slow: ")
    while sql(postgres_url, sleeping)[0][0]:
        assert time.monotonic() < deadline + 30
        time.sleep(0.2)
    assert sql(postgres_url, "SELECT version_num FROM alembic_version") == [("0004_make_email_unique",)]
    assert sql(postgres_url, "SELECT count(*) FROM runs") == [(0,)]
