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


def test_an_env_py_with_a_version_table_of_its_own_is_refused_before_anything_runs(make_settings, project_copy,
                                                                                   sqlite_url):
    env_py = project_copy / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace("    transaction_per_migration=True,\n",
                                                 "    transaction_per_migration=True,\n    version_table='our_versions',\n"))

    result = CliRunner().invoke(cli, ["migrate"], obj=make_settings(project_copy, sqlite_url))

    assert result.exit_code == 1, result.output
    assert "keeps Alembic's versions in our_versions; manage.py reads alembic_version alone" in result.stderr
    engine = sa.create_engine(sqlite_url)
    try:
        assert not {"hotels", "our_versions"} & set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
