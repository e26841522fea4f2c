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
