"""``sqlmigrate APP FROM TO``: the SQL of a range of migrations, records included, which a DBA
runs with psql on a database at FROM to get what ``python manage.py migrate TO`` gives another
at FROM: the same ``pg_dump --schema-only`` and the same version and history rows. Forwards and
backwards, in a transaction per migration (``psql -f``) or in one (``--single-transaction``,
``psql -1 -f``). Through ``python manage.py`` on copies of the sample project."""
import subprocess
import textwrap

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url


def libpq(url: str) -> str:
    """The URL as psql and pg_dump read it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def psql(url: str, script, *options: str) -> None:
    ran = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *options, "-f", str(script), "-d", libpq(url)],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "WARNING" not in ran.stderr, ran.stderr  # e.g. a BEGIN inside psql -1's transaction


def schema(url: str) -> list[str]:
    """``pg_dump --schema-only``, less its comments, blank lines and per-run keys (\\restrict)."""
    dumped = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "-d", libpq(url)],
                            capture_output=True, text=True, timeout=120, check=True).stdout
    return [line for line in dumped.splitlines()
            if line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict"))]


def records(url: str) -> tuple[list, list]:
    """The version table's rows, and the history's without the time each migration ran."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
            history = sa.Table("manage_migrations", sa.MetaData(), autoload_with=connection)
            rows = connection.execute(sa.select(*[c for c in history.columns if c.name != "applied"])
                                      .order_by(history.c.revision)).all()
        return sorted(versions), rows
    finally:
        engine.dispose()


def migrate(project, run_manage, url: str, *target: str) -> None:
    result = run_manage(project, "migrate", *target, database_url=url)
    assert result.returncode == 0, result.stderr


def range_sql(project, run_manage, url: str, tmp_path, *args: str):
    result = run_manage(project, "sqlmigrate", "project", *args, database_url=url)
    assert result.returncode == 0, result.stderr
    script = tmp_path / "range.sql"
    script.write_text(result.stdout)
    return script


@pytest.mark.parametrize("start", ["zero", "0001"])
def test_forwards_in_a_transaction_per_migration(project_copy, run_manage, postgres_url, other_postgres_url,
                                                 tmp_path, start):
    for url in (postgres_url, other_postgres_url):
        if start != "zero":
            migrate(project_copy, run_manage, url, start)
    script = range_sql(project_copy, run_manage, other_postgres_url, tmp_path, start, "0004")

    migrate(project_copy, run_manage, postgres_url, "0004")
    psql(other_postgres_url, script)

    assert schema(other_postgres_url) == schema(postgres_url)
    assert records(other_postgres_url) == records(postgres_url)
    assert records(postgres_url)[0] == [("0004_make_email_unique",)]


def test_forwards_in_one_transaction_with_psql_1(project_copy, run_manage, postgres_url, other_postgres_url, tmp_path):
    for url in (postgres_url, other_postgres_url):
        migrate(project_copy, run_manage, url, "0001")
    script = range_sql(project_copy, run_manage, other_postgres_url, tmp_path, "0001", "head", "--single-transaction")
    assert not any(line in ("BEGIN;", "COMMIT;") for line in script.read_text().splitlines())

    migrate(project_copy, run_manage, postgres_url)
    psql(other_postgres_url, script, "-1")

    assert schema(other_postgres_url) == schema(postgres_url)
    assert records(other_postgres_url) == records(postgres_url)


@pytest.mark.parametrize("one_transaction", [False, True])
def test_backwards(project_copy, run_manage, postgres_url, other_postgres_url, tmp_path, one_transaction):
    for url in (postgres_url, other_postgres_url):
        migrate(project_copy, run_manage, url)
    options = ("--backwards", "--single-transaction") if one_transaction else ("--backwards",)
    script = range_sql(project_copy, run_manage, other_postgres_url, tmp_path, "0002", "0004", *options)

    migrate(project_copy, run_manage, postgres_url, "0002")
    psql(other_postgres_url, script, *(["-1"] if one_transaction else []))

    assert schema(other_postgres_url) == schema(postgres_url)
    assert records(other_postgres_url) == records(postgres_url)
    assert records(postgres_url)[0] == [("0002_create_table_rooms",)]


