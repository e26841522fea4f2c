"""The deploy lock's connection closed mid-run (killed by an administrator, an idle timeout, a
pooler or a firewall). On PostgreSQL, where the lock has a connection of its own: the run notices
before its next migration and takes the lock again, another migrate that got in meanwhile runs
nothing twice, and every run ends in success. On MariaDB, where the lock is the migrating
connection's own: it is never idle, and it is lost only with the migration it guards, so no
other migrate ever finds a migration half-way that is still running. Through ``python manage.py``."""
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from slow_migrations import REVISIONS, add_slow_migrations, sql

from manage_migrations.lock import LOCK_KEY

SLEEP = {"postgresql": "SELECT pg_sleep(1.5)", "mysql": "SELECT SLEEP(1.5)"}  # the server busy, not idle


def holder(url: str):
    """The id of the connection that holds the deploy lock, or None."""
    if url.startswith("postgresql"):
        rows = sql(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :low AND "
                        "database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                   low=LOCK_KEY & 0xFFFFFFFF)
    else:
        name = f"manage.py migrate {sa.engine.make_url(url).database}"[:64]
        rows = [row for row in sql(url, "SELECT IS_USED_LOCK(:name)", name=name) if row[0] is not None]
    return rows[0][0] if rows else None


def deploy(project, url: str, tmp_path, *args: str) -> subprocess.Popen:
    """``python manage.py migrate ARGS`` started in the background."""
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.Popen([sys.executable, str(project / "manage.py"), "migrate", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)


def test_a_lock_whose_connection_is_killed_mid_run_is_taken_again_and_nothing_runs_twice(project_copy, run_manage,
                                                                                          postgres_url, tmp_path):
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    sql(postgres_url, "CREATE TABLE runs (revision VARCHAR(100))")
    add_slow_migrations(project_copy, SLEEP["postgresql"])

    first = deploy(project_copy, postgres_url, tmp_path, "-v", "2")
    wait_for(lambda: sql(postgres_url, "SELECT * FROM runs"), first)  # the first migration runs, under the lock
    sql(postgres_url, "SELECT pg_terminate_backend(:id)", id=holder(postgres_url))
    second = deploy(project_copy, postgres_url, tmp_path, "-v", "2")  # gets in while the lock is free
    results = [(process.wait(timeout=120), *process.communicate()) for process in (first, second)]

    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert sorted(row[0] for row in sql(postgres_url, "SELECT revision FROM runs")) == REVISIONS  # each once
    assert sql(postgres_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]
    assert holder(postgres_url) is None  # and no lock left behind
    assert "The deploy lock's connection was closed; taking the lock again." in results[0][1]


def test_mariadb_s_lock_is_lost_only_with_the_migration_it_guards(project_copy, run_manage, mariadb_url, tmp_path):
    """Killing the lock's connection stops the migration it is running: the run says so, and the
    next migrate finds that migration unfinished (MariaDB keeps what its DDL did), which it is,
    rather than a migration another run is still applying."""
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    sql(mariadb_url, "CREATE TABLE runs (revision VARCHAR(100))")
    add_slow_migrations(project_copy, SLEEP["mysql"])

    first = deploy(project_copy, mariadb_url, tmp_path)
    unfinished = lambda: sql(mariadb_url, "SELECT revision FROM manage_migrations_unfinished")  # noqa: E731
    wait_for(lambda: sql(mariadb_url, "SHOW TABLES LIKE 'manage_migrations_unfinished'") and unfinished(), first)
    [(running,)] = unfinished()
    sql(mariadb_url, f"KILL {holder(mariadb_url)}")
    code, _, err = first.wait(timeout=60), *first.communicate()

    assert code == 1 and err.startswith(f"CommandError: Migration {running} failed: "), err
    assert holder(mariadb_url) is None
    after = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert after.returncode == 1
    assert after.stderr.startswith(f"CommandError: Migration {running} was started and did not finish, and this "
                                   "database cannot roll back what it did"), after.stderr
    assert running not in [row[0] for row in sql(mariadb_url, "SELECT revision FROM runs")]  # not run twice


def test_mariadb_s_wait_timeout_shorter_than_a_migration_loses_nothing(project_copy, run_manage, mariadb_url,
                                                                       tmp_path):
    """Every session's ``wait_timeout`` at 2 s while each migration runs for 3 s: four concurrent
    deploys run each migration once and all succeed, as the lock is never idle."""
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    sql(mariadb_url, "CREATE TABLE runs (revision VARCHAR(100))")
    add_slow_migrations(project_copy, "SELECT SLEEP(3)")
    url = f"{mariadb_url}?init_command=SET+SESSION+wait_timeout%3D2"

    processes = [deploy(project_copy, url, tmp_path) for _ in range(4)]
    results = [(process.wait(timeout=180), *process.communicate()) for process in processes]

    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    assert sorted(row[0] for row in sql(mariadb_url, "SELECT revision FROM runs")) == REVISIONS
    assert sql(mariadb_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]
    assert holder(mariadb_url) is None


def test_an_idle_timeout_shorter_than_a_migration_loses_nothing(project_copy, run_manage, postgres_url, tmp_path):
    """PostgreSQL's idle timeouts (1 s) close the lock's connection, idle while each migration
    runs; four concurrent deploys still run each migration once and all succeed."""
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    sql(postgres_url, "CREATE TABLE runs (revision VARCHAR(100))")
    database = sa.engine.make_url(postgres_url).database
    for timeout in ("idle_session_timeout", "idle_in_transaction_session_timeout"):
        sql(postgres_url, f"ALTER DATABASE {database} SET {timeout} = '1s'")
    add_slow_migrations(project_copy, SLEEP["postgresql"])
    processes = [deploy(project_copy, postgres_url, tmp_path) for _ in range(4)]
    results = [(process.wait(timeout=180), *process.communicate()) for process in processes]

    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    assert sorted(row[0] for row in sql(postgres_url, "SELECT revision FROM runs")) == REVISIONS
    assert sql(postgres_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]


def test_one_connection_is_enough_on_mariadb(project_copy, run_manage, mariadb_url):
    """A MariaDB account allowed one connection at a time migrates, unapplies and fakes: the
    deploy lock is the migrating connection's own."""
    import uuid

    url = sa.engine.make_url(mariadb_url)
    user = f"one_{uuid.uuid4().hex[:8]}"
    sql(mariadb_url, f"CREATE USER '{user}'@'%' WITH MAX_USER_CONNECTIONS 1")
    try:
        sql(mariadb_url, f"GRANT ALL ON {url.database}.* TO '{user}'@'%'")
        limited = url.set(username=user).render_as_string(hide_password=False)
        for command in (["migrate"], ["migrate", "0002"], ["migrate"], ["fake", "0003"], ["fake", "0004"], ["migrate", "zero"],
                        ["migrate"]):
            result = run_manage(project_copy, *command, database_url=limited)
            assert result.returncode == 0, (command, result.stderr)
        assert sql(mariadb_url, "SELECT version_num FROM alembic_version") == [("0004_make_email_unique",)]
    finally:
        sql(mariadb_url, f"DROP USER '{user}'@'%'")
