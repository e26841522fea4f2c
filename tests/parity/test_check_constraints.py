"""CHECK constraints, as Django's ``Meta.constraints``: added, changed and removed in the models,
seen by ``makemigrations``, ``--check`` and ``check``, enforced by the database once migrated,
and undone; on SQLite, PostgreSQL and MariaDB, with rows in the table, and with migrations made
on SQLite that run on the others both ways. Names are written once (``op.f``)."""
import pytest
import sqlalchemy as sa

ROOMS_IMPORT = "from sqlalchemy import ForeignKey, Numeric, String"


def constrain(project, *checks: str) -> None:
    """The Room model with these CheckConstraint(...) sources in its __table_args__ (none: none)."""
    rooms = project / "project" / "models" / "rooms.py"
    text = rooms.read_text().split("\n    __table_args__")[0].rstrip("\n") + "\n"
    text = text.replace(ROOMS_IMPORT, "from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String")
    if checks:
        text += f"\n    __table_args__ = ({', '.join(checks)},)\n"
    rooms.write_text(text)


def execute(url: str, statement: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement))
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


def enforced(url: str, beds: int) -> bool:
    """Whether the database refuses a room with this many beds."""
    try:
        execute(url, f"INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (1, 'x{beds}', {beds}, 10)")
    except sa.exc.IntegrityError:
        return True
    except sa.exc.OperationalError as exc:  # MariaDB reports a CHECK violation as error 4025
        assert "4025" in str(exc.orig.args[0]), exc
        return True
    execute(url, f"DELETE FROM rooms WHERE number = 'x{beds}'")
    return False


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


def test_a_check_constraint_added_changed_and_removed(project_copy, run_manage, any_url):
    def manage(*args, code=0):
        result = run_manage(project_copy, *args, database_url=any_url)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result.stdout

    manage("migrate")
    execute(any_url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Grand', 'Lyon')")
    execute(any_url, "INSERT INTO rooms (hotel_id, number, beds, price_per_night) VALUES (1, '101', 2, 90)")

    constrain(project_copy, "CheckConstraint('beds > 0', name='beds_positive')")
    manage("makemigrations", "--check", code=1)
    manage("check", code=1)
    assert "    + Create check constraint ck_rooms_beds_positive on rooms" in manage("makemigrations", "--name", "beds")
    [added] = (project_copy / "migrations" / "versions").glob("0005_*.py")
    assert "f('ck_rooms_beds_positive')" in added.read_text()  # the name as written, not ck_rooms_ck_rooms_...
    manage("migrate")
    assert enforced(any_url, 0) and not enforced(any_url, 1)
    manage("makemigrations", "--check")
    manage("check")

    constrain(project_copy, "CheckConstraint('beds >= 1 AND beds <= 8', name='beds_positive')")
    manage("makemigrations", "--check", code=1)
    manage("makemigrations", "--name", "beds_range")
    manage("migrate")
    assert enforced(any_url, 9) and not enforced(any_url, 8)
    manage("makemigrations", "--check")

    constrain(project_copy)
    manage("makemigrations", "--check", code=1)
    assert "    - Drop constraint ck_rooms_beds_positive from rooms" in manage("makemigrations", "--name", "no_beds")
    manage("migrate")
    assert not enforced(any_url, 0)
    manage("makemigrations", "--check")

    manage("migrate", "0006")  # undone, one step at a time: the range is back
    assert enforced(any_url, 9)
    manage("migrate", "0005")
    assert enforced(any_url, 0) and not enforced(any_url, 9)
    manage("migrate", "0004")
    assert not enforced(any_url, 0)
    assert execute(any_url, "SELECT number FROM rooms") == [("101",)]  # the rows survived every step


def test_check_constraints_made_on_sqlite_run_on_postgresql_and_mariadb(project_copy, run_manage, sqlite_url,
                                                                        postgres_url, mariadb_url):
    constrain(project_copy, "CheckConstraint('beds > 0', name='beds_positive')")
    assert run_manage(project_copy, "makemigrations", database_url=sqlite_url).returncode == 0
    constrain(project_copy, "CheckConstraint(\"beds BETWEEN 1 AND 8 AND number <> ''\", name='beds_positive')")
    assert run_manage(project_copy, "makemigrations", database_url=sqlite_url).returncode == 0

    for url in (postgres_url, mariadb_url):
        for command in (["migrate"], ["makemigrations", "--check"], ["migrate", "0005"], ["migrate", "0004"],
                        ["migrate"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stdout, result.stderr)
        execute(url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Grand', 'Lyon')")
        assert enforced(url, 9) and not enforced(url, 8)
