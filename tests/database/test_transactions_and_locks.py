"""A failing migration leaves the one before it; concurrent deploys run each migration once;
the deploy lock gives up with a clear message. On SQLite and PostgreSQL alike."""
import fcntl
import subprocess
import sys
import textwrap
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

FIFTH = textwrap.dedent('''\
    """{name}"""
    import time

    from alembic import op
    import sqlalchemy as sa

    revision = "0005_{name}"
    down_revision = "0004_make_email_unique"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        runs = op.create_table("runs", sa.Column("id", sa.Integer(), primary_key=True))
        op.bulk_insert(runs, [{{"id": 1}}])
        {body}


    def downgrade() -> None:
        op.drop_table("runs")
    ''')


def add_fifth(project, name="runs", body="pass"):
    (project / "migrations" / "versions" / f"0005_{name}.py").write_text(FIFTH.format(name=name, body=body))


def state(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            runs = connection.execute(sa.text("SELECT count(*) FROM runs")).scalar() if "runs" in tables else None
        return tables, version, runs
    finally:
        engine.dispose()


def test_failed_migration_leaves_the_one_before_and_a_rerun_continues(project_copy, run_manage, database_url):
    add_fifth(project_copy, body='op.execute("INSERT INTO nowhere VALUES (1)")')

    failed = run_manage(project_copy, "migrate", database_url=database_url)

    assert failed.returncode == 1
    assert "  Applying 0004_make_email_unique... OK" in failed.stdout
    assert failed.stdout.rstrip().endswith("  Applying 0005_runs...")
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("CommandError: Migration 0005_runs failed: ")
    assert "nowhere" in failed.stderr
    tables, version, runs = state(database_url)
    assert "runs" not in tables and {"hotels", "rooms", "users"} <= tables
    assert version == ["0004_make_email_unique"]

    add_fifth(project_copy)
    rerun = run_manage(project_copy, "migrate", database_url=database_url)

    assert rerun.returncode == 0, rerun.stderr
    assert "Applying 0001" not in rerun.stdout
    assert "  Applying 0005_runs... OK" in rerun.stdout
    assert state(database_url) == ({"alembic_version", "manage_migrations", "hotels", "rooms", "users", "runs"}, ["0005_runs"], 1)


def test_concurrent_migrates_run_each_migration_once(project_copy, run_manage, database_url):
    add_fifth(project_copy, body="time.sleep(1)")  # long enough that the others must wait
    env = {k: v for k, v in __import__("os").environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = database_url
    if database_url.startswith("sqlite"):  # the file exists before they race, as in a deploy
        sa.create_engine(database_url).connect().close()
    processes = [
        subprocess.Popen([sys.executable, "manage.py", "migrate", "-v", "2"], cwd=project_copy, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]

    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    outputs = "".join(out for _, out, _ in results)
    for name in ("0001_create_table_hotels", "0004_make_email_unique", "0005_runs"):
        assert outputs.count(f"  Applying {name}... OK") == 1
    assert outputs.count("  No migrations to apply.") == 3
    assert "Waiting for another migrate to finish..." in outputs
    assert state(database_url)[1:] == (["0005_runs"], 1)


@contextmanager
def deploy_lock_held(database_url):
    """The deploy lock as another migrate holds it: the SQLite file's flock, or the advisory lock."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as holder:
            if database_url.startswith("sqlite"):
                with open(engine.url.database, "rb") as lock_file:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)
                    yield
            else:
                from manage_migrations.lock import LOCK_KEY
                holder.exec_driver_sql(f"SELECT pg_advisory_lock({LOCK_KEY})")
                yield
    finally:
        engine.dispose()


def test_lock_timeout_gives_up_with_a_clear_message(project_copy, run_manage, database_url):
    with deploy_lock_held(database_url):
        result = run_manage(project_copy, "migrate", "--lock-timeout", "1", database_url=database_url)

    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: Another migrate held the deploy lock for over 1s; gave up. "
        "Retry, or raise --lock-timeout.\n"
    )
    assert "Applying" not in result.stdout


def test_a_database_at_head_is_not_kept_waiting_by_the_lock(project_copy, run_manage, database_url):
    """App instances starting while another migrate runs: with nothing to apply, no wait."""
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0

    with deploy_lock_held(database_url):
        at_head = run_manage(project_copy, "migrate", "--lock-timeout", "1", database_url=database_url)
        add_fifth(project_copy)
        behind = run_manage(project_copy, "migrate", "--lock-timeout", "1", database_url=database_url)

    assert at_head.returncode == 0, at_head.stderr
    assert at_head.stdout.endswith("Running migrations:\n  No migrations to apply.\n")
    assert behind.returncode == 1
    assert "deploy lock" in behind.stderr


def mariadb_tables(url):
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# Running migrations on MariaDB also keeps the record of those started and not finished.
BOOKKEEPING = {"alembic_version", "manage_migrations", "manage_migrations_unfinished"}


@pytest.mark.parametrize("forth, back, tables", [
    (["migrate"], ["migrate", "zero"], BOOKKEEPING | {"hotels", "rooms", "users"}),
    (["fake", "head"], ["fake", "zero"], {"alembic_version", "manage_migrations"}),
])
def test_mariadb_migrate_and_showmigrations(project_copy, run_manage, mariadb_url, forth, back, tables):
    done = run_manage(project_copy, *forth, database_url=mariadb_url)
    shown = run_manage(project_copy, "showmigrations", database_url=mariadb_url)

    assert done.returncode == 0, done.stderr
    assert mariadb_tables(mariadb_url) == tables
    assert shown.stdout.splitlines()[1:] == [
        " [X] 0001_create_table_hotels", " [X] 0002_create_table_rooms",
        " [X] 0003_add_users", " [X] 0004_make_email_unique",
    ]
    undone = run_manage(project_copy, *back, database_url=mariadb_url)
    assert undone.returncode == 0, undone.stderr
    assert mariadb_tables(mariadb_url) == tables & BOOKKEEPING


def test_postgres_commits_wait_for_the_disk_once_at_the_end_even_after_a_failure(postgres_url):
    """Each migration's transaction sets synchronous_commit off for itself alone (nothing is left
    on the session, which behind a pooler is another client's); the run ends with one commit
    that waits for the disk, after a failure too."""
    from manage_migrations import database, recorder
    from manage_migrations.executor import recorded

    engine = sa.create_engine(postgres_url)
    statements, seen = [], []
    with engine.connect() as connection:
        sa.event.listen(connection, "before_cursor_execute", lambda conn, cursor, statement, *args: statements.append(statement))
        connection.exec_driver_sql("CREATE TABLE manage_migrations (revision VARCHAR(255), applied TIMESTAMPTZ, "
                                   "checksum VARCHAR(64))")  # as migrate's prepare leaves it (checksums)
        connection.commit()
        with pytest.raises(RuntimeError):
            with database.durable_at_end(connection):
                with connection.begin():
                    recorded(lambda: seen.append(connection.exec_driver_sql("SHOW synchronous_commit").scalar()),
                             connection, recorder.Recorder(), "0001_a", True)()
                assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
                raise RuntimeError("a migration failed")
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    engine.dispose()
    assert seen == ["off"]
    assert statements[-2] == "SELECT txid_current()"
