"""What a model can declare beyond columns and keys, as makemigrations sees it on each backend:
a change the database can hold is detected and settles once migrated; one it cannot hold (an
identity column on SQLite and MariaDB, a deferrable foreign key on MariaDB) is no change, never
one that comes back after every migrate. The README's list of what is detected is these tests."""
import pytest

COLLATION = {"postgresql": "C", "mariadb": "utf8mb4_bin"}
SUITES = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class Suite(Base):
    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(sa.Integer, sa.Identity(start=10), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
'''


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def backend(request):
    return request.param


@pytest.fixture
def url(request, backend):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[backend])


def changed(project, run_manage, url) -> bool:
    """makemigrations --check: whether it sees a change (exit 1) or none (exit 0)."""
    result = run_manage(project, "makemigrations", "--check", database_url=url)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 1


def migrated(project, run_manage, url) -> None:
    for command in (["makemigrations"], ["migrate"]):
        result = run_manage(project, *command, database_url=url)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_an_identity_column_settles_where_the_database_has_none(project_copy, run_manage, url):
    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0
    (project_copy / "project" / "models" / "suites.py").write_text(SUITES)
    assert changed(project_copy, run_manage, url)
    migrated(project_copy, run_manage, url)
    assert not changed(project_copy, run_manage, url)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])  # SQLite reports no collation (see the README)
def test_a_collation_added_and_removed_is_a_change_where_the_database_reports_it(project_copy, run_manage, url,
                                                                               backend):
    hotels = project_copy / "project" / "models" / "hotels.py"
    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0
    edit(hotels, "mapped_column(String(200))", f'mapped_column(String(200, collation="{COLLATION[backend]}"))')
    assert changed(project_copy, run_manage, url)
    migrated(project_copy, run_manage, url)
    assert not changed(project_copy, run_manage, url)
    edit(hotels, f'String(200, collation="{COLLATION[backend]}")', "String(200)")
    assert changed(project_copy, run_manage, url)
    migrated(project_copy, run_manage, url)
    assert not changed(project_copy, run_manage, url)


def test_a_deferrable_foreign_key_is_a_change_where_the_database_defers(project_copy, run_manage, url, backend):
    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0
    edit(project_copy / "project" / "models" / "rooms.py", 'ondelete="CASCADE"',
         'ondelete="CASCADE", deferrable=True, initially="DEFERRED"')
    assert changed(project_copy, run_manage, url) == (backend != "mariadb")
    if backend != "mariadb":
        migrated(project_copy, run_manage, url)
        assert not changed(project_copy, run_manage, url)


def test_a_change_makemigrations_cannot_write_fails_the_check_in_our_words(project_copy, run_manage, sqlite_url):
    """A computed column's changed expression: Alembic sees it and cannot write it; --check and
    check fail naming it, and makemigrations says so rather than only "No changes detected"."""
    rooms = project_copy / "project" / "models" / "rooms.py"
    edit(rooms, "from sqlalchemy import ForeignKey, Numeric, String",
         "from sqlalchemy import Computed, ForeignKey, Integer, Numeric, String")
    edit(rooms, "    price_per_night:", '    doubled: Mapped[int | None] = mapped_column(Integer, Computed("beds * 2"))\n'
                                       "    price_per_night:")
    migrated(project_copy, run_manage, sqlite_url)
    assert not changed(project_copy, run_manage, sqlite_url)
    edit(rooms, '"beds * 2"', '"beds * 3"')

    checked = run_manage(project_copy, "makemigrations", "--check", database_url=sqlite_url)
    assert checked.returncode == 1
    assert checked.stderr.splitlines()[-1].startswith(
        "CommandError: The models differ from the migrations in what makemigrations cannot write: ")
    assert run_manage(project_copy, "check", database_url=sqlite_url).returncode == 1
    made = run_manage(project_copy, "makemigrations", database_url=sqlite_url)
    assert made.returncode == 0 and made.stdout.splitlines()[-1] == "No changes detected"
    assert made.stderr.startswith("Not written by makemigrations: ")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # MariaDB has no partial indexes
def test_a_partial_index_whose_where_changed_is_made_again(project_copy, run_manage, url, backend):
    rooms = project_copy / "project" / "models" / "rooms.py"
    edit(rooms, "from sqlalchemy import ForeignKey, Numeric, String",
         "from sqlalchemy import ForeignKey, Index, Numeric, String, text")
    where = 'text("beds > 4")'
    rooms.write_text(rooms.read_text() + f'\n    __table_args__ = (Index("ix_rooms_big", "beds", postgresql_where={where}, '
                                         f'sqlite_where={where}),)\n')
    migrated(project_copy, run_manage, url)
    assert not changed(project_copy, run_manage, url)
    edit(rooms, 'text("beds > 4")', 'text("beds > 6")')
    assert changed(project_copy, run_manage, url)
    migrated(project_copy, run_manage, url)
    assert not changed(project_copy, run_manage, url)
    assert run_manage(project_copy, "migrate", "0005", database_url=url).returncode == 0


def test_a_mariadb_table_option_changed_is_said_until_a_migration_makes_it(project_copy, run_manage, mariadb_url):
    """No operation writes an engine portably: --check fails naming it, and a migration written
    by hand settles it."""
    from migration_file import write_migration

    users = project_copy / "project" / "models" / "users.py"
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    users.write_text(users.read_text() + '\n    __table_args__ = {"mysql_engine": "MyISAM"}\n')
    checked = run_manage(project_copy, "makemigrations", "--check", database_url=mariadb_url)
    assert checked.returncode == 1
    assert "users has mysql_engine='InnoDB' in the database and 'MyISAM' in the models" in checked.stderr

    write_migration(project_copy, "0005_users_engine", "0004_make_email_unique",
                    "if op.get_bind().dialect.name in ('mysql', 'mariadb'):\n                op.execute('ALTER TABLE users ENGINE=MyISAM')")
    assert run_manage(project_copy, "migrate", database_url=mariadb_url).returncode == 0
    assert not changed(project_copy, run_manage, mariadb_url)
