"""``python manage.py test`` and the pytest plugin: the test database built by the migrations once
per session (a copy of a template after the first), each test's work rolled back, --reuse-db,
--create-db, a database per pytest-xdist worker, nothing left behind.

Each test runs ``manage.py test`` on a copy of the sample project with a tests/ of its own
(INNER_TESTS), whose tests write what they saw (database, version, history, rows) to a file;
the databases are then looked at directly."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from manage_migrations.cli import cli

HEAD = "0004_make_email_unique"

INNER_TESTS = '''\
import json
import os

import pytest
import sqlalchemy as sa

from project.models.hotels import Hotel


@pytest.mark.parametrize("run", range(4))
def test_what_the_test_database_holds(db_session, db_url, run):
    """Each writes what it saw, then commits a row, which the next one must not see."""
    count = sa.select(sa.func.count()).select_from(Hotel)
    seen = {"database": os.path.basename(db_url.database), "hotels": db_session.scalar(count),
            "version": db_session.scalars(sa.text("SELECT version_num FROM alembic_version")).all(),
            "history": sorted([revision, str(applied)] for revision, applied in
                              db_session.execute(sa.text("SELECT revision, applied FROM manage_migrations")))}
    with open(os.environ["SEEN"], "a") as report:
        report.write(json.dumps(seen) + "\\n")
    db_session.add(Hotel(name=f"Committed by test {run}", city="Lyon"))
    db_session.commit()
    assert db_session.scalar(count) == seen["hotels"] + 1


def test_a_connection_s_work_is_rolled_back_too(db_connection, db_engine):
    db_connection.execute(sa.text("INSERT INTO hotels (name, city) VALUES ('Uncommitted', 'Nice')"))
    with db_engine.connect() as other:
        assert other.scalar(sa.text("SELECT count(*) FROM hotels WHERE name = 'Uncommitted'")) == 0
'''

NEW_MIGRATION = '''\
"""add hotels.stars"""
import sqlalchemy as sa
from alembic import op

revision = "0005_hotels_stars"
down_revision = "0004_make_email_unique"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("hotels", sa.Column("stars", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("hotels", "stars")
'''


@pytest.fixture
def site(project_copy) -> Path:
    """The sample project with the tests above."""
    (project_copy / "tests").mkdir()
    (project_copy / "tests" / "test_inner.py").write_text(INNER_TESTS)
    return project_copy


@pytest.fixture
def manage_test(site, tmp_path):
    """``manage_test(url, *args)``: ``python manage.py test ARGS`` in the project on ``url``, in a
    subprocess that neither inherits this run's pytest(-xdist) variables nor the user's cache.
    Returns the finished process and what each inner test saw."""

    def run(url: str, *args: str, program=("manage.py", "test")):
        seen = tmp_path / "seen.jsonl"
        seen.unlink(missing_ok=True)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PYTEST_", "MANAGE_MIGRATIONS_")) and key != "DATABASE_URL"}
        env.update(DATABASE_URL=url, SEEN=str(seen), XDG_CACHE_HOME=str(tmp_path / "cache"))
        result = subprocess.run([sys.executable, *program, "-p", "no:cacheprovider", *args], cwd=site, env=env,
                                capture_output=True, text=True, timeout=300)
        lines = seen.read_text().splitlines() if seen.exists() else []
        return result, [json.loads(line) for line in lines]

    return run


def name_for_tests(url: str) -> str:
    """Django's: ``test_`` and the configured database's name (for a file, without .sqlite3)."""
    return f"test_{Path(make_url(url).database).name}".removesuffix(".sqlite3")


def server_databases(url: str) -> dict[str, int]:
    """The databases of ``url``'s server whose names start with its test database's, with their
    OIDs on PostgreSQL (0 on MariaDB)."""
    parsed, prefix = make_url(url), name_for_tests(url)
    postgres = parsed.get_backend_name() == "postgresql"
    engine = sa.create_engine(parsed.set(database="postgres" if postgres else ""), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT datname, oid FROM pg_database" if postgres else
                                              "SELECT schema_name, 0 FROM information_schema.schemata")).all()
    finally:
        engine.dispose()
    return {name: oid for name, oid in rows if name.startswith(prefix)}


@pytest.fixture
def cleaned():
    """``cleaned(url)``: ``url``, whose test databases and templates are dropped after the test."""
    urls = []

    def clean_afterwards(url: str) -> str:
        urls.append(url)
        return url

    yield clean_afterwards
    for url in urls:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            continue  # in the test's own folder
        postgres = parsed.get_backend_name() == "postgresql"
        engine = sa.create_engine(parsed.set(database="postgres" if postgres else ""), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for name in server_databases(url):
                    if postgres:
                        connection.exec_driver_sql(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{' WITH (FORCE)' if postgres else ''}")
        finally:
            engine.dispose()


def exists(url: str, name: str) -> bool:
    """Whether the test database ``name`` is there: beside the SQLite file, or on the server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return (Path(parsed.database).parent / f"{name}.sqlite3").exists()
    return name in server_databases(url)


