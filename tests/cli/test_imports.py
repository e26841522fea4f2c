"""``manage.py --help`` must stay fast: it never imports SQLAlchemy or Alembic. Nor does the
deploy hot path (``migrate`` at head) import SQLAlchemy (where the driver reads the record
alone), Alembic, the models or python-dotenv it has no use for.

Each check runs in a fresh interpreter (this test process has long imported both). --help
touches nothing, so running it in the repository itself is safe."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from manage_migrations import direct

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "manage_migrations.database", "manage_migrations.migrations")

SCRIPT = """
import contextlib, io, json, sys
from manage_migrations.cli import cli
output = io.StringIO()
with contextlib.redirect_stdout(output):
    code = cli.main(sys.argv[1:], prog_name="manage.py", standalone_mode=False)
print(json.dumps({
    "code": code,
    "help": output.getvalue(),
    "modules": sorted(name for name in sys.modules if name.split(".")[0] in ("sqlalchemy", "alembic")
                      or name in ("manage_migrations.database", "manage_migrations.migrations")),
}))
"""

HELP_ARGS = [
    ["--help"],
    ["-h"],
    ["migrate", "--help"],
    ["makemigrations", "--help"],
    ["showmigrations", "--help"],
    ["fake", "--help"],
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", HELP_ARGS, ids=" ".join)
def test_help_imports_neither_sqlalchemy_nor_alembic(args):
    result = run("-c", SCRIPT, *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert "--verbosity" in report["help"]
    assert report["modules"] == []


def test_the_check_itself_sees_sqlalchemy_when_a_command_imports_it():
    """The script above can fail: importing the commands' module does load SQLAlchemy."""
    result = run("-c", "import sys, manage_migrations.migrations; print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("args", [["--help"], ["migrate", "--help"]], ids=" ".join)
def test_manage_py_help_by_importtime(args):
    result = run("-X", "importtime", "manage.py", *args)
    assert result.returncode == 0, result.stderr
    assert "--verbosity" in result.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "manage_migrations.cli" in imported
    assert [name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic") or name in HEAVY] == []


def imported_by(result: subprocess.CompletedProcess) -> list[str]:
    """The modules a run imported, from what PYTHONPROFILEIMPORTTIME=1 (``-X importtime``) printed."""
    return [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]


@pytest.mark.parametrize("args", [["migrate"], ["migrate", "--check"], ["showmigrations"]], ids=" ".join)
def test_the_deploy_hot_path_imports_neither_sqlalchemy_nor_alembic_nor_the_models(project_copy, run_manage,
                                                                                   sqlite_url, args):
    """At head the record is read through the driver itself (``direct``)."""
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0

    result = run_manage(project_copy, *args, database_url=sqlite_url, env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert result.returncode == 0, result.stderr
    imported = imported_by(result)
    assert "manage_migrations.direct" in imported and any(name.startswith("sqlite3") for name in imported)
    assert [name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic", "mako", "dotenv")
            or name.startswith(("project.models", "manage_migrations.migrations", "sqlalchemy.orm"))] == []


def test_python_dotenv_is_imported_when_there_is_a_dot_env_to_read(project_copy, run_manage, sqlite_url):
    (project_copy / ".env").write_text(f"DATABASE_URL={sqlite_url}\n")

    result = run_manage(project_copy, "showmigrations", env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert result.returncode == 0, result.stderr
    assert "dotenv" in imported_by(result)
    assert "[ ] 0001_create_table_hotels" in result.stdout


URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}
DJANGO_AT_HEAD = ("Operations to perform:\n  Apply all migrations: project\n"
                  "Running migrations:\n  No migrations to apply.\n")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_manage_py_migrate_at_head_imports_no_sqlalchemy(project_copy, run_manage, request, kind):
    url = request.getfixturevalue(URL_FIXTURES[kind])
    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0

    result = run_manage(project_copy, "migrate", database_url=url, env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert (result.returncode, result.stdout) == (0, DJANGO_AT_HEAD), result.stderr
    imported = imported_by(result)
    assert "manage_migrations.direct" in imported
    assert [name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic")] == []


@pytest.mark.parametrize("kind, url_of", [
    ("sqlite", lambda url: url + "?timeout=3"),
    ("postgresql", lambda url: make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)),
    ("mariadb", lambda url: url + "?connect_timeout=3"),
])
def test_manage_py_migrate_with_a_url_left_to_sqlalchemy(project_copy, run_manage, request, kind, url_of):
    url = url_of(request.getfixturevalue(URL_FIXTURES[kind]))
    assert direct.connect_arguments(url, project_copy) is None
    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0

    result = run_manage(project_copy, "migrate", database_url=url, env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert (result.returncode, result.stdout) == (0, DJANGO_AT_HEAD), result.stderr
    assert "sqlalchemy" in imported_by(result)
