"""What a project's env.py gets from manage.py, and what it must not do: the sample project is what
startproject writes, -x reaches env.py, and an env.py that opens a connection of its own is
refused before anything runs."""
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from manage_migrations.cli import cli
from manage_migrations.commands.startproject import TEMPLATE, render

REPO = Path(__file__).resolve().parents[2]

# Alembic's generic env.py as `alembic init` writes it: an engine of its own from the config's
# sqlalchemy.url, whatever connection it is handed.
OWN_ENGINE_ENV = '''\
from alembic import context
from sqlalchemy import engine_from_config, pool

from project.models.base import Base

config = context.config
config.set_main_option("sqlalchemy.url", "{url}")
target_metadata = Base.metadata

connectable = engine_from_config(config.get_section(config.config_ini_section, {{}}), prefix="sqlalchemy.",
                                 poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
'''


def test_the_sample_project_is_what_startproject_writes():
    """This repository's env.py, script template and declarative base are startproject's files
    for a project named ``project``: the sample app uses the library as any project does. (Its
    manage.py differs in one way: from a checkout where the library is not installed, it uses
    the library's own folder, src/.)"""
    for ours, template in [("migrations/env.py", "migrations/env.py.tpl"),
                           ("migrations/script.py.mako", "migrations/script.py.mako"),
                           ("project/models/base.py", "project_name/models/base.py.tpl")]:
        assert (REPO / ours).read_text() == render(TEMPLATE / template, project_name="project",
                                                   settings_module="project.settings"), ours


def test_x_arguments_reach_env_py(project_copy, run_manage, sqlite_url):
    """``python manage.py -x tenant=acme migrate``, as ``alembic -x tenant=acme upgrade``."""
    env_py = project_copy / "migrations" / "env.py"
    seen = project_copy / "x.txt"
    env_py.write_text(env_py.read_text() + f"\nopen({str(seen)!r}, 'w').write(repr(context.get_x_argument("
                                           "as_dictionary=True)))\n")

    result = run_manage(project_copy, "-x", "tenant=acme", "-x", "dry=1", "migrate", "0001", database_url=sqlite_url)

    assert result.returncode == 0, result.stderr
    assert seen.read_text() == repr({"tenant": "acme", "dry": "1"})


def test_an_env_py_with_its_own_engine_is_refused_before_anything_runs(make_settings, project_copy, sqlite_url,
                                                                       tmp_path):
    """Alembic's own template ignores the connection manage.py hands it: it would run the
    scratch database's migrations, or the migrate it was asked, on whatever its config names."""
    elsewhere = tmp_path / "not_asked.sqlite3"
    (project_copy / "migrations" / "env.py").write_text(OWN_ENGINE_ENV.format(url=f"sqlite:///{elsewhere}"))
    settings = make_settings(project_copy, sqlite_url)

    for command in (["makemigrations", "--dry-run"], ["migrate"]):
        result = CliRunner().invoke(cli, command, obj=settings)
        assert result.exit_code == 1, result.output
        assert "does not use the connection manage.py hands it" in result.stderr
        assert "config.attributes.get('connection')" in result.stderr
    engine = sa.create_engine(f"sqlite:///{elsewhere}")
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_env_py_with_a_version_table_of_its_own_keeps_every_record_there(make_settings, project_copy, sqlite_url,
                                                                                 set_version_table):
    """Alembic's ``version_table`` honoured by every command, and manage.py's own tables named
    after it, so nothing is kept in alembic_version or manage_migrations."""
    set_version_table(project_copy, "'our_versions'")
    settings = make_settings(project_copy, sqlite_url)

    def manage(*args):
        result = CliRunner().invoke(cli, args, obj=settings)
        assert result.exit_code == 0, result.output
        return result.stdout

    manage("migrate", "0003")
    assert table_names(sqlite_url) == {"hotels", "rooms", "users", "our_versions", "our_versions_history"}
    assert "[X] 0003_add_users\n [ ] 0004_make_email_unique" in manage("showmigrations")
    manage("migrate")
    assert "No migrations to apply." in manage("migrate")
    assert "No changes detected" in manage("makemigrations", "--check", "--dry-run")  # its own tables not models
    manage("migrate", "zero")
    assert table_names(sqlite_url) == {"our_versions", "our_versions_history"}
    manage("fake", "0002")
    assert "[X] 0002_create_table_rooms\n [ ] 0003_add_users" in manage("showmigrations")


def test_a_version_table_env_py_computes_is_asked_of_the_settings(project_copy, run_manage, sqlite_url,
                                                                  set_version_table):
    """manage.py reads env.py without running it (``migrate`` at head never runs it): a value it
    computes cannot be read so, and is asked for by name, never guessed."""
    set_version_table(project_copy, "os.environ.get('VERSIONS', 'tenant_versions')")
    env_py = project_copy / "migrations" / "env.py"
    env_py.write_text("import os\n" + env_py.read_text())

    for command in (["showmigrations"], ["migrate"]):
        result = run_manage(project_copy, *command, database_url=sqlite_url)
        assert result.returncode == 1, result.stderr
        assert "computes version_table" in result.stderr
        assert "set VERSION_TABLE in the settings (project.settings) to the same" in result.stderr
    assert table_names(sqlite_url) == set()

    settings_py = project_copy / "project" / "settings.py"
    settings_py.write_text(settings_py.read_text() + "\nVERSION_TABLE = 'tenant_versions'\n")
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    assert {"tenant_versions", "tenant_versions_history"} <= table_names(sqlite_url)
    assert "[X] 0004_make_email_unique" in run_manage(project_copy, "showmigrations", database_url=sqlite_url).stdout


def test_settings_and_env_py_that_disagree_on_the_version_table_run_nothing(project_copy, run_manage, sqlite_url):
    """VERSION_TABLE in the settings while env.py keeps Alembic's default: env.py's migrations
    would record in one table and manage.py read another, so nothing runs."""
    settings_py = project_copy / "project" / "settings.py"
    settings_py.write_text(settings_py.read_text() + "\nVERSION_TABLE = 'tenant_versions'\n")

    result = run_manage(project_copy, "migrate", database_url=sqlite_url)

    assert result.returncode == 1, result.stderr
    assert "keeps Alembic's versions in alembic_version, and manage.py read tenant_versions" in result.stderr
    assert table_names(sqlite_url) == set()
