"""makemigrations remembers a comparison that found nothing (``clean_checks``) and answers
the same inputs again without Alembic; whatever the answer could depend on that changed since
makes it compare in full, and give the answer a comparison from an empty cache gives. Each
change below is one a digest of the models alone could miss. Through ``python manage.py``, on
SQLite."""
import glob
import json
import re
import sqlite3

import pytest

NO_CHANGES = (0, ["No changes detected"])


def makemigrations_check(project, run_manage, url, **env):
    """(exit code, lines) of ``makemigrations --check``, and whether Alembic was imported."""
    result = run_manage(project, "makemigrations", "--check", database_url=url,
                        env={"PYTHONPROFILEIMPORTTIME": "1", **env})
    compared = any(re.search(r"\|\s+alembic$", line.rstrip()) for line in result.stderr.splitlines())
    return (result.returncode, result.stdout.splitlines()), compared


def answers(project, run_manage, url, tmp_path):
    """The answer with this test's cache, and the answer a run from an empty cache folder gives."""
    remembered, _ = makemigrations_check(project, run_manage, url)
    full, compared = makemigrations_check(project, run_manage, url, XDG_CACHE_HOME=str(tmp_path / "empty-cache"))
    assert compared
    return remembered, full


def remembered_clean(project, run_manage, url):
    """A first run compares and finds nothing; the second is answered from memory."""
    first, compared = makemigrations_check(project, run_manage, url)
    assert (first, compared) == (NO_CHANGES, True)
    second, compared = makemigrations_check(project, run_manage, url)
    assert (second, compared) == (NO_CHANGES, False)


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def models(project):
    return project / "project" / "models"


def test_a_clean_comparison_is_answered_again_without_alembic_and_check_uses_it(project_copy, run_manage, sqlite_url):
    remembered_clean(project_copy, run_manage, sqlite_url)
    result = run_manage(project_copy, "check", database_url=sqlite_url)
    assert result.returncode == 0
    assert "System check identified no issues." in result.stdout


def test_a_mixins_column(project_copy, run_manage, sqlite_url, tmp_path):
    (models(project_copy) / "mixins.py").write_text(
        "from sqlalchemy import String\nfrom sqlalchemy.orm import Mapped, mapped_column\n\n\n"
        "class Named:\n    name: Mapped[str] = mapped_column(String(200))\n")
    edit(models(project_copy) / "hotels.py", "class Hotel(Base):", "from project.models.mixins import Named\n\n\n"
                                                                   "class Hotel(Named, Base):")
    edit(models(project_copy) / "hotels.py", "    name: Mapped[str] = mapped_column(String(200))\n", "")
    remembered_clean(project_copy, run_manage, sqlite_url)

    edit(models(project_copy) / "mixins.py", "String(200)", "String(150)")

    remembered, full = answers(project_copy, run_manage, sqlite_url, tmp_path)
    assert remembered == full and full[0] == 1


@pytest.mark.parametrize("change", ["table_args", "server_default", "index_elsewhere"])
def test_a_table_option_a_server_default_and_an_index_declared_elsewhere(project_copy, run_manage, sqlite_url,
                                                                          tmp_path, change):
    remembered_clean(project_copy, run_manage, sqlite_url)

    if change == "table_args":
        edit(models(project_copy) / "hotels.py", '    __tablename__ = "hotels"\n',
             '    __tablename__ = "hotels"\n    __table_args__ = (Index("ix_hotels_city", "city"),)\n')
        edit(models(project_copy) / "hotels.py", "from sqlalchemy import String", "from sqlalchemy import Index, String")
    elif change == "server_default":
        edit(models(project_copy) / "users.py", "mapped_column(String(200))",
             "mapped_column(String(200), server_default='nobody')")
    else:  # in a module of its own, after the class
        (models(project_copy) / "zz_indexes.py").write_text(
            "from sqlalchemy import Index\nfrom project.models.rooms import Room\n\n"
            "Index('ix_rooms_number', Room.number)\n")

    remembered, full = answers(project_copy, run_manage, sqlite_url, tmp_path)
    assert remembered == full and full[0] == 1


def test_an_enum_value_and_a_type_decorators_impl(project_copy, run_manage, sqlite_url, tmp_path):
    (models(project_copy) / "types.py").write_text(
        "from sqlalchemy import String, types\n\n\nclass Code(types.TypeDecorator):\n"
        "    impl = String(20)\n    cache_ok = True\n")
    edit(models(project_copy) / "users.py", "from sqlalchemy import String",
         "from sqlalchemy import Enum, String\nfrom project.models.types import Code")
    edit(models(project_copy) / "users.py", "    full_name:",
         "    code: Mapped[str | None] = mapped_column(Code())\n"
         "    level: Mapped[str | None] = mapped_column(Enum('a', 'bb', name='level'))\n    full_name:")
    # Alembic writes the type by its module's name, which the migration must import (its docs' advice).
    assert run_manage(project_copy, "makemigrations", database_url=sqlite_url).returncode == 1
    [new] = (project_copy / "migrations" / "versions").glob("0005_*.py")
    edit(new, "import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport project.models.types\n")
    remembered_clean(project_copy, run_manage, sqlite_url)

    edit(models(project_copy) / "users.py", "Enum('a', 'bb', name='level')", "Enum('a', 'bb', 'cccc', name='level')")
    remembered, full = answers(project_copy, run_manage, sqlite_url, tmp_path)
    assert remembered == full and full[0] == 1

    edit(models(project_copy) / "users.py", "Enum('a', 'bb', 'cccc', name='level')", "Enum('a', 'bb', name='level')")
    assert makemigrations_check(project_copy, run_manage, sqlite_url)[0] == NO_CHANGES
    edit(models(project_copy) / "types.py", "impl = String(20)", "impl = String(40)")
    remembered, full = answers(project_copy, run_manage, sqlite_url, tmp_path)
    assert remembered == full and full[0] == 1