NOT_ATOMIC = textwrap.dedent('''\
    """0005_code"""
    from alembic import op
    import sqlalchemy as sa

    revision = '0005_code'
    down_revision = '0004_make_email_unique'
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        op.add_column('users', sa.Column('code', sa.String(20), nullable=True))
        with op.get_context().autocommit_block():
            op.create_index('ix_users_code', 'users', ['code'], postgresql_concurrently=True)


    def downgrade() -> None:
        op.drop_index('ix_users_code', table_name='users')
        op.drop_column('users', 'code')
''')


def test_a_migration_that_is_not_atomic(project_copy, run_manage, postgres_url, other_postgres_url, tmp_path):
    (project_copy / "migrations" / "versions" / "0005_code.py").write_text(NOT_ATOMIC)
    for url in (postgres_url, other_postgres_url):
        migrate(project_copy, run_manage, url, "0004")

    refused = run_manage(project_copy, "sqlmigrate", "project", "0004", "0005", "--single-transaction",
                         database_url=postgres_url)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("CommandError: 0005_code is not atomic")

    script = range_sql(project_copy, run_manage, other_postgres_url, tmp_path, "0004", "0005")
    assert "-- 0005_code is not atomic" in script.read_text()
    migrate(project_copy, run_manage, postgres_url)
    psql(other_postgres_url, script)
    assert schema(other_postgres_url) == schema(postgres_url)
    assert records(other_postgres_url) == records(postgres_url)


def test_refusals(project_copy, run_manage, sqlite_url, postgres_url):
    on_sqlite = run_manage(project_copy, "sqlmigrate", "project", "0001", "0004", database_url=sqlite_url)
    nothing = run_manage(project_copy, "sqlmigrate", "project", "0004", "0004", database_url=postgres_url)
    one_migration = run_manage(project_copy, "sqlmigrate", "0002", "--single-transaction", database_url=postgres_url)

    assert on_sqlite.returncode == 1 and on_sqlite.stderr.startswith("CommandError: ")
    assert nothing.returncode == 1 and nothing.stderr.startswith("CommandError: No migration runs from ")
    assert one_migration.returncode == 2  # a usage error: the flag is for a range


def mariadb_client(url: str, *program: str, script=None) -> str:
    """``mariadb`` or ``mariadb-dump`` on the database, as a DBA runs them."""
    url = make_url(url)
    ran = subprocess.run([*program, "-h", url.host, "-P", str(url.port or 3306), "-u", url.username, url.database],
                         input=script.read_text() if script else "", capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


@pytest.mark.skipif(subprocess.run(["which", "mariadb-dump"], capture_output=True).returncode != 0,
                    reason="the MariaDB client is not installed")
def test_forwards_on_mariadb(project_copy, run_manage, mariadb_url, other_mariadb_url, tmp_path):
    for url in (mariadb_url, other_mariadb_url):
        migrate(project_copy, run_manage, url, "0001")
    script = range_sql(project_copy, run_manage, other_mariadb_url, tmp_path, "0001", "0004")

    migrate(project_copy, run_manage, mariadb_url, "0004")
    mariadb_client(other_mariadb_url, "mariadb", script=script)

    def dumped(url):
        return mariadb_client(url, "mariadb-dump", "--no-data", "--skip-comments", "--skip-dump-date").replace(
            make_url(url).database, "DATABASE")

    assert dumped(other_mariadb_url) == dumped(mariadb_url)
    assert records(other_mariadb_url) == records(mariadb_url)


def test_from_zero_on_a_database_taken_back_to_zero(project_copy, run_manage, postgres_url, other_postgres_url,
                                                    tmp_path):
    """``migrate zero`` keeps the version table, empty: the range creates it only if it is missing."""
    for url in (postgres_url, other_postgres_url):
        migrate(project_copy, run_manage, url)
        migrate(project_copy, run_manage, url, "zero")
    script = range_sql(project_copy, run_manage, other_postgres_url, tmp_path, "zero", "head", "--single-transaction")

    migrate(project_copy, run_manage, postgres_url)
    psql(other_postgres_url, script, "-1")

    assert schema(other_postgres_url) == schema(postgres_url)
    assert records(other_postgres_url) == records(postgres_url)
