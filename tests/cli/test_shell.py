"""``shell``, as Django 5.2's: every model, a Session on the configured database and SQLAlchemy
imported, with Django's line saying so; ``-c`` and piped input run instead of an interpreter;
IPython, bpython, then Python, or ``-i``."""
import importlib.util
import io

import pytest
import sqlalchemy as sa

from manage_migrations.commands.shell import shell
from manage_migrations.output import CommandError, Console

COUNT = "print(session.scalar(select(sa.func.count()).select_from(Hotel)), Room.__tablename__, User.__name__)"


def test_shell_c_and_piped_input_see_the_models_and_the_database(project_copy, run_manage, database_url):
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO hotels (name, city) VALUES ('Grand', 'Lyon'), ('Ritz', 'Paris')"))
    engine.dispose()

    ran = run_manage(project_copy, "shell", "-c", COUNT, database_url=database_url)
    assert (ran.returncode, ran.stdout) == (0, "2 rooms User\n"), ran.stderr
    assert ran.stderr == "8 objects imported automatically (use -v 2 for details).\n"

    piped = run_manage(project_copy, "shell", "-v", "2", database_url=database_url, input=COUNT + "\n")
    assert (piped.returncode, piped.stdout) == (0, "2 rooms User\n"), piped.stderr
    assert "  from project.models.rooms import Room" in piped.stderr.splitlines()

    failed = run_manage(project_copy, "shell", "-c", "Nowhere.query", database_url=database_url)
    assert failed.returncode == 1 and "NameError" in failed.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_plain_interpreter_gets_the_namespace(settings, monkeypatch, capsys):
    typed = iter(["found = Hotel.__tablename__", "print(found, select is sa.select)"])

    def read(prompt=""):
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", read)
    shell(settings, Console(1), interface="python", stdin=Terminal())
    out = capsys.readouterr().out
    assert out.startswith("8 objects imported automatically (use -v 2 for details).\n")
    assert "hotels True\n" in out


@pytest.mark.skipif(importlib.util.find_spec("bpython") is not None, reason="bpython is installed here")
def test_an_interface_that_is_not_installed_is_one_line(settings):
    with pytest.raises(CommandError, match="^Couldn't import bpython interface.$"):
        shell(settings, Console(1), interface="bpython", stdin=Terminal())


def test_an_asyncio_url_gets_a_session_through_the_blocking_driver(project_copy, run_manage, postgres_url):
    """postgresql+asyncpg: the shell's session is psycopg2's on the same database."""
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    asyncio_url = postgres_url.replace("postgresql+psycopg2://", "postgresql+asyncpg://")
    ran = run_manage(project_copy, "shell", "-c", COUNT, database_url=asyncio_url)
    assert (ran.returncode, ran.stdout) == (0, "0 rooms User\n"), ran.stderr
