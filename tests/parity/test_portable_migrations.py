"""Migrations made on one backend run on the others, both ways: operations ordered so that no
backend refuses them (an index is made before the one it replaces is dropped, so the index a
foreign key needs is never missing on MariaDB). Made on SQLite, run on PostgreSQL and MariaDB,
with rows in the tables."""
import sqlalchemy as sa


def rows(url: str, statement: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement))
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def test_a_table_with_an_indexed_foreign_key_renamed_on_sqlite_runs_on_mariadb_and_postgresql(
        project_copy, run_manage, sqlite_url, postgres_url, mariadb_url):
    rooms = project_copy / "project" / "models" / "rooms.py"
    rooms.write_text(rooms.read_text().replace('__tablename__ = "rooms"', '__tablename__ = "hotel_rooms"'))
    made = run_manage(project_copy, "makemigrations", "--name", "hotel_rooms", database_url=sqlite_url, input="y\n")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines.index("    + Create index ix_hotel_rooms_hotel_id on hotel_rooms") < \
        lines.index("    - Drop index ix_rooms_hotel_id from hotel_rooms")

    for url in (mariadb_url, postgres_url):
        assert run_manage(project_copy, "migrate", "0004", database_url=url).returncode == 0
        rows(url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Grand', 'Lyon')")
        rows(url, "INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (1, '101', 2, 90)")
        for command in (["migrate"], ["makemigrations", "--check"], ["migrate", "0004"], ["migrate"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stdout, result.stderr)
        assert rows(url, "SELECT number FROM hotel_rooms") == [("101",)]
        indexes = {name for (name,) in rows(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'hotel_rooms'"
                                            if url.startswith("postgresql") else "SELECT index_name FROM "
                                            "information_schema.statistics WHERE table_name = 'hotel_rooms' "
                                            "AND table_schema = DATABASE()")}
        assert "ix_hotel_rooms_hotel_id" in indexes and "ix_rooms_hotel_id" not in indexes


SUITES = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class Suite(Base):
    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Enum("single", "double", name="suite_kind"))
    note: Mapped[str | None] = mapped_column(sa.Text)
'''


def test_a_table_with_an_enum_column_dropped_on_sqlite_comes_back_on_postgresql_with_its_type(
        project_copy, run_manage, sqlite_url, postgres_url, mariadb_url):
    """Undoing the drop makes the table again as the models had it, not as SQLite reads it
    back: the enum column of the enum type (made again first), the other columns generic."""
    suites = project_copy / "project" / "models" / "suites.py"
    suites.write_text(SUITES)
    assert run_manage(project_copy, "makemigrations", "--name", "suites", database_url=sqlite_url).returncode == 0
    suites.unlink()
    made = run_manage(project_copy, "makemigrations", "--name", "no_suites", database_url=sqlite_url)
    assert made.returncode == 0, made.stderr
    [dropped] = (project_copy / "migrations" / "versions").glob("0006_*.py")
    assert "VARCHAR" not in dropped.read_text() and "INTEGER" not in dropped.read_text()

    for command in (["migrate"], ["migrate", "0005"]):
        assert run_manage(project_copy, *command, database_url=postgres_url).returncode == 0
    assert rows(postgres_url, "SELECT udt_name FROM information_schema.columns WHERE table_name = 'suites' "
                              "AND column_name = 'kind'") == [("suite_kind",)]
    rows(postgres_url, "INSERT INTO suites (kind, note) VALUES ('double', 'sea view')")
    plan = run_manage(project_copy, "migrate", "--plan", database_url=postgres_url).stdout
    assert "Drop enum type suite_kind" in plan
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    assert rows(postgres_url, "SELECT count(*) FROM pg_type WHERE typname = 'suite_kind'") == [(0,)]

    for url in (mariadb_url, sqlite_url):  # and the same file both ways where no enum type is kept
        for command in (["migrate"], ["migrate", "0005"], ["migrate"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stderr)