def templates(url: str, cache: Path) -> dict[str, int]:
    """The templates of the project's test database: PostgreSQL's databases (by OID), SQLite's
    files in the cache (by inode)."""
    if make_url(url).get_backend_name() == "sqlite":
        return {path.name: path.stat().st_ino for path in cache.rglob("test-template-*.sqlite3")}
    return {name: oid for name, oid in server_databases(url).items() if "_tpl_" in name}


def passed(result) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_built_by_the_migrations_rolled_back_after_each_test_and_dropped(request, backend, manage_test, cleaned,
                                                                         tmp_path):
    """The test database is ``test_<name>`` at head with manage.py's history; each test's
    commit is rolled back; at the end it is gone and the template stays. A second session's
    database is a copy of the same template: the history's dates are the first session's."""
    url = cleaned(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url"))
    name, cache = name_for_tests(url), tmp_path / "cache"

    result, seen = manage_test(url)
    passed(result)
    assert [s["database"].removesuffix(".sqlite3") for s in seen] == [name] * 4
    assert all(s["version"] == [HEAD] for s in seen)
    assert [revision for revision, _ in seen[0]["history"]] == sorted(path.stem for path in (
        Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("0*.py"))
    assert [s["hotels"] for s in seen] == [0, 0, 0, 0]  # each test's committed row rolled back
    assert not exists(url, name)
    built = templates(url, cache)
    assert len(built) == 1

    again, seen_again = manage_test(url)
    passed(again)
    assert seen_again[0]["history"] == seen[0]["history"]  # copied, not migrated again
    assert templates(url, cache) == built  # the same template, not built again
    assert not exists(url, name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reuse_db_keeps_it_until_the_migrations_change_and_create_db_rebuilds(request, backend, manage_test,
                                                                              cleaned, site, tmp_path, sql):
    url = cleaned(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url"))
    name, cache = name_for_tests(url), tmp_path / "cache"
    parsed = make_url(url)
    test_url = parsed.set(database=str(Path(parsed.database).with_name(f"{name}.sqlite3")) if backend == "sqlite"
                          else name).render_as_string(hide_password=False)

    result, first = manage_test(url, "--keepdb")  # Django's name for --reuse-db
    passed(result)
    assert exists(url, name)
    sql(test_url, "INSERT INTO hotels (name, city) VALUES ('Left by hand', 'Paris')")

    result, reused = manage_test(url, "--reuse-db")
    passed(result)
    assert [s["hotels"] for s in reused] == [1, 1, 1, 1]  # the same database, the row left in it
    assert reused[0]["history"] == first[0]["history"]

    result, rebuilt = manage_test(url, "--reuse-db", "--create-db")
    passed(result)
    assert [s["hotels"] for s in rebuilt] == [0, 0, 0, 0]
    assert rebuilt[0]["history"] != first[0]["history"]  # migrated again, template included

    sql(test_url, "INSERT INTO hotels (name, city) VALUES ('Left by hand', 'Paris')")
    (site / "migrations" / "versions" / "0005_hotels_stars.py").write_text(NEW_MIGRATION)
    result, changed = manage_test(url, "--reuse-db")
    passed(result)
    assert [s["version"] for s in changed] == [["0005_hotels_stars"]] * 4
    assert [s["hotels"] for s in changed] == [0, 0, 0, 0]  # rebuilt, not the stale one
    assert len(templates(url, cache)) == 1  # the older digest's template dropped

    passed(manage_test(url)[0])  # without --reuse-db: dropped at the end
    assert not exists(url, name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_each_xdist_worker_gets_a_copy_of_one_template(request, backend, manage_test, cleaned, tmp_path):
    url = cleaned(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url"))
    name, cache = name_for_tests(url), tmp_path / "cache"

    result, seen = manage_test(url, "-n", "2")
    passed(result)
    assert {s["database"].removesuffix(".sqlite3") for s in seen} == {f"{name}_gw0", f"{name}_gw1"}
    assert all(s["version"] == [HEAD] and s["hotels"] == 0 for s in seen)
    assert len({json.dumps(s["history"]) for s in seen}) == 1  # both copies of the one migrated template
    assert len(templates(url, cache)) == 1
    assert not exists(url, f"{name}_gw0") and not exists(url, f"{name}_gw1")


def test_mariadb_migrates_each_test_database(mariadb_url, manage_test, cleaned):
    url = cleaned(mariadb_url)

    result, seen = manage_test(url)
    passed(result)
    assert all(s["version"] == [HEAD] and s["hotels"] == 0 and len(s["history"]) == 4 for s in seen)
    assert server_databases(url) == {}  # dropped, and no template


def test_exit_status_is_pytest_s_and_no_database_is_made_when_no_test_asks(manage_test, site, sqlite_url, tmp_path):
    (site / "tests" / "test_inner.py").write_text("def test_fails():\n    assert False\n")
    failed, _ = manage_test(sqlite_url)
    assert failed.returncode == 1
    (site / "tests" / "test_inner.py").write_text("def test_passes():\n    pass\n")
    passed(manage_test(sqlite_url)[0])
    assert sorted(path.name for path in tmp_path.glob("*.sqlite3")) == []
    assert list((tmp_path / "cache").rglob("test-*")) == []


def test_the_settings_come_from_the_option_the_ini_or_manage_py(manage_test, site, sqlite_url):
    """Plain pytest: our one line when nothing names the settings, then --manage-settings, then
    the ini option; an in-memory SQLite URL is refused in our words."""
    pytest_run = ("-m", "pytest")
    result, _ = manage_test(sqlite_url, "-k", "rolled_back", program=pytest_run)
    assert result.returncode == 1
    assert "No settings for the test database: set manage_migrations_settings in the pytest config" in result.stdout
    passed(manage_test(sqlite_url, "--manage-settings", "project.settings", program=pytest_run)[0])
    (site / "pytest.ini").write_text("[pytest]\nmanage_migrations_settings = project.settings\n")
    passed(manage_test(sqlite_url, program=pytest_run)[0])

    result, _ = manage_test("sqlite:///:memory:", "-k", "rolled_back")
    assert result.returncode == 1
    assert "set DATABASE_URL to a file, not to an in-memory database" in result.stdout


def test_without_pytest_the_command_says_what_to_install(manage, monkeypatch):
    monkeypatch.setitem(sys.modules, "pytest", None)  # as if not installed: import pytest raises ImportError
    result = manage("test")
    assert result.exit_code == 1
    assert result.stderr.strip() == "CommandError: pytest is not installed: pip install 'manage-migrations[pytest]'."


def test_django_s_options_become_pytest_s(monkeypatch, settings):
    """--keepdb is --reuse-db, -v 2 is -v; everything else is passed on as given."""
    from click.testing import CliRunner

    given = []
    monkeypatch.setattr(pytest, "main", lambda args, plugins: given.append(args) or 0)
    result = CliRunner().invoke(cli, ["test", "-v", "2", "--keepdb", "tests/x.py", "-k", "a or b", "-n", "2"],
                                obj=settings)
    assert result.exit_code == 0, result.output
    assert given == [["-v", "--reuse-db", "tests/x.py", "-k", "a or b", "-n", "2"]]


PYTEST_DJANGO_OPTIONS = '''\
def pytest_addoption(parser):
    group = parser.getgroup("django")
    group.addoption("--reuse-db", action="store_true", dest="reuse_db", default=False)
    group.addoption("--create-db", action="store_true", dest="create_db", default=False)
'''


def test_beside_pytest_django_its_reuse_db_is_the_one_read(manage_test, site, sqlite_url):
    """A team moving from Django has pytest-django installed too, which adds --reuse-db and
    --create-db (here a stand-in with its options): they are not added twice (which would stop
    every pytest run), and its --reuse-db keeps the test database as ours does."""
    (site / "pytest_django").mkdir()
    (site / "pytest_django" / "__init__.py").write_text(PYTEST_DJANGO_OPTIONS)

    result, seen = manage_test(sqlite_url, "-p", "pytest_django", "--reuse-db")

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(seen) == 4
    assert (Path(make_url(sqlite_url).database).parent / f"{name_for_tests(sqlite_url)}.sqlite3").exists()
