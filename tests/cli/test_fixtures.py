"""``dumpdata``, ``flush``, ``loaddata``, ``sqlflush``: the models' rows out as Django's JSON
fixtures and back in, the same rows, keys that go on from the highest, the migration records
untouched; on SQLite, PostgreSQL and MariaDB."""
import json

import pytest


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


EVERYTHING = ("SELECT h.id, h.name, r.id, r.number, r.price_per_night FROM hotels h LEFT JOIN rooms r "
              "ON r.hotel_id = h.id ORDER BY h.id, r.id")


def test_dumpdata_flush_loaddata_gives_the_same_rows_and_working_keys(project_copy, run_manage, database_url, tmp_path,
                                                                     sql):
    def manage(*args, code=0, **options):
        result = run_manage(project_copy, *args, database_url=database_url, **options)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result

    manage("migrate")
    sql(database_url, "INSERT INTO hotels (name, city) VALUES ('Grand', 'Lyon'), ('Ritz', 'Paris')")
    sql(database_url, "INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (2, '101', 2, 90.50), "
                       "(1, '7', 1, 45)")
    before, versions = sql(database_url, EVERYTHING), sql(database_url, "SELECT version_num FROM alembic_version")

    dumped = json.loads(manage("dumpdata", "--indent", "2").stdout)
    assert dumped[0] == {"model": "hotels", "pk": 1, "fields": {"name": "Grand", "city": "Lyon"}}
    assert {"model": "rooms", "pk": 1, "fields": {"hotel_id": 2, "number": "101", "beds": 2,
                                                  "price_per_night": "90.50"}} in dumped
    manage("dumpdata", "hotels", "--format", "jsonl", "-o", str(tmp_path / "hotels.jsonl"))
    manage("dumpdata", "--exclude", "hotels", "-o", str(tmp_path / "rest.json"))

    assert "rooms" in manage("sqlflush").stdout
    manage("flush", "--noinput")
    assert sql(database_url, "SELECT count(*) FROM hotels") == [(0,)]
    assert sql(database_url, "SELECT version_num FROM alembic_version") == versions  # records untouched

    loaded = manage("loaddata", str(tmp_path / "rest.json"), str(tmp_path / "hotels.jsonl"))  # children first
    assert loaded.stdout == "Installed 4 object(s) from 2 fixture(s)\n"
    assert sql(database_url, EVERYTHING) == before
    sql(database_url, "INSERT INTO hotels (name, city) VALUES ('New', 'Nice')")  # keys go on from the highest
    assert sql(database_url, "SELECT max(id) FROM hotels") == [(3,)]


def test_a_fixture_naming_an_unknown_table_or_column_loads_nothing(project_copy, run_manage, sqlite_url, sql):
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    fixture = [{"model": "hotels", "pk": 1, "fields": {"name": "Grand", "city": "Lyon"}},
               {"model": "hotel", "pk": 2, "fields": {"name": "Ritz", "city": "Paris"}}]
    unknown = run_manage(project_copy, "loaddata", "-", database_url=sqlite_url, input=json.dumps(fixture))
    assert (unknown.returncode, unknown.stderr) == (
        1, "CommandError: The fixture names the table 'hotel', which no model has: nothing was loaded.\n")
    fixture[1] = {"model": "hotels", "pk": 2, "fields": {"nom": "Ritz"}}
    column = run_manage(project_copy, "loaddata", "-", database_url=sqlite_url, input=json.dumps(fixture))
    assert column.returncode == 1 and "column 'nom'" in column.stderr
    assert sql(sqlite_url, "SELECT count(*) FROM hotels") == [(0,)]

    fixture[1] = {"model": "hotels", "pk": 2, "fields": {"name": "Ritz", "city": "Paris"}}
    piped = run_manage(project_copy, "loaddata", "-", database_url=sqlite_url, input=json.dumps(fixture))
    assert piped.stdout == "Installed 2 object(s) from 1 fixture(s)\n"

    kept = run_manage(project_copy, "flush", database_url=sqlite_url, input="n\n")
    assert kept.stdout.endswith("Flush cancelled.\n")
    assert sql(sqlite_url, "SELECT count(*) FROM hotels") == [(2,)]
