"""What each migration costs in statements on PostgreSQL and MariaDB, counted on the migrating
connection, and the guarantees the fewer statements keep: the history row (and MariaDB's
unfinished record's clearing) in the transaction that updates the version, a migration that
fails leaving neither, the guard refusing a migration another migrate applied, the lock timeout
bounding the step lock's wait and the DDL's, and the deploy lock noticed lost within a second."""
import textwrap
import time
from collections import defaultdict
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from manage_migrations import executor, lock, recorder
from manage_migrations.loader import migrations_of
from manage_migrations.output import Console

GENERATED = textwrap.dedent('''\
    """{revision}"""
    from alembic import op

    revision = "{revision}"
    down_revision = "{parent}"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        op.execute("CREATE TABLE {table} (id INTEGER)"){then}


    def downgrade() -> None:
        op.execute("DROP TABLE {table}")
    ''')
# Each generated migration runs one statement of its own; the rest is ours and Alembic's.
OURS = {"postgresql": 3, "mariadb": 5}  # version update included
COMMITS = {"postgresql": 1, "mariadb": 2}  # MariaDB's unfinished record is committed before the DDL


def add_migrations(project, count: int, failing: str | None = None) -> list[str]:
    """``count`` migrations after the sample app's four, each creating a table; ``failing`` is
    one that creates its table, then fails."""
    revisions = [f"{number:04d}_g{number}" for number in range(5, 5 + count)]
    for before, revision in zip(["0004_make_email_unique", *revisions], revisions):
        then = '\n    op.execute("INSERT INTO nowhere VALUES (1)")' if revision == failing else ""
        (project / "migrations" / "versions" / f"{revision}.py").write_text(
            GENERATED.format(revision=revision, parent=before, table=revision.split("_")[1], then=then))
    return revisions


@contextmanager
def statements_by_connection():
    """Every statement, and each commit as "COMMIT", per connection."""
    seen = defaultdict(list)

    def statement(conn, cursor, text, *args):
        seen[conn].append(" ".join(text.split()))

    def commit(conn):
        seen[conn].append("COMMIT")

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", statement)
    sa.event.listen(sa.engine.Engine, "commit", commit)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", statement)
        sa.event.remove(sa.engine.Engine, "commit", commit)


def migrating(seen) -> list[str]:
    """The statements of the connection that ran the migrations."""
    return next(done for done in seen.values() if any(s.startswith("CREATE TABLE g") for s in done))


@pytest.fixture(params=["postgresql", "mariadb"])
def backend(request):
    return request.param, request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mariadb_url")


def test_each_migration_costs_few_statements_and_records_itself_with_the_version(project_copy, make_settings, manage,
                                                                                backend, sql):
    name, url = backend
    settings = make_settings(project_copy, url)
    assert manage("migrate", settings=settings).exit_code == 0
    revisions = add_migrations(project_copy, 6)

    with statements_by_connection() as two:
        assert manage("migrate", revisions[1], settings=settings).exit_code == 0
    with statements_by_connection() as six:
        assert manage("migrate", settings=settings).exit_code == 0

    before, after = migrating(two), migrating(six)
    per_migration = (len(after) - len(before)) / 2  # four migrations, less two
    commits = (after.count("COMMIT") - before.count("COMMIT")) / 2
    assert commits == COMMITS[name], after
    assert per_migration - commits <= OURS[name] + 1, after
    # The history row (and MariaDB's unfinished record's clearing) with the version update: no commit between.
    for index, statement in enumerate(after):
        if statement.startswith("UPDATE alembic_version"):
            since_commit = after[max(i for i in range(index) if after[i] == "COMMIT") + 1:index]
            assert any("INSERT INTO manage_migrations (" in s for s in since_commit), since_commit
            if name == "mariadb":
                assert any(s.startswith("DELETE FROM manage_migrations_unfinished") for s in since_commit)
    assert sql(url, "SELECT version_num FROM alembic_version") == [(revisions[-1],)]
    assert sorted(row[0] for row in sql(url, "SELECT revision FROM manage_migrations") if row[0] in revisions) \
        == revisions
    if name == "mariadb":
        assert sql(url, "SELECT * FROM manage_migrations_unfinished") == []


def test_a_migration_that_fails_leaves_neither_its_history_row_nor_its_version(project_copy, make_settings, manage,
                                                                             backend, sql):
    name, url = backend
    settings = make_settings(project_copy, url)
    revisions = add_migrations(project_copy, 2, failing="0006_g6")

    failed = manage("migrate", settings=settings)

    assert failed.exit_code == 1
    assert sql(url, "SELECT version_num FROM alembic_version") == [("0005_g5",)]
    assert [row[0] for row in sql(url, "SELECT revision FROM manage_migrations") if row[0] in revisions] \
        == ["0005_g5"]
    if name == "mariadb":  # its CREATE TABLE stays: named unfinished
        assert sql(url, "SELECT revision, forward FROM manage_migrations_unfinished") == [("0006_g6", 1)]


