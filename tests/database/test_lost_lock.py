"""The deploy lock's own connection closed mid-run (killed by an administrator, an idle timeout,
a pooler or a firewall): the run notices before its next migration and takes the lock again,
another migrate that got in meanwhile runs nothing twice, and every run ends in success.
Through ``python manage.py``, on PostgreSQL and MariaDB."""
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


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request):
    return request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mariadb_url")


def test_a_lock_whose_connection_is_killed_mid_run_is_taken_again_and_nothing_runs_twice(project_copy, run_manage,
                                                                                          server_url, tmp_path):
    assert run_manage(project_copy, "migrate", database_url=server_url).returncode == 0
    sql(server_url, "CREATE TABLE runs (revision VARCHAR(100))")
    add_slow_migrations(project_copy, SLEEP[server_url.split(":")[0].split("+")[0]])
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": server_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    manage = [sys.executable, str(project_copy / "manage.py"), "migrate", "-v", "2"]

    first = subprocess.Popen(manage, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not sql(server_url, "SELECT * FROM runs"):  # the first migration is running, under the lock
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    killed = holder(server_url)
    sql(server_url, "SELECT pg_terminate_backend(:id)" if server_url.startswith("postgresql") else f"KILL {killed}",
        id=killed)
    # Another deploy gets in while the lock is free. (Not on MariaDB: there the migration being
    # applied is recorded as unfinished, and a deploy that gets the lock meanwhile reports it so.)
    others = [subprocess.Popen(manage, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              ] if server_url.startswith("postgresql") else []
    results = [(process.wait(timeout=120), *process.communicate()) for process in (first, *others)]

    assert [code for code, _, _ in results] == [0] * len(results), [err for _, _, err in results]
    assert sorted(row[0] for row in sql(server_url, "SELECT revision FROM runs")) == REVISIONS  # each once
    assert sql(server_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]
    assert holder(server_url) is None  # and no lock left behind
    assert "The deploy lock's connection was closed; taking the lock again." in results[0][1]


def test_an_idle_timeout_shorter_than_a_migration_loses_nothing(project_copy, run_manage, postgres_url, tmp_path):
    """PostgreSQL's idle timeouts (1 s) close the lock's connection, idle while each migration
    runs; four concurrent deploys still run each migration once and all succeed."""
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    sql(postgres_url, "CREATE TABLE runs (revision VARCHAR(100))")
    database = sa.engine.make_url(postgres_url).database
    for timeout in ("idle_session_timeout", "idle_in_transaction_session_timeout"):
        sql(postgres_url, f"ALTER DATABASE {database} SET {timeout} = '1s'")
    add_slow_migrations(project_copy, SLEEP["postgresql"])
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": postgres_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    processes = [subprocess.Popen([sys.executable, str(project_copy / "manage.py"), "migrate"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(process.wait(timeout=180), *process.communicate()) for process in processes]

    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    assert sorted(row[0] for row in sql(postgres_url, "SELECT revision FROM runs")) == REVISIONS
    assert sql(postgres_url, "SELECT version_num FROM alembic_version") == [("0007_third",)]
