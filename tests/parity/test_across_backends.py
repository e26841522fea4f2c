"""Migrations made on one backend run on the others, both ways: operations ordered so that no
backend refuses them (an index is made before the one it replaces is dropped, so the index a
foreign key needs is never missing on MariaDB). Made on SQLite, run on PostgreSQL and MariaDB,
with rows in the tables."""


def test_a_table_with_an_indexed_foreign_key_renamed_on_sqlite_runs_on_mariadb_and_postgresql(
        project_copy, run_manage, sqlite_url, postgres_url, mariadb_url, sql):
    rooms = project_copy / "project" / "models" / "rooms.py"
    rooms.write_text(rooms.read_text().replace('__tablename__ = "rooms"', '__tablename__ = "hotel_rooms"'))
    made = run_manage(project_copy, "makemigrations", "--name", "hotel_rooms", database_url=sqlite_url, input="y\n")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines.index("    + Create index ix_hotel_rooms_hotel_id on hotel_rooms") < \
        lines.index("    - Drop index ix_rooms_hotel_id from hotel_rooms")

    for url in (mariadb_url, postgres_url):
        assert run_manage(project_copy, "migrate", "0004", database_url=url).returncode == 0
        sql(url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Grand', 'Lyon')")
        sql(url, "INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (1, '101', 2, 90)")
        for command in (["migrate"], ["makemigrations", "--check"], ["migrate", "0004"], ["migrate"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stdout, result.stderr)
        assert sql(url, "SELECT number FROM hotel_rooms") == [("101",)]
        indexes = {name for (name,) in sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'hotel_rooms'"
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
        project_copy, run_manage, sqlite_url, postgres_url, mariadb_url, sql):
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
    assert sql(postgres_url, "SELECT udt_name FROM information_schema.columns WHERE table_name = 'suites' "
                              "AND column_name = 'kind'") == [("suite_kind",)]
    sql(postgres_url, "INSERT INTO suites (kind, note) VALUES ('double', 'sea view')")
    plan = run_manage(project_copy, "migrate", "--plan", database_url=postgres_url).stdout
    assert "Drop enum type suite_kind" in plan
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    assert sql(postgres_url, "SELECT count(*) FROM pg_type WHERE typname = 'suite_kind'") == [(0,)]

    for url in (mariadb_url, sqlite_url):  # and the same file both ways where no enum type is kept
        for command in (["migrate"], ["migrate", "0005"], ["migrate"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stderr)


def test_makemigrations_tries_the_new_migration_on_every_server_the_settings_name(project_copy, run_manage,
                                                                                    sqlite_url, database_servers):
    """TRY_MIGRATIONS_ON: made on SQLite, tried on PostgreSQL and MariaDB too; a server that does
    not answer is named and skipped; one where the migration fails keeps the file, naming it."""
    postgres_server, mariadb_server = database_servers["postgresql"], database_servers["mariadb"]
    silent = "postgresql://nobody@127.0.0.1:1"
    settings_py = project_copy / "project" / "settings.py"
    settings_py.write_text(settings_py.read_text() + f"\nTRY_MIGRATIONS_ON = {[silent, postgres_server, mariadb_server]!r}\n")
    hotels = project_copy / "project" / "models" / "hotels.py"
    hotels.write_text(hotels.read_text() + "    stars: Mapped[int | None] = mapped_column()\n")

    made = run_manage(project_copy, "makemigrations", "-v", "2", database_url=sqlite_url)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert any(line.startswith("  Not tried: Cannot connect to postgresql+psycopg2://nobody@127.0.0.1:1")
               for line in lines), lines
    tried = [line for line in lines if line.startswith("  Tried 0005_hotels_stars on ")]
    assert len(tried) == 3 and all(line.endswith("upgrade, downgrade, upgrade... OK") for line in tried)

    # A VARCHAR with no length: SQLite and PostgreSQL take it, MariaDB refuses it.
    hotels.write_text(hotels.read_text() + "    motto: Mapped[str | None] = mapped_column(String)\n")
    refused = run_manage(project_copy, "makemigrations", database_url=sqlite_url)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"CommandError: On {mariadb_server}: Tried 0006_hotels_motto on the scratch "
                                     "database: its upgrade failed: "), refused.stderr
    assert refused.stderr.rstrip().endswith("The file is kept for you to fix.")
    assert (project_copy / "migrations" / "versions" / "0006_hotels_motto.py").exists()
