"""``startapp``: a new app whose tables get a branch of migrations of their own, as Django's apps
have, through ``python manage.py`` in a project ``manage-migrations startproject`` wrote."""
import subprocess
import sys
from pathlib import Path

import pytest

CUSTOMERS = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.models.base import Base


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
'''

INVOICES = '''

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
'''


@pytest.fixture
def shop(tmp_path) -> Path:
    """A project made by startproject, with a customers table migrated in its own app."""
    subprocess.run([str(Path(sys.executable).parent / "manage-migrations"), "startproject", "shop"], cwd=tmp_path,
                   check=True, capture_output=True)
    project = tmp_path / "shop"
    (project / "shop" / "models" / "customers.py").write_text(CUSTOMERS)
    return project


def install(project: Path, *apps: str) -> None:
    """What the user does after startapp: list the app in the settings' APPS."""
    settings = project / "shop" / "settings.py"
    settings.write_text(settings.read_text().replace("APPS = []", f"APPS = {list(apps)!r}"))


def test_startapp_then_makemigrations_and_migrate_app(shop, run_manage, database_url, succeeded, tables):
    """The app's first migration starts a branch labelled with its name and depends on the
    migration that made the table its foreign key refers to; `migrate billing` applies it (and
    what it needs), `migrate billing zero` undoes the app alone."""
    succeeded(run_manage(shop, "makemigrations", database_url=database_url))
    created = succeeded(run_manage(shop, "startapp", "billing", database_url=database_url))
    assert created == ["Created app billing in billing: add \"billing\" to APPS in the settings, then run "
                       "'python manage.py makemigrations billing'."]
    models = shop / "billing" / "models.py"
    compile(models.read_text(), str(models), "exec")
    assert "from shop.models.base import Base" in models.read_text()
    refused = run_manage(shop, "makemigrations", "billing", database_url=database_url)
    assert (refused.returncode, refused.stderr) == (1, "CommandError: No installed app with label 'billing'.\n")

    install(shop, "billing")
    assert succeeded(run_manage(shop, "showmigrations", database_url=database_url)) == [
        "billing", " (no migrations)", "shop", " [ ] 0001_initial"]
    models.write_text(models.read_text() + INVOICES)
    made = succeeded(run_manage(shop, "makemigrations", database_url=database_url))

    assert made == ["Migrations for 'billing':", "  migrations/versions/0001_billing_initial.py",
                    "    + Create table invoices"]
    text = (shop / "migrations" / "versions" / "0001_billing_initial.py").read_text()
    assert "down_revision = None\nbranch_labels = 'billing'\ndepends_on = '0001_initial'" in text
    assert "customers" not in text.split("def upgrade")[1].split("ForeignKeyConstraint")[0]  # no other app's table
    assert succeeded(run_manage(shop, "migrate", "billing", database_url=database_url))[-2:] == [
        "  Applying 0001_initial... OK", "  Applying 0001_billing_initial... OK"]
    assert {"customers", "invoices"} <= tables(database_url)
    assert succeeded(run_manage(shop, "showmigrations", "billing", database_url=database_url)) == [
        "billing", " [X] 0001_billing_initial"]
    succeeded(run_manage(shop, "migrate", "billing", "zero", database_url=database_url))
    assert "invoices" not in tables(database_url) and "customers" in tables(database_url)
    assert succeeded(run_manage(shop, "makemigrations", "--check", database_url=database_url)) == [
        "No changes detected"]


def test_each_app_gets_its_own_migration_in_the_order_its_foreign_keys_need(shop, run_manage, sqlite_url, succeeded,
                                                                              tables):
    """One makemigrations with changes in two apps writes one migration each; an app whose new
    table refers to the other app's new table comes after it and depends on it. Naming the app
    writes only its own; a table dropped from an app's models is dropped in that app."""
    install(shop, "billing")
    succeeded(run_manage(shop, "startapp", "billing", database_url=sqlite_url))
    succeeded(run_manage(shop, "makemigrations", database_url=sqlite_url))
    (shop / "shop" / "models" / "countries.py").write_text(CUSTOMERS.replace("Customer", "Country").replace(
        '"customers"', '"countries"'))
    models = shop / "billing" / "models.py"
    models.write_text(models.read_text() + INVOICES.replace("customers.id", "countries.id"))

    only_billing = run_manage(shop, "makemigrations", "billing", "--dry-run", database_url=sqlite_url)
    assert succeeded(only_billing)[0] == "Migrations for 'billing':" and "shop" not in only_billing.stdout
    made = succeeded(run_manage(shop, "makemigrations", database_url=sqlite_url))

    assert made == ["Migrations for 'shop':", "  migrations/versions/0002_countries.py", "    + Create table countries",
                    "Migrations for 'billing':", "  migrations/versions/0001_billing_initial.py",
                    "    + Create table invoices"]
    assert "depends_on = '0002_countries'" in (shop / "migrations" / "versions" / "0001_billing_initial.py").read_text()
    assert succeeded(run_manage(shop, "migrate", database_url=sqlite_url))[-3:] == [
        "  Applying 0001_initial... OK", "  Applying 0002_countries... OK", "  Applying 0001_billing_initial... OK"]
    assert succeeded(run_manage(shop, "makemigrations", "shop", database_url=sqlite_url)) == [
        "No changes detected in app 'shop'"]

    models.write_text(models.read_text().split("\n\nimport sqlalchemy")[0] + "\n")
    dropped = succeeded(run_manage(shop, "makemigrations", database_url=sqlite_url))
    assert dropped == ["Migrations for 'billing':", "  migrations/versions/0002_delete_invoices.py",
                       "    - Drop table invoices"]
    succeeded(run_manage(shop, "migrate", database_url=sqlite_url))
    assert tables(sqlite_url) >= {"customers", "countries"} and "invoices" not in tables(sqlite_url)


def test_startapp_refuses_what_django_refuses(shop, run_manage, sqlite_url):
    """A name that is no identifier, a module Python has (a folder beside manage.py too), a
    file that is in the destination: one line each, nothing written."""
    (shop / "billing").mkdir()
    (shop / "apps").mkdir()
    (shop / "apps" / "models.py").write_text("# the team's own\n")
    for args, words in [(["2fa"], "is not a valid app name"), (["json"], "conflicts with the name of an existing "
                                                                        "Python module"),
                        (["billing"], "conflicts with the name"), (["invoices", "apps"], "already exists")]:
        result = run_manage(shop, "startapp", *args, database_url=sqlite_url)
        assert result.returncode == 1 and words in result.stderr and len(result.stderr.splitlines()) == 1, args
    assert list((shop / "billing").iterdir()) == [] and list((shop / "apps").iterdir()) == [shop / "apps" / "models.py"]
    assert (shop / "apps" / "models.py").read_text() == "# the team's own\n"


RECEIPTS = """

import enum


class Kind(enum.Enum):
    card = "card"
    cash = "cash"


receipts = sa.Table("receipts", Base.metadata, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("kind", sa.Enum(Kind, name="receipt_kind")))
"""


def test_an_apps_core_table_and_its_enum_type_are_the_apps(shop, run_manage, postgres_url, succeeded, sql):
    """A ``Table`` in an app's module is the app's, and so is the PostgreSQL enum type its
    column makes: created and dropped in the app's migrations, the project's own untouched."""
    succeeded(run_manage(shop, "startapp", "billing", database_url=postgres_url))
    install(shop, "billing")
    models = shop / "billing" / "models.py"
    models.write_text(models.read_text() + "\nimport sqlalchemy as sa\n" + RECEIPTS)

    made = succeeded(run_manage(shop, "makemigrations", database_url=postgres_url))

    assert made == ["Migrations for 'shop':", "  migrations/versions/0001_initial.py", "    + Create table customers",
                    "Migrations for 'billing':", "  migrations/versions/0001_billing_initial.py",
                    "    + Create enum type receipt_kind", "    + Create table receipts"]
    succeeded(run_manage(shop, "migrate", "billing", database_url=postgres_url))
    assert sql(postgres_url, "SELECT typname FROM pg_type WHERE typname = 'receipt_kind'") == [("receipt_kind",)]
    assert sql(postgres_url, "SELECT to_regclass('customers') IS NULL") == [(True,)]  # not billing's to apply
    models.write_text(models.read_text().split(RECEIPTS)[0] + "\n")
    assert succeeded(run_manage(shop, "makemigrations", "billing", database_url=postgres_url)) == [
        "Migrations for 'billing':", "  migrations/versions/0002_delete_receipts_delete_receipt_kind.py",
        "    - Drop table receipts",
        "    - Drop enum type receipt_kind"]
    succeeded(run_manage(shop, "migrate", database_url=postgres_url))
    assert sql(postgres_url, "SELECT count(*) FROM pg_type WHERE typname = 'receipt_kind'") == [(0,)]
