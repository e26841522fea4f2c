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
