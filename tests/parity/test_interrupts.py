"""SIGINT (Ctrl-C) and SIGTERM (a container stopping) in the middle of a migration: it is rolled
back, the deploy lock released, and one line says where the database stands; exit 130 / 143.
Through ``python manage.py`` in a subprocess, signalled while its migration runs."""
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from migration_file import write_migration

SLEEPY = """op.create_table('bookings', sa.Column('id', sa.Integer(), primary_key=True))
            pathlib.Path(os.environ['MIGRATION_RUNNING']).touch()
            time.sleep(60)"""


def state(url: str) -> tuple[set, list]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return (set(sa.inspect(connection).get_table_names()),
                    connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all())
    finally:
        engine.dispose()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_migration_rolls_it_back_and_says_where_the_database_is(project_copy, database_url, tmp_path,
                                                                                   signum):
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": database_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "MIGRATION_RUNNING": str(tmp_path / "running")}
    manage = [sys.executable, str(project_copy / "manage.py")]
    assert subprocess.run([*manage, "migrate"], env=env, capture_output=True).returncode == 0
    write_migration(project_copy, "0005_sleepy", "0004_make_email_unique", SLEEPY, "op.drop_table('bookings')",
                    head="import os, pathlib, time")

    running = subprocess.Popen([*manage, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "running").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        signalled = time.monotonic()
        running.send_signal(signum)
        out, err = running.communicate(timeout=30)
    finally:
        running.kill()
    stopped = time.monotonic() - signalled

    assert running.returncode == 128 + signum, (out, err)
    assert err == "Interrupted while applying 0005_sleepy: the database is at 0004_make_email_unique.\n"
    assert stopped < 5, stopped
    tables, versions = state(database_url)
    assert "bookings" not in tables and versions == ["0004_make_email_unique"]  # rolled back: N-1
    # The deploy lock was released: the next migrate runs at once, and runs 0005 again.
    (tmp_path / "running").unlink()
    again = subprocess.Popen([*manage, "migrate", "--lock-timeout", "1"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    while not (tmp_path / "running").exists() and again.poll() is None:
        time.sleep(0.1)
    assert again.poll() is None, again.communicate()  # it got past the lock and is running 0005
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=30)


# How each server shows our migration waiting for the lock the application holds.
WAITING = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE hotels%%'",
    "mariadb": "SELECT count(*) FROM information_schema.processlist WHERE db = database() "
               "AND info LIKE 'ALTER TABLE hotels%%'",
}
# A reader that gives up after 2 s: a migration still queued for the table would block it.
READ_HOTELS = {
    "postgresql": ["SET lock_timeout = '2s'", "SELECT count(*) FROM hotels"],
    "mariadb": ["SET SESSION lock_wait_timeout = 2", "SELECT count(*) FROM hotels"],
}
HOLD_HOTELS = {
    "postgresql": "LOCK TABLE hotels IN ACCESS SHARE MODE",
    "mariadb": "SELECT * FROM hotels",  # its metadata lock lasts until the transaction ends
}


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_ctrl_c_stops_a_migration_waiting_for_a_lock_at_once(project_copy, tmp_path, request, backend):
    """The statement waits inside the driver, where Python cannot run a signal handler: the
    signal cancels it on the server (a cancel request, KILL QUERY), so the wait ends at once and
    leaves nothing queued on the table, long before the 60 s lock limit."""
    url = request.getfixturevalue("postgres_url" if backend == "postgresql" else "mariadb_url")
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    manage = [sys.executable, str(project_copy / "manage.py")]
    assert subprocess.run([*manage, "migrate"], env=env, capture_output=True).returncode == 0
    write_migration(project_copy, "0005_stars", "0004_make_email_unique",
                    "op.add_column('hotels', sa.Column('stars', sa.Integer()))", "op.drop_column('hotels', 'stars')")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as application, engine.connect() as watcher:
        application.exec_driver_sql(HOLD_HOTELS[backend])
        running = subprocess.Popen([*manage, "migrate", "--table-lock-timeout", "60"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not watcher.exec_driver_sql(WAITING[backend]).scalar() and time.monotonic() < deadline:
                watcher.rollback()
                time.sleep(0.1)
            watcher.rollback()
            signalled = time.monotonic()
            running.send_signal(signal.SIGINT)
            out, err = running.communicate(timeout=30)
        finally:
            running.kill()
        stopped = time.monotonic() - signalled
        for statement in READ_HOTELS[backend]:  # fails if the ALTER were still queued behind the application
            watcher.exec_driver_sql(statement)
        application.rollback()
    engine.dispose()

    assert running.returncode == 130, (out, err)
    assert err.startswith("Interrupted while applying 0005_stars: the database is at 0004_make_email_unique."), err
    assert stopped < 3, stopped
