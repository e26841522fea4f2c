"""MariaDB commits DDL as it runs, so a migration that fails or is killed half-way cannot be
rolled back. It is recorded as started before it runs and as done after; a later ``migrate`` or
``showmigrations`` that finds it unfinished stops in one line naming it and the two ways out,
and ``fake`` (the way out) works. One that fails before any statement of it that MariaDB keeps
has run changed nothing: its record is cleared, and it runs again once fixed. Through
``python manage.py``."""
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from migration_file import write_migration

HALF_DONE = """op.create_table('bookings', sa.Column('id', sa.Integer(), primary_key=True))
            op.execute('{then}')"""
ADVICE = ("CommandError: Migration 0005_bookings was started and did not finish, and this database cannot roll back "
          "what it did: if all of it is in, run 'python manage.py fake 0005_bookings'; if not, undo what it did and "
          "run 'python manage.py fake 0004_make_email_unique'.\n")


def tables(url: str) -> set:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def test_a_failed_migration_on_mariadb_is_named_until_faked(project_copy, run_manage, mariadb_url):
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    migration = write_migration(project_copy, "0005_bookings", "0004_make_email_unique",
                                HALF_DONE.format(then="SELECT * FROM nowhere"), "op.drop_table('bookings')")

    failed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_bookings failed: ")
    assert "bookings" in tables(mariadb_url)  # MariaDB kept the CREATE TABLE

    again = run_manage(project_copy, "migrate", database_url=mariadb_url)
    shown = run_manage(project_copy, "showmigrations", database_url=mariadb_url)
    assert (again.returncode, again.stderr) == (1, ADVICE)
    assert (shown.returncode, shown.stderr) == (1, ADVICE)
    assert " [!] 0005_bookings (started, not finished)" in shown.stdout.splitlines()

    # The second way out, as the line says: undo what it did, then fake the migration before it.
    execute(mariadb_url, "DROP TABLE bookings")
    faked = run_manage(project_copy, "fake", "0004", database_url=mariadb_url)
    assert faked.returncode == 0, faked.stderr
    assert "  Forgetting that 0005_bookings did not finish." in faked.stdout.splitlines()
    migration.write_text(migration.read_text().replace("op.execute('SELECT * FROM nowhere')", "pass"))
    fixed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "  Applying 0005_bookings... OK"


