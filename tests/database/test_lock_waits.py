"""The read-only paths (``migrate`` at head, ``migrate --check``, ``showmigrations``) give up
within seconds, in one line naming who holds the lock, when another session holds a lock on
``alembic_version``: a readiness probe must answer, never hang. Through ``python manage.py``."""
import sqlite3
import time

import pytest
import sqlalchemy as sa

COMMANDS = [["migrate"], ["migrate", "--check"], ["showmigrations"]]


def refused_quickly(run_manage, project, url, command) -> str:
    started = time.monotonic()
    result = run_manage(project, *command, database_url=url)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, (command, result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert elapsed < 20, elapsed  # 5 s of waiting and a Python start-up; without the limit it hangs
    return result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_postgresql_names_the_holder(project_copy, run_manage, postgres_url, command):
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    engine = sa.create_engine(postgres_url, connect_args={"application_name": "billing-worker"})
    with engine.connect() as holder:
        holder.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        error = refused_quickly(run_manage, project_copy, postgres_url, command)
        holder.rollback()
    engine.dispose()
    assert error.startswith("CommandError: alembic_version has been locked by another session for over 5 s "
                            f"(held by pid {pid} 'billing-worker', for "), error
    assert error.rstrip().endswith("; nothing was done."), error


def test_mariadb_gives_up(project_copy, run_manage, mariadb_url):
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    engine = sa.create_engine(mariadb_url)
    with engine.connect() as holder:
        holder.exec_driver_sql("LOCK TABLES alembic_version WRITE")
        error = refused_quickly(run_manage, project_copy, mariadb_url, ["migrate", "--check"])
        holder.exec_driver_sql("UNLOCK TABLES")
    engine.dispose()
    assert error == "CommandError: alembic_version has been locked by another session for over 5 s; nothing was done.\n"


def test_sqlite_gives_up_naming_the_file(project_copy, run_manage, sqlite_url):
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    path = sa.engine.make_url(sqlite_url).database
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        error = refused_quickly(run_manage, project_copy, sqlite_url, ["migrate", "--check"])
    finally:
        holder.close()
    assert error == (f"CommandError: alembic_version has been locked by another session for over 5 s (in {path}); "
                     "nothing was done.\n")
