"""Fixtures shared by every test: each test gets its own database and, where it writes
files, its own copy of the project. Nothing here changes os.environ or the working directory."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from manage_migrations.cli import cli
from manage_migrations.conf import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")
MARIADB_SERVER = os.environ.get("TEST_MARIADB_SERVER", "mysql+pymysql://root@127.0.0.1:3306")
# CI sets this: a database server that does not answer is then a failure, not a skip.
REQUIRE_SERVERS = os.environ.get("REQUIRE_DATABASE_SERVERS") == "1"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


def server_database(server: str, maintenance_db: str, drop_suffix: str = ""):
    """A new, empty database with a unique name on ``server``, dropped afterwards. Skips when
    no server answers, unless REQUIRE_DATABASE_SERVERS=1 (as in CI), where that fails."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{server}/{maintenance_db}", isolation_level="AUTOCOMMIT")
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except (sa.exc.OperationalError, ImportError) as exc:
        admin.dispose()
        message = f"no database server at {server}: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{drop_suffix}")
        admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database of the test's own (see ``server_database``)."""
    yield from server_database(POSTGRES_SERVER, "postgres", drop_suffix=" WITH (FORCE)")


@pytest.fixture
def mariadb_url():
    """A fresh MariaDB database of the test's own (see ``server_database``)."""
    yield from server_database(MARIADB_SERVER, "")


@pytest.fixture
def other_postgres_url():
    """A second fresh PostgreSQL database, for a test that compares two."""
    yield from server_database(POSTGRES_SERVER, "postgres", drop_suffix=" WITH (FORCE)")


@pytest.fixture
def other_mariadb_url():
    """A second fresh MariaDB database, for a test that compares two."""
    yield from server_database(MARIADB_SERVER, "")


@pytest.fixture
def sql():
    """``sql(url, statement)``: one statement in a transaction of its own, committed; its rows
    as tuples, if it returns any."""
    import sqlalchemy as sa

    def run(url: str, statement: str) -> list[tuple]:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                result = connection.execute(sa.text(statement))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    return run


@pytest.fixture
def database_servers() -> dict:
    """The servers' URLs without a database, for settings that name servers (TRY_MIGRATIONS_ON)."""
    return {"postgresql": POSTGRES_SERVER, "mariadb": MARIADB_SERVER}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def make_settings():
    """``make_settings(folder, url)``: the sample project's settings (project/settings.py) for
    the project in ``folder`` (the repository, or a copy of it), on the database ``url``,
    whatever the environment or a .env says."""

    def make(base_dir: Path, database_url: str) -> Settings:
        settings = load_settings("project.settings", environ={"DATABASE_URL": database_url})
        if Path(base_dir) == REPO:
            return settings
        import dataclasses

        from manage_migrations.conf import alembic_options, import_settings, version_table_of

        config = Path(base_dir) / "pyproject.toml"
        moved = alembic_options(config, Path(base_dir)) if config.exists() else {
            "migrations_dir": Path(base_dir) / "migrations", "config_file": None}
        moved.pop("sqlalchemy_url", None)
        moved.update(version_table_of(import_settings("project.settings"), moved["migrations_dir"] / "env.py"))
        return dataclasses.replace(settings, base_dir=Path(base_dir), **moved)

    return make


@pytest.fixture
def settings(make_settings, sqlite_url) -> Settings:
    """The repository's own migrations and models, on a database of the test's own."""
    return make_settings(REPO, sqlite_url)


@pytest.fixture
def manage(settings):
    """Run a command in-process through Click's CliRunner: ``manage("migrate", "0002")``."""

    def invoke(*args: str, settings: Settings = settings):
        return CliRunner().invoke(cli, list(args), obj=settings)

    return invoke


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A copy of the project (manage.py, pyproject.toml, project/, migrations/) that a test may change freely."""
    site = tmp_path / "site"
    site.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.sqlite3", ".env")
    for name in ("manage.py", "pyproject.toml"):
        shutil.copy2(REPO / name, site / name)
    for folder in ("project", "migrations"):
        shutil.copytree(REPO / folder, site / folder, ignore=ignore)
    return site


@pytest.fixture
def set_version_table():
    """``set_version_table(project, "'billing_versions'")``: the project's env.py given
    ``version_table=<that Python source>`` among the options it passes to configure()."""

    def edit(project: Path, source: str) -> None:
        env_py = project / "migrations" / "env.py"
        text = env_py.read_text()
        assert "    transaction_per_migration=True,\n" in text
        env_py.write_text(text.replace("    transaction_per_migration=True,\n",
                                       f"    transaction_per_migration=True,\n    version_table={source},\n"))

    return edit


@pytest.fixture
def run_manage(tmp_path):
    """``run_manage(folder, "migrate", database_url=...)``: ``python manage.py ...`` in a
    subprocess, whose caches go to the test's own folder rather than the user's."""

    def run(*args, env: dict | None = None, **options):
        return run_manage_py(*args, env={"XDG_CACHE_HOME": str(tmp_path / "cache"), **(env or {})}, **options)

    return run


@pytest.fixture
def run_alembic(tmp_path):
    """``run_alembic(folder, "upgrade", "heads", database_url=...)``: ``python -m alembic ...`` in
    a subprocess in ``folder``, as a user types it there (the counterpart of ``run_manage``)."""

    def run(folder: Path, *args: str, database_url: str) -> subprocess.CompletedProcess:
        env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
        env.update(DATABASE_URL=database_url, XDG_CACHE_HOME=str(tmp_path / "cache"))
        return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)

    return run


def run_on_a_terminal(folder: Path, *args: str, database_url: str, env: dict | None = None):
    """``python manage.py ARGS`` with its standard output on a pseudo-terminal, as a developer
    runs it: its exit status, what it wrote there (``\r\n`` read as ``\n``), and its stderr."""
    import pty

    controller, terminal = pty.openpty()
    child_env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": database_url,
                 **(env or {})}
    with subprocess.Popen([sys.executable, str(folder / "manage.py"), *args], cwd=folder, env=child_env,
                          stdout=terminal, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as process:
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        status, errors = process.wait(timeout=120), process.stderr.read().decode()
    os.close(controller)
    return status, output.decode().replace("\r\n", "\n"), errors


@pytest.fixture
def on_a_terminal(tmp_path):
    """``on_a_terminal(folder, "migrate", database_url=...)``: see ``run_on_a_terminal``; caches
    go to the test's own folder."""

    def run(folder: Path, *args: str, database_url: str, env: dict | None = None):
        return run_on_a_terminal(folder, *args, database_url=database_url,
                                 env={"XDG_CACHE_HOME": str(tmp_path / "cache"), **(env or {})})

    return run


def run_manage_py(folder: Path, *args: str, database_url: str | None = None, cwd: Path | None = None,
                  env: dict | None = None, input: str = "") -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` in a subprocess, as a user types it. The child gets a copy of
    this process's environment with DATABASE_URL set (or removed) and ``env`` added, and
    ``input`` as its standard input (by default none: input that has ended, as in CI)."""
    child_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        child_env["DATABASE_URL"] = database_url
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(folder / "manage.py"), *args],
        cwd=cwd or folder, env=child_env, capture_output=True, text=True, timeout=300, input=input,
    )