def guarded_run(settings, steps, lock_timeout=None, meanwhile=None):
    """``steps`` run in-process under the deploy lock and its guard, as migrate runs them;
    ``meanwhile()`` is called as the lock is checked before the first, as if another migrate
    that got in then ran it."""
    from manage_migrations import database

    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.connect() as connection, lock.deploy_lock(connection, 10, Console(0)) as held:
            if meanwhile is not None:
                check, held.check = held.check, lambda **options: (meanwhile(), check(**options))
            if lock_timeout is None:
                return executor.run_plan(settings, connection, migrations_of(settings), steps, Console(0), False,
                                         frozenset(), {}, held)
            guard = executor.Guard(held, recorder.of(settings), migrations_of(settings), {})
            return executor.run_steps(settings, connection, steps, Console(0), lock_timeout=lock_timeout, guard=guard)
    finally:
        engine.dispose()


# Another migrate applies 0005 (or unapplies it) after this one planned to.
OTHER = {True: ["CREATE TABLE g5 (id INTEGER)", "UPDATE alembic_version SET version_num = '0005_g5'",
                "INSERT INTO manage_migrations VALUES ('0005_g5', '2001-01-01', 'theirs')"],
         False: ["DROP TABLE g5", "UPDATE alembic_version SET version_num = '0004_make_email_unique'",
                 "DELETE FROM manage_migrations WHERE revision = '0005_g5'"]}


@pytest.mark.parametrize("forward", [True, False])
def test_the_guard_refuses_a_migration_another_migrate_ran(project_copy, make_settings, manage, backend, sql,
                                                           forward):
    """Nothing of the migration runs (its CREATE TABLE would fail), nothing of its records is
    kept: the other's history row stays as it wrote it."""
    name, url = backend
    settings = make_settings(project_copy, url)
    add_migrations(project_copy, 1)
    assert manage("migrate", "0004" if forward else "0005_g5", settings=settings).exit_code == 0
    rows = []

    def other_migrate():
        for statement in OTHER[forward]:
            sql(url, statement)
        rows.extend(sql(url, "SELECT revision, applied, checksum FROM manage_migrations ORDER BY revision"))

    guarded_run(settings, [("0005_g5", forward)], meanwhile=other_migrate)

    at = "0005_g5" if forward else "0004_make_email_unique"
    assert sql(url, "SELECT version_num FROM alembic_version") == [(at,)]
    assert sql(url, "SELECT revision, applied, checksum FROM manage_migrations ORDER BY revision") == rows
    if name == "mariadb":
        assert sql(url, "SELECT * FROM manage_migrations_unfinished") == []


@pytest.mark.parametrize("held", ["step lock", "table"])
def test_the_lock_timeout_bounds_the_step_lock_and_the_ddl(project_copy, make_settings, manage, postgres_url, held):
    settings = make_settings(project_copy, postgres_url)
    assert manage("migrate", "0003", settings=settings).exit_code == 0
    engine = sa.create_engine(postgres_url)
    with engine.connect() as holder:
        if held == "step lock":
            holder.exec_driver_sql(f"SELECT pg_advisory_lock({lock.STEP_KEY})")
        else:
            holder.exec_driver_sql("SELECT count(*) FROM users")  # what 0004's ALTER TABLE users waits for
        started = time.monotonic()
        with pytest.raises(executor.StepFailed) as failed:
            guarded_run(settings, [("0004_make_email_unique", True)], lock_timeout=1)
        waited = time.monotonic() - started
        holder.rollback()
    engine.dispose()
    assert failed.value.lock_wait and waited < 10
    assert manage("showmigrations", settings=settings).output.splitlines()[-1] == " [ ] 0004_make_email_unique"


def test_the_deploy_lock_is_asked_once_a_second_and_taken_again_once_lost(postgres_url, sql):
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection, lock.deploy_lock(connection, 10, Console(0)) as held:
        with statements_by_connection() as seen:
            held.check()
        assert not seen  # it has just answered
        pid = held.holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        sql(postgres_url, f"SELECT pg_terminate_backend({pid})")
        held.answered -= lock.CHECK_AFTER
        held.check()
        assert held.holder.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        assert held.holder.exec_driver_sql(
            f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
            f"AND objid = {lock.LOCK_KEY & 0xFFFFFFFF}").scalar() == 1
    engine.dispose()


def test_before_a_migration_that_is_not_atomic_the_deploy_lock_is_always_asked(postgres_url, sql):
    """Its commits part-way let go of the step lock: the deploy lock alone keeps others out."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection, lock.deploy_lock(connection, 10, Console(0)) as held:
        pid = held.holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        sql(postgres_url, f"SELECT pg_terminate_backend({pid})")
        held.check(always=True)  # within the second it last answered
        assert held.holder.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    engine.dispose()


def test_a_record_of_an_earlier_try_is_replaced_and_said_so(backend, sql):
    """``mark_unfinished`` inserts alone; a row an earlier try left is replaced by the next try's."""
    name, url = backend
    records, engine = recorder.Recorder(), sa.create_engine(url)
    with engine.connect() as connection:
        records.prepare(connection, [], marking=True)
        tries = [records.mark_unfinished(connection, "0005_g5", forward) for forward in (True, False)]
    engine.dispose()
    assert tries == [False, True]
    assert sql(url, "SELECT revision, forward FROM manage_migrations_unfinished") == [("0005_g5", False)]
