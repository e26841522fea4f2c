"""A network that stops answering mid-run: SIGTERM still ends ``migrate`` within seconds, in one
line saying where the database was, and the server rolls the migration back once it notices.
The peer is a TCP proxy of the test's own, frozen with SIGSTOP (as a pooler or a route can hang)."""
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from migration_file import write_migration
from sqlalchemy.engine import make_url

PROXY = r'''
import socket, sys, threading

def pipe(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        target.close()

listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    for ends in ((client, server), (server, client)):
        threading.Thread(target=pipe, args=ends, daemon=True).start()
'''


def scalar(url: str, sql: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def test_sigterm_ends_migrate_within_seconds_when_the_network_freezes(project_copy, run_manage, postgres_url, tmp_path):
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    write_migration(project_copy, "0005_slow", "0004_make_email_unique",
                    "op.create_table('slow', sa.Column('id', sa.Integer(), primary_key=True))\n"
                    "            op.execute('SELECT pg_sleep(12)')", "op.drop_table('slow')")
    direct = make_url(postgres_url)
    proxy = subprocess.Popen([sys.executable, "-c", PROXY, str(direct.port or 5432)], stdout=subprocess.PIPE, text=True)
    try:
        through_proxy = direct.set(port=int(proxy.stdout.readline())).render_as_string(hide_password=False)
        env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": through_proxy,
               "XDG_CACHE_HOME": str(tmp_path / "cache")}
        migrate = subprocess.Popen([sys.executable, str(project_copy / "manage.py"), "migrate"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not scalar(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"):
            assert time.monotonic() < deadline and migrate.poll() is None
            time.sleep(0.1)
        os.kill(proxy.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        migrate.send_signal(signal.SIGTERM)
        out, err = migrate.communicate(timeout=60)
        took = time.monotonic() - stopped_at
    finally:
        os.kill(proxy.pid, signal.SIGCONT)
        proxy.kill()
        proxy.wait()

    assert migrate.returncode == 143, err
    assert took < 15, took  # the grace (5 s) and a start-up, not the network's minutes
    assert err.splitlines()[-1] == (
        "Interrupted while applying 0005_slow: the database did not answer within 5 s, so the process ended "
        "without it. The server rolls back what was not committed once it notices; the database was at "
        "0004_make_email_unique when the migration began.")
    # The server notices the connection gone once its statement ends, and rolls the migration back.
    deadline = time.monotonic() + 60
    while scalar(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert scalar(postgres_url, "SELECT version_num FROM alembic_version") == "0004_make_email_unique"
    assert scalar(postgres_url, "SELECT to_regclass('slow') IS NULL")


def test_a_connection_lost_mid_run_names_the_migration_and_where_the_database_is(project_copy, run_manage,
                                                                                   postgres_url):
    """The migrating connection killed mid-migration (as a server restart or a failover does)."""
    import threading

    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    write_migration(project_copy, "0005_slow", "0004_make_email_unique",
                    "op.create_table('slow', sa.Column('id', sa.Integer(), primary_key=True))\n"
                    "            op.execute('SELECT pg_sleep(10)')", "op.drop_table('slow')")

    def kill_when_sleeping():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if scalar(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(10)%' "
                                    "AND datname = current_database()"):
                scalar(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
                                     "'SELECT pg_sleep(10)%' AND datname = current_database()")
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_sleeping)
    killer.start()
    result = run_manage(project_copy, "migrate", database_url=postgres_url)
    killer.join()

    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: Migration 0005_slow failed: "), result.stderr
    assert result.stderr.rstrip().endswith("The connection was lost; the database is at 0004_make_email_unique."), \
        result.stderr
    assert scalar(postgres_url, "SELECT to_regclass('slow') IS NULL")
