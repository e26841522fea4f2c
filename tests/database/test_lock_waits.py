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


def users_held_by_the_application(postgres_url):
    """A session of 'billing-worker' in a transaction that has read users: it holds a lock that
    0004's ALTER TABLE users must wait for."""
    engine = sa.create_engine(postgres_url, connect_args={"application_name": "billing-worker"})
    holder = engine.connect()
    holder.exec_driver_sql("SELECT count(*) FROM users").scalar()
    return engine, holder, holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_a_migration_behind_an_application_lock_is_retried_then_given_up_at_n_minus_1(project_copy, run_manage,
                                                                                      postgres_url):
    assert run_manage(project_copy, "migrate", "0003", database_url=postgres_url).returncode == 0
    engine, holder, pid = users_held_by_the_application(postgres_url)
    reader = sa.create_engine(postgres_url)
    waits = []

    def read_users_meanwhile():
        time.sleep(2)  # while migrate waits for its lock on users
        started = time.monotonic()
        with reader.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM users").scalar()
        waits.append(time.monotonic() - started)

    import threading
    thread = threading.Thread(target=read_users_meanwhile)
    thread.start()
    try:
        result = run_manage(project_copy, "migrate", "--table-lock-timeout", "1", database_url=postgres_url)
    finally:
        thread.join()
        holder.close()
        engine.dispose()
        reader.dispose()

    held = f"(held by pid {pid} 'billing-worker', for "
    assert result.returncode == 1, result
    assert result.stdout.count("  Waited over 1 s for a lock on users " + held) == 3, result.stdout
    assert result.stderr.startswith("CommandError: Migration 0004_make_email_unique waited over 1 s for a lock on "
                                    "users " + held), result.stderr
    assert result.stderr.endswith(", 4 times; gave up. The database is at 0003_add_users.\n"), result.stderr
    # A plain SELECT queued behind the migration's lock request waited at most about that long.
    assert waits and waits[0] < 2.5, waits
    assert sa.inspect(sa.create_engine(postgres_url)).get_unique_constraints("users") == []


def test_a_migration_behind_an_application_lock_runs_once_the_lock_is_free(project_copy, run_manage, postgres_url):
    assert run_manage(project_copy, "migrate", "0003", database_url=postgres_url).returncode == 0
    engine, holder, pid = users_held_by_the_application(postgres_url)

    import threading
    release = threading.Timer(4, holder.close)  # after a first wait of 1 s, whatever the start-up takes
    release.start()
    try:
        result = run_manage(project_copy, "migrate", "--table-lock-timeout", "1", database_url=postgres_url)
    finally:
        release.join()
        engine.dispose()

    assert result.returncode == 0, result
    assert "  Waited over 1 s for a lock on users" in result.stdout
    assert result.stdout.splitlines()[-1] == "  Applying 0004_make_email_unique... OK"


def test_mariadb_gives_a_migration_behind_an_application_lock_up_at_n_minus_1(project_copy, run_manage, mariadb_url):
    assert run_manage(project_copy, "migrate", "0003", database_url=mariadb_url).returncode == 0
    engine = sa.create_engine(mariadb_url)
    with engine.connect() as holder:
        holder.exec_driver_sql("SELECT count(*) FROM users").scalar()  # its transaction holds users' metadata lock
        result = run_manage(project_copy, "migrate", "--table-lock-timeout", "1", database_url=mariadb_url)
        holder.rollback()
    engine.dispose()

    assert result.returncode == 1, result
    assert result.stdout.count("  Waited over 1 s for a lock on users; trying again in ") == 3, result.stdout
    assert result.stderr == ("CommandError: Migration 0004_make_email_unique waited over 1 s for a lock on users, "
                             "4 times; gave up. The database is at 0003_add_users.\n")


def test_sqlite_migrations_beside_an_application_that_writes_wait_their_turn(project_copy, run_manage, sqlite_url):
    """An application writes 200 ms in every 250 (BEGIN IMMEDIATE, as a writer holds SQLite's
    lock); up and down migrations, each in a transaction that takes the write lock as it begins,
    wait for it and all succeed, where deferred transactions were refused at their first write."""
    import threading

    path = sqlite_url.removeprefix("sqlite:///")
    assert run_manage(project_copy, "migrate", "0001", database_url=sqlite_url).returncode == 0
    stop = threading.Event()

    def application():
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.execute("CREATE TABLE IF NOT EXISTS app_log (n INTEGER)")
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO app_log VALUES (1)")
            time.sleep(0.2)
            connection.execute("COMMIT")
            time.sleep(0.05)
        connection.close()

    writer = threading.Thread(target=application)
    writer.start()
    try:
        results = [run_manage(project_copy, "migrate", target, database_url=sqlite_url)
                   for target in ("0004", "0001", "0004", "zero", "0004")]
    finally:
        stop.set()
        writer.join()
    for result in results:
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004_make_email_unique",)]


def test_sqlite_errors_name_the_file(project_copy, run_manage, tmp_path):
    """SQLite's own words name no file ("file is not a database", "attempt to write a readonly
    database"): the line says which file it is."""
    database = tmp_path / "not_a_database.sqlite3"
    database.write_bytes(b"these are not the pages of an SQLite database" * 100)
    for command in (["migrate"], ["showmigrations"]):
        result = run_manage(project_copy, *command, database_url=f"sqlite:///{database}")
        assert result.returncode == 1
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("CommandError: "), result.stderr
        assert result.stderr.rstrip().endswith(f"({database})"), result.stderr
