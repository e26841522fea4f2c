"""The version table where the project keeps it: Alembic's ``version_table`` and
``version_table_schema`` honoured by every command, and two projects in one database, each
with its own records, neither able to erase the other's."""
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from slow_migrations import sql as rows

REPO = Path(__file__).resolve().parents[2]

INVOICES = '''\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
'''


def table_names(url: str, schema: str | None = None) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def billing_project(folder: Path) -> Path:
    """A second project, with a model of its own (invoices) and no migrations yet."""
    folder.mkdir()
    for name in ("manage.py", "pyproject.toml"):
        shutil.copy2(REPO / name, folder / name)
    for name in ("project", "migrations"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", ".env"))
    for model in ("hotels", "rooms", "users"):
        (folder / "project" / "models" / f"{model}.py").unlink()
    (folder / "project" / "models" / "invoices.py").write_text(INVOICES)
    for migration in (folder / "migrations" / "versions").glob("*.py"):
        migration.unlink()
    return folder


def test_version_table_schema_is_where_every_record_is_kept(project_copy, run_manage, postgres_url,
                                                           set_version_table):
    """env.py's ``version_table="billing_versions", version_table_schema="billing"``: the versions
    and manage.py's own records are kept there, read there by every command, and nothing of ours
    is written to the default schema."""
    set_version_table(project_copy, "'billing_versions', version_table_schema='billing'")
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA billing")  # as with Alembic: the schema is the project's
    engine.dispose()

    assert run_manage(project_copy, "migrate", "0002", database_url=postgres_url).returncode == 0
    assert rows(postgres_url, "SELECT version_num FROM billing.billing_versions") == [("0002_create_table_rooms",)]
    assert table_names(postgres_url, "billing") == {"billing_versions", "billing_versions_history"}
    assert table_names(postgres_url) == {"hotels", "rooms"}

    shown = run_manage(project_copy, "showmigrations", database_url=postgres_url)
    assert "[X] 0002_create_table_rooms\n [ ] 0003_add_users" in shown.stdout, shown.stderr
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    assert run_manage(project_copy, "migrate", "--check", database_url=postgres_url).returncode == 0
    checked = run_manage(project_copy, "makemigrations", "--check", database_url=postgres_url)
    assert checked.returncode == 0, checked.stderr  # the scratch database gets the schema too
    assert run_manage(project_copy, "migrate", "0003", database_url=postgres_url).returncode == 0
    assert rows(postgres_url, "SELECT version_num FROM billing.billing_versions") == [("0003_add_users",)]
    assert len(rows(postgres_url, "SELECT revision FROM billing.billing_versions_history")) == 3
    assert table_names(postgres_url) == {"hotels", "rooms", "users"}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shared_url(request):
    return request.getfixturevalue(f"{request.param}_url" if request.param == "sqlite" else
                                   "postgres_url" if request.param == "postgresql" else "mariadb_url")


def test_two_projects_in_one_database_keep_their_own_records(project_copy, run_manage, shared_url, tmp_path,
                                                            set_version_table):
    """The hotels project keeps alembic_version; the billing project, told by the first error to
    keep a version table of its own, keeps billing_versions. Whatever the billing project does
    (migrate, unapply, fake, prune), the hotels project's records are as they were."""
    hotels, billing = project_copy, billing_project(tmp_path / "billing")
    assert run_manage(hotels, "migrate", database_url=shared_url).returncode == 0
    hotels_records = (rows(shared_url, "SELECT version_num FROM alembic_version"),
                      sorted(rows(shared_url, "SELECT revision FROM manage_migrations")))

    made = run_manage(billing, "makemigrations", "--name", "invoices", database_url=shared_url)
    assert made.returncode == 0, made.stderr
    shared = run_manage(billing, "migrate", database_url=shared_url)  # one version table for two projects
    assert shared.returncode == 1
    assert "give this project a version table of its own" in shared.stderr
    assert "only if the database is this project's alone, mark it with 'fake'" in shared.stderr

    set_version_table(billing, "'billing_versions'")
    for command in (["migrate"], ["showmigrations"], ["migrate", "zero"], ["migrate"], ["fake", "zero"],
                    ["fake", "0001"], ["migrate", "--prune"], ["makemigrations", "--check"]):
        result = run_manage(billing, *command, database_url=shared_url)
        assert result.returncode == 0, (command, result.stderr)
        assert (rows(shared_url, "SELECT version_num FROM alembic_version"),
                sorted(rows(shared_url, "SELECT revision FROM manage_migrations"))) == hotels_records, command

    assert rows(shared_url, "SELECT version_num FROM billing_versions") == [("0001_invoices",)]
    assert {"invoices", "billing_versions", "billing_versions_history", "hotels"} <= table_names(shared_url)
    listed = run_manage(hotels, "showmigrations", database_url=shared_url).stdout
    assert listed.count("[X]") == 4 and "invoices" not in listed
    assert "No migrations to prune." in run_manage(hotels, "migrate", "--prune", database_url=shared_url).stdout
    assert run_manage(hotels, "migrate", "zero", database_url=shared_url).returncode == 0
    assert rows(shared_url, "SELECT version_num FROM billing_versions") == [("0001_invoices",)]
    assert "invoices" in table_names(shared_url)