def test_a_hook_of_env_py_of_its_own_is_never_answered_from_memory(project_copy, run_manage, sqlite_url, tmp_path):
    """env.py's include_object hides a table no migration creates, by an environment variable:
    what a hook decides by is not known, so each run compares."""
    (project_copy / "project" / "hooks.py").write_text(
        "import os\n\n\ndef include_object(item, name, type_, reflected, compare_to):\n"
        "    return not (type_ == 'table' and name == os.environ.get('HIDDEN_TABLE', 'notes'))\n")
    edit(project_copy / "migrations" / "env.py", "    include_name=environment.include_name,\n",
         "    include_name=environment.include_name,\n    include_object=hooks.include_object,\n")
    edit(project_copy / "migrations" / "env.py", "from manage_migrations import environment",
         "from manage_migrations import environment\nfrom project import hooks")
    (models(project_copy) / "notes.py").write_text(
        "from sqlalchemy.orm import Mapped, mapped_column\nfrom project.models.base import Base\n\n\n"
        "class Note(Base):\n    __tablename__ = 'notes'\n    id: Mapped[int] = mapped_column(primary_key=True)\n")
    for _ in range(2):
        assert makemigrations_check(project_copy, run_manage, sqlite_url) == (NO_CHANGES, True)

    (code, _), compared = makemigrations_check(project_copy, run_manage, sqlite_url, HIDDEN_TABLE="nothing")

    assert (code, compared) == (1, True)


def test_a_scratch_database_changed_by_hand_is_compared_again(project_copy, run_manage, sqlite_url, tmp_path):
    remembered_clean(project_copy, run_manage, sqlite_url)
    [scratch] = glob.glob(str(tmp_path / "cache" / "manage-migrations" / "*" / "scratch-*.sqlite3"))
    with sqlite3.connect(scratch) as connection:
        connection.execute("ALTER TABLE hotels ADD COLUMN stars INTEGER")

    (code, lines), compared = makemigrations_check(project_copy, run_manage, sqlite_url)

    assert compared and code == 1
    assert any("stars" in line for line in lines)


def test_models_without_a_stable_text_are_always_compared(project_copy, run_manage, sqlite_url, tmp_path):
    """A default whose only text names a memory address has no canonical form: nothing is kept."""
    edit(models(project_copy) / "rooms.py", "mapped_column(default=1)", "mapped_column(default=object())")

    for _ in range(2):
        assert makemigrations_check(project_copy, run_manage, sqlite_url) == (NO_CHANGES, True)
    kept = glob.glob(str(tmp_path / "cache" / "manage-migrations" / "*" / "clean-checks.json"))
    assert not kept or json.loads(open(kept[0]).read()) == {}


def test_a_new_migration_file_is_compared_again(project_copy, run_manage, sqlite_url, tmp_path):
    remembered_clean(project_copy, run_manage, sqlite_url)
    edit(models(project_copy) / "users.py", "    full_name:", "    phone: Mapped[str | None] = mapped_column(String(30))\n"
                                                             "    full_name:")
    assert run_manage(project_copy, "makemigrations", database_url=sqlite_url).returncode == 0

    assert makemigrations_check(project_copy, run_manage, sqlite_url) == (NO_CHANGES, True)
    assert makemigrations_check(project_copy, run_manage, sqlite_url) == (NO_CHANGES, False)
    versions = project_copy / "migrations" / "versions"
    [new] = versions.glob("0005_*.py")
    edit(new, "String(length=30)", "String(length=31)")

    remembered, full = answers(project_copy, run_manage, sqlite_url, tmp_path)
    assert remembered == full and full[0] == 1


def test_check_imports_the_migration_files_again_once_what_they_import_changed(project_copy, run_manage, sqlite_url):
    """check remembers that every migration file imports; a module one of them imports that
    no longer does is found all the same."""
    (project_copy / "project" / "helpers.py").write_text("DEFAULT = 1\n")
    [first] = (project_copy / "migrations" / "versions").glob("0001_*.py")
    edit(first, "import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport project.helpers\n")
    for _ in range(2):
        result = run_manage(project_copy, "check", database_url=sqlite_url)
        assert result.returncode == 0, result.stderr

    (project_copy / "project" / "helpers.py").write_text("raise RuntimeError('helpers are broken')\n")

    result = run_manage(project_copy, "check", database_url=sqlite_url)
    assert result.returncode == 1
    assert first.name in result.stdout


def test_another_import_path_checks_again(project_copy, run_manage, sqlite_url, tmp_path):
    """A module the migrations import, found through PYTHONPATH (another virtual environment
    alike): without it, check fails as a check from an empty cache does."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "helperlib.py").write_text("DEFAULT = 1\n")
    [first] = (project_copy / "migrations" / "versions").glob("0001_*.py")
    edit(first, "import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport helperlib\n")
    for _ in range(2):
        assert run_manage(project_copy, "check", database_url=sqlite_url, env={"PYTHONPATH": str(elsewhere)}) \
            .returncode == 0

    result = run_manage(project_copy, "check", database_url=sqlite_url)

    assert result.returncode == 1
    assert first.name in result.stdout
