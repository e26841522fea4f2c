"""``inspectdb``: models written from a database the sample migrations made, on the project's
declarative base, that makemigrations --check then finds no change against; tables named, an
unknown one refused; manage.py's records left out."""
import pytest


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


def models_instead(project, models_text: str, run_manage, database_url) -> tuple[int, str]:
    """The sample's models replaced by ``models_text``: makemigrations --check's exit status and last line."""
    models = project / "project" / "models"
    for name in ("hotels", "rooms", "users"):
        (models / f"{name}.py").unlink()
    (models / "inspected.py").write_text(models_text)
    checked = run_manage(project, "makemigrations", "--check", database_url=database_url)
    return checked.returncode, (checked.stdout.splitlines() or [checked.stderr])[-1]


def test_inspectdb_writes_models_that_match_the_database(project_copy, run_manage, database_url):
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    written = run_manage(project_copy, "inspectdb", database_url=database_url)
    assert written.returncode == 0, written.stderr
    assert "from project.models.base import Base" in written.stdout
    assert "class Hotels(Base):" in written.stdout and "alembic_version" not in written.stdout
    assert "manage_migrations" not in written.stdout

    assert models_instead(project_copy, written.stdout, run_manage, database_url) == (0, "No changes detected")


def test_inspectdb_of_named_tables(project_copy, run_manage, sqlite_url):
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    one = run_manage(project_copy, "inspectdb", "users", database_url=sqlite_url)
    assert one.returncode == 0 and "class Users(Base):" in one.stdout and "Hotels" not in one.stdout
    unknown = run_manage(project_copy, "inspectdb", "nowhere", database_url=sqlite_url)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("CommandError: No table nowhere in sqlite:///")


def test_check_constraints_are_declared_by_the_name_the_convention_fills_in(project_copy, run_manage, database_url):
    """The database names the CHECK ``ck_rooms_positive_beds`` (the convention's
    ``ck_%(table_name)s_%(constraint_name)s``): the model declares ``positive_beds``, which the
    convention makes the same name again, not ``ck_rooms_ck_rooms_positive_beds``."""
    rooms = project_copy / "project" / "models" / "rooms.py"
    rooms.write_text(rooms.read_text() + '\nimport sqlalchemy as sa\n\nRoom.__table__.append_constraint('
                                         'sa.CheckConstraint("beds > 0", name="positive_beds"))\n')
    assert run_manage(project_copy, "makemigrations", database_url=database_url).returncode == 0
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    written = run_manage(project_copy, "inspectdb", database_url=database_url)
    assert written.returncode == 0, written.stderr
    assert "name='positive_beds'" in written.stdout and "ck_rooms_ck_rooms" not in written.stdout

    assert models_instead(project_copy, written.stdout, run_manage, database_url) == (0, "No changes detected")
