"""``sqlmigrate`` on SQLite, through ``python manage.py``: a batch migration's table rebuild is
printed (Django prints its ``new__x`` rebuild), forwards and backwards, from a run on a scratch
database; the user's database is left as it was; and the printed SQL, run by sqlite3 on a copy
of a database where the migration starts, leaves what ``migrate`` leaves."""
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from migration_file import write_migration

OWN_TABLES = ("manage_migrations", "manage_migrations_unfinished")  # manage.py's history: not sqlmigrate's


def succeeded(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def statements(output: str) -> list[str]:
    """The printed statements and comments, each as sqlmigrate separates them (by a blank line)."""
    return [part.strip() for part in output.split("\n\n") if part.strip()]


def file_of(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def query(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def state(path: Path) -> dict:
    """What a migration can change: the schema (less manage.py's history tables; the SQL as
    SQLite keeps it, whitespace aside), the version table and the rows of the app's tables."""
    listed = query(path, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                         f"WHERE tbl_name NOT IN {OWN_TABLES} ORDER BY type, name")
    schema = [(kind, name, table, sql and " ".join(sql.split())) for kind, name, table, sql in listed]
    tables = [name for kind, name, _, _ in schema if kind == "table"]
    return {"schema": schema, **{table: sorted(query(path, f'SELECT * FROM "{table}"')) for table in tables}}


def run_script(path: Path, sql: str) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(sql)


def at(project, run_manage, url: str, target: str) -> None:
    succeeded(run_manage(project, "migrate", target, database_url=url))


def test_a_batch_migration_prints_the_table_rebuild_forwards_and_backwards(project_copy, run_manage, sqlite_url):
    forward = statements(succeeded(run_manage(project_copy, "sqlmigrate", "0004", database_url=sqlite_url)).stdout)
    backward = statements(succeeded(run_manage(project_copy, "sqlmigrate", "0004", "--backwards",
                                               database_url=sqlite_url)).stdout)

    for printed, comment, unique, version in (
            (forward, "-- Running upgrade 0003_add_users -> 0004_make_email_unique", True,
             "UPDATE alembic_version SET version_num='0004_make_email_unique' "
             "WHERE alembic_version.version_num = '0003_add_users';"),
            (backward, "-- Running downgrade 0004_make_email_unique -> 0003_add_users", False,
             "UPDATE alembic_version SET version_num='0003_add_users' "
             "WHERE alembic_version.version_num = '0004_make_email_unique';")):
        assert printed[:2] == ["BEGIN;", comment], printed
        create, copy, drop, rename = printed[2:6]
        new = create.split()[2]
        assert create.startswith(f"CREATE TABLE {new} (") and create.endswith(");"), create
        assert ("CONSTRAINT uq_users_email UNIQUE (email)" in create) is unique, create
        assert copy.startswith(f"INSERT INTO {new} (id, email, full_name) SELECT ") and "FROM users" in copy, copy
        assert drop == "DROP TABLE users;"
        assert rename == f"ALTER TABLE {new} RENAME TO users;"
        assert printed[6:] == [version, "COMMIT;"], printed


def test_the_users_database_is_left_as_it_was(project_copy, run_manage, sqlite_url):
    never_created = project_copy / "db.sqlite3"
    succeeded(run_manage(project_copy, "sqlmigrate", "0004", database_url=f"sqlite:///{never_created}"))
    assert not never_created.exists()

    at(project_copy, run_manage, sqlite_url, "0003")
    before = state(file_of(sqlite_url)), query(file_of(sqlite_url), "SELECT * FROM manage_migrations")
    for args in (["0004"], ["0004", "--backwards"], ["0001"], ["0003", "--backwards"]):
        succeeded(run_manage(project_copy, "sqlmigrate", *args, database_url=sqlite_url))

    assert (state(file_of(sqlite_url)), query(file_of(sqlite_url), "SELECT * FROM manage_migrations")) == before
    assert query(file_of(sqlite_url), "SELECT version_num FROM alembic_version") == [("0003_add_users",)]


def test_the_printed_sql_does_what_migrate_does_forwards_and_backwards(project_copy, run_manage, sqlite_url, tmp_path):
    migrated, copy = file_of(sqlite_url), tmp_path / "copy.sqlite3"
    at(project_copy, run_manage, sqlite_url, "0003")
    run_script(migrated, "INSERT INTO users (id, email, full_name) VALUES (1, 'ada@example.com', 'Ada');")

    for target, args in (("0004", ["0004"]), ("0003", ["0004", "--backwards"])):
        shutil.copy(migrated, copy)
        printed = succeeded(run_manage(project_copy, "sqlmigrate", *args, database_url=sqlite_url)).stdout
        run_script(copy, printed)
        at(project_copy, run_manage, sqlite_url, target)
        assert state(copy) == state(migrated)
    assert ("uq_users_email",) not in query(migrated, "SELECT name FROM sqlite_master")


def test_the_first_migration_creates_the_version_table_as_migrate_does(project_copy, run_manage, sqlite_url,
                                                                        tmp_path):
    printed = succeeded(run_manage(project_copy, "sqlmigrate", "0001", database_url=sqlite_url)).stdout
    assert not file_of(sqlite_url).exists()
    assert "-- Running upgrade  -> 0001_create_table_hotels" in statements(printed)

    empty = tmp_path / "empty.sqlite3"
    run_script(empty, printed)
    at(project_copy, run_manage, sqlite_url, "0001")
    assert state(empty) == state(file_of(sqlite_url))


def test_a_data_migrations_parameters_are_written_in_as_literals(project_copy, run_manage, sqlite_url, tmp_path):
    write_migration(project_copy, "0005_seed_hotels", "0004_make_email_unique", upgrade="\n            ".join([
        'hotels = sa.table("hotels", sa.column("id"), sa.column("name"), sa.column("city"))',
        'op.bulk_insert(hotels, [{"id": 1, "name": "O\'Neil", "city": "Cork"}, '
        '{"id": 2, "name": "Why?", "city": "Bath"}])',
        'op.execute(sa.text("UPDATE hotels SET city = \'Where?\' WHERE name = :name").bindparams(name="Why?"))',
    ]), downgrade='op.execute("DELETE FROM hotels")')
    migrated, copy = file_of(sqlite_url), tmp_path / "copy.sqlite3"
    at(project_copy, run_manage, sqlite_url, "0004")
    shutil.copy(migrated, copy)

    printed = succeeded(run_manage(project_copy, "sqlmigrate", "0005", database_url=sqlite_url)).stdout

    assert statements(printed)[2:5] == [
        "INSERT INTO hotels (id, name, city) VALUES (1, 'O''Neil', 'Cork');",
        "INSERT INTO hotels (id, name, city) VALUES (2, 'Why?', 'Bath');",
        "UPDATE hotels SET city = 'Where?' WHERE name = 'Why?';",
    ]
    run_script(copy, printed)
    at(project_copy, run_manage, sqlite_url, "0005")
    assert state(copy) == state(migrated)


def test_a_migration_that_cannot_run_is_one_line(project_copy, run_manage, sqlite_url):
    write_migration(project_copy, "0005_broken", "0004_make_email_unique",
                    upgrade='op.execute("UPDATE nowhere SET x = 1")')

    result = run_manage(project_copy, "sqlmigrate", "0005", database_url=sqlite_url)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("CommandError: Cannot write the SQL of 0005_broken: "), result.stderr
    assert not file_of(sqlite_url).exists()


def test_a_migration_that_commits_as_it_goes_shows_each_transaction(project_copy, run_manage, sqlite_url, tmp_path):
    write_migration(project_copy, "0005_users_code", "0004_make_email_unique", upgrade="\n            ".join([
        'op.add_column("users", sa.Column("code", sa.String(20), nullable=True))',
        "with op.get_context().autocommit_block():",
        '    op.create_index("ix_users_code", "users", ["code"], unique=True, postgresql_concurrently=True)',
    ]), downgrade='op.drop_index("ix_users_code", "users")\n            op.drop_column("users", "code")')
    migrated, copy = file_of(sqlite_url), tmp_path / "copy.sqlite3"
    at(project_copy, run_manage, sqlite_url, "0004")
    shutil.copy(migrated, copy)

    printed = succeeded(run_manage(project_copy, "sqlmigrate", "0005", database_url=sqlite_url)).stdout

    shown = statements(printed)
    assert shown[:2] == ["BEGIN;", "-- Running upgrade 0004_make_email_unique -> 0005_users_code"]
    transactions = "\n".join(shown[2:]).split("BEGIN;")
    assert len(transactions) >= 2 and all(t.rstrip().endswith("COMMIT;") for t in transactions), shown
    assert "ALTER TABLE users ADD COLUMN code VARCHAR(20);" in transactions[0]
    assert "CREATE UNIQUE INDEX ix_users_code ON users (code);" in transactions[1]
    run_script(copy, printed)
    at(project_copy, run_manage, sqlite_url, "0005")
    assert state(copy) == state(migrated)