def test_a_migration_killed_half_way_on_mariadb_is_named(project_copy, mariadb_url, tmp_path):
    """kill -9 after the CREATE TABLE and before the migration ends."""
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": mariadb_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    manage = [sys.executable, str(project_copy / "manage.py")]
    assert subprocess.run([*manage, "migrate"], env=env, capture_output=True).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", HALF_DONE.format(then="SELECT SLEEP(60)"),
                    "op.drop_table('bookings')")

    running = subprocess.Popen([*manage, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while "bookings" not in tables(mariadb_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(running.pid, signal.SIGKILL)
    finally:
        running.wait()

    result = subprocess.run([*manage, "migrate"], env=env, capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (1, ADVICE)
    # The first way out: its changes are in, so fake the migration itself.
    assert subprocess.run([*manage, "fake", "0005"], env=env, capture_output=True).returncode == 0
    after = subprocess.run([*manage, "migrate"], env=env, capture_output=True, text=True)
    assert (after.returncode, after.stdout.splitlines()[-1]) == (0, "  No migrations to apply.")


def test_a_deploy_beside_a_running_migration_on_mariadb_waits_and_is_not_told_it_did_not_finish(
        project_copy, run_manage, mariadb_url, tmp_path):
    """The unfinished record of a migration another instance is running is read under the deploy
    lock: a second migrate waits for it and finds nothing to do; readers that take no lock
    (showmigrations, migrate --check) say it is being applied, with no advice to fake it."""
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": mariadb_url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    manage = [sys.executable, str(project_copy / "manage.py")]
    assert subprocess.run([*manage, "migrate"], env=env, capture_output=True).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", HALF_DONE.format(then="SELECT SLEEP(6)"),
                    "op.drop_table('bookings')")

    running = subprocess.Popen([*manage, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while "bookings" not in tables(mariadb_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = run_manage(project_copy, "showmigrations", database_url=mariadb_url)
        probe = run_manage(project_copy, "migrate", "--check", database_url=mariadb_url)
        beside = run_manage(project_copy, "migrate", database_url=mariadb_url)
    finally:
        first = running.communicate(timeout=120)
    being_applied = ("Migration 0005_bookings is being applied by another migrate, which holds the deploy lock: "
                     "look again once it has finished.")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines()[-2:] == [" [ ] 0005_bookings", being_applied]
    assert (probe.returncode, probe.stderr) == (1, f"CommandError: {being_applied}\n")
    assert (running.returncode, first[0].splitlines()[-1]) == (0, "  Applying 0005_bookings... OK"), first[1]
    assert (beside.returncode, beside.stdout.splitlines()[-1]) == (0, "  No migrations to apply."), beside.stderr


def test_postgresql_rolls_a_failed_migration_back_and_records_nothing(project_copy, run_manage, postgres_url):
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique",
                    HALF_DONE.format(then="SELECT * FROM nowhere"), "op.drop_table('bookings')")

    for _ in range(2):  # the same error again: the database is exactly at 0004
        failed = run_manage(project_copy, "migrate", database_url=postgres_url)
        assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_bookings failed: ")
    assert not {"bookings", "manage_migrations_unfinished"} & tables(postgres_url)


# Two users of one name: a unique constraint on full_name fails on them, before it changes anything.
SAME_NAME = "INSERT INTO users (email, full_name) VALUES ('a@x', 'Ann'), ('b@x', 'Ann')"
UNIQUE_NAME = "op.create_unique_constraint('uq_users_full_name', 'users', ['full_name'])"
CREATE_BOOKINGS = "op.create_table('bookings', sa.Column('id', sa.Integer(), primary_key=True))"
CHANGED_NOTHING = " It changed nothing: fix it and run 'python manage.py migrate' again.\n"


def unfinished_rows(url: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT revision FROM manage_migrations_unfinished").all()
    finally:
        engine.dispose()


def test_a_migration_whose_first_ddl_fails_on_mariadb_changed_nothing_and_runs_again_once_fixed(
        project_copy, run_manage, mariadb_url):
    """Django's way: fix the file and migrate again. The read before the failed ALTER does not count."""
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    execute(mariadb_url, SAME_NAME)
    migration = write_migration(project_copy, "0005_bookings", "0004_make_email_unique",
                                f"""op.execute('SELECT count(*) FROM users')
            {UNIQUE_NAME}
            {CREATE_BOOKINGS}""", "op.drop_table('bookings')")

    failed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_bookings failed: ")
    assert failed.stderr.endswith(CHANGED_NOTHING) and len(failed.stderr.splitlines()) == 1, failed.stderr
    assert unfinished_rows(mariadb_url) == [] and "bookings" not in tables(mariadb_url)

    shown = run_manage(project_copy, "showmigrations", database_url=mariadb_url)
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines()[-1] == " [ ] 0005_bookings"

    migration.write_text(migration.read_text().replace(UNIQUE_NAME, "pass"))
    fixed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "  Applying 0005_bookings... OK"
    assert "bookings" in tables(mariadb_url) and unfinished_rows(mariadb_url) == []


def test_a_migration_whose_second_ddl_fails_on_mariadb_is_left_unfinished(project_copy, run_manage, mariadb_url):
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    execute(mariadb_url, SAME_NAME)
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", f"""{CREATE_BOOKINGS}
            {UNIQUE_NAME}""", "op.drop_table('bookings')")

    failed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_bookings failed: ")
    assert "changed nothing" not in failed.stderr
    assert "bookings" in tables(mariadb_url)

    again = run_manage(project_copy, "migrate", database_url=mariadb_url)
    shown = run_manage(project_copy, "showmigrations", database_url=mariadb_url)
    assert (again.returncode, again.stderr) == (1, ADVICE)
    assert (shown.returncode, shown.stderr) == (1, ADVICE)


def test_rows_written_before_a_failed_ddl_on_mariadb_are_committed_by_it_and_left_unfinished(
        project_copy, run_manage, mariadb_url):
    """MariaDB commits before each DDL statement, one that then fails included: the row stays."""
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", f"""op.execute("{SAME_NAME}")
            {UNIQUE_NAME}""", "pass")

    failed = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert failed.returncode == 1 and "changed nothing" not in failed.stderr
    assert unfinished_rows(mariadb_url) == [("0005_bookings",)]


def users_held(mariadb_url):
    """An application's transaction that has read users: its metadata lock makes ALTER TABLE users wait."""
    engine = sa.create_engine(mariadb_url, poolclass=sa.pool.NullPool)
    holder = engine.connect()
    holder.exec_driver_sql("SELECT count(*) FROM users").scalar()
    return engine, holder


ADD_CODE = "op.add_column('users', sa.Column('code', sa.String(20), nullable=True))"


def test_a_migration_that_waited_for_a_lock_before_changing_anything_is_not_left_unfinished(
        project_copy, run_manage, mariadb_url):
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", f"""{ADD_CODE}
            {CREATE_BOOKINGS}""", "pass")
    engine, holder = users_held(mariadb_url)
    try:
        result = run_manage(project_copy, "migrate", "--table-lock-timeout", "1", database_url=mariadb_url)
    finally:
        holder.close()
        engine.dispose()

    assert result.stderr == ("CommandError: Migration 0005_bookings waited over 1 s for a lock on users, 4 times; "
                             "gave up. The database is at 0004_make_email_unique.\n")
    assert unfinished_rows(mariadb_url) == []
    after = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert (after.returncode, after.stdout.splitlines()[-1]) == (0, "  Applying 0005_bookings... OK"), after.stderr


def test_the_next_try_of_a_migration_that_waited_for_a_lock_after_its_first_ddl_keeps_it_unfinished(
        project_copy, run_manage, mariadb_url):
    """The second try fails on the table the first one made, before it changes anything: the
    record is still the first try's, which did change something."""
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    write_migration(project_copy, "0005_bookings", "0004_make_email_unique", f"""{CREATE_BOOKINGS}
            {ADD_CODE}""", "pass")
    engine, holder = users_held(mariadb_url)
    try:
        failed = run_manage(project_copy, "migrate", "--table-lock-timeout", "1", database_url=mariadb_url)
    finally:
        holder.close()
        engine.dispose()

    assert "  Waited over 1 s for a lock on users; trying again in 1 s." in failed.stdout.splitlines()
    assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_bookings failed: ")
    assert "changed nothing" not in failed.stderr
    again = run_manage(project_copy, "migrate", database_url=mariadb_url)
    assert (again.returncode, again.stderr) == (1, ADVICE)
