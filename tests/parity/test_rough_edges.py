"""Rough edges a user reported, through ``python manage.py`` (and Click's CliRunner in-process):
a project whose migration files were all deleted, what ``migrate --plan`` says of a table
rename and of an enum type, the header of a migrate with no migrations, and a squash over the
one-off default makemigrations writes for a NOT NULL column."""
import shutil
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from migration_file import write_migration

from manage_migrations.cli import cli
from manage_migrations.commands.squashmigrations import AsReplaced, replaced_fills, replaced_renames

INITIAL = [
    "Migrations for 'project':",
    "  migrations/versions/0001_initial.py",
    "    + Create table hotels",
    "    + Create table users",
    "    + Create table rooms",
    "    + Create index ix_rooms_hotel_id on rooms",
]
NO_MIGRATIONS = ["Operations to perform:", "  Apply all migrations: (none)", "Running migrations:",
                 "  No migrations to apply."]
ROOM_KINDS = '''\
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class RoomKind(Base):
    __tablename__ = "room_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Enum("single", "double", name="room_kind"))
'''


def succeeded(result) -> list[str]:
    """The lines a command printed, once it has ended with exit status 0 and no traceback."""
    assert (result.returncode, result.stderr) == (0, ""), (result.stdout, result.stderr)
    return result.stdout.splitlines()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def add_line(path, after: str, line: str) -> None:
    """A model edited as a developer edits it: ``line`` added below the line ``after``."""
    text = path.read_text()
    assert after in text
    path.write_text(text.replace(after, f"{after}\n{line}", 1))


# 1. Every migration file deleted (git rm migrations/versions/*.py), with the caches of a run before


@pytest.mark.parametrize("folder_too", [False, True], ids=["files", "folder"])
def test_makemigrations_writes_the_initial_migration_once_every_file_is_deleted(project_copy, run_manage, sqlite_url,
                                                                                tmp_path, folder_too):
    """The index of migration files and the kept scratch database exist from earlier runs; the
    files go (and the versions folder with them, as git leaves it when it held nothing else).
    makemigrations writes 0001_initial as Django does, every command answers without a
    traceback, and a cache never changes an answer: a fresh cache folder says the same."""
    assert succeeded(run_manage(project_copy, "showmigrations", database_url=sqlite_url))[0] == "project"
    assert succeeded(run_manage(project_copy, "makemigrations", database_url=sqlite_url)) == ["No changes detected"]
    versions = project_copy / "migrations" / "versions"
    for path in versions.glob("*.py"):
        path.unlink()
    if folder_too:
        shutil.rmtree(versions)

    assert succeeded(run_manage(project_copy, "showmigrations", database_url=sqlite_url)) == [
        "project", " (no migrations)"]
    assert succeeded(run_manage(project_copy, "makemigrations", database_url=sqlite_url)) == INITIAL
    assert sorted(path.name for path in versions.glob("*.py")) == ["0001_initial.py"]
    for cache in (None, tmp_path / "fresh-cache"):
        env = {"XDG_CACHE_HOME": str(cache)} if cache else None
        assert succeeded(run_manage(project_copy, "makemigrations", "--check", database_url=sqlite_url,
                                    env=env)) == ["No changes detected"]
    assert succeeded(run_manage(project_copy, "showmigrations", database_url=sqlite_url)) == [
        "project", " [ ] 0001_initial"]
    migrated = succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    assert migrated[-1] == "  Applying 0001_initial... OK"
    assert {"hotels", "rooms", "users"} <= tables(sqlite_url)


# 2. migrate --plan and the header of migrate


def test_the_plan_of_a_table_rename_names_both_tables(project_copy, run_manage, sqlite_url):
    rooms = project_copy / "project" / "models" / "rooms.py"
    rooms.write_text(rooms.read_text().replace('__tablename__ = "rooms"', '__tablename__ = "hotel_rooms"'))
    made = succeeded(run_manage(project_copy, "makemigrations", database_url=sqlite_url, input="y\n"))
    assert "    ~ Rename table rooms to hotel_rooms" in made

    forward = succeeded(run_manage(project_copy, "migrate", "--plan", database_url=sqlite_url))
    assert "    Rename table rooms to hotel_rooms  [renaming-table]" in forward
    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    backward = succeeded(run_manage(project_copy, "migrate", "0004", "--plan", database_url=sqlite_url))
    assert backward[-1] == "    Rename table hotel_rooms to rooms"
    assert "hotel_rooms" in tables(sqlite_url)  # --plan ran nothing


def enum_types(sql, url: str) -> list[str]:
    return [name for (name,) in sql(url, "SELECT typname FROM pg_type WHERE typname = 'room_kind'")]


def test_the_plan_of_undoing_a_dropped_table_recreates_its_enum_type(project_copy, run_manage, postgres_url,
                                                                     sql):
    """What makemigrations writes on PostgreSQL for a model with an enum column, then for its
    removal: undoing the removal makes the type again before the table, and the plan says so."""
    models = project_copy / "project" / "models"
    (models / "kinds.py").write_text(ROOM_KINDS)
    succeeded(run_manage(project_copy, "makemigrations", database_url=postgres_url))
    (models / "kinds.py").unlink()
    assert succeeded(run_manage(project_copy, "makemigrations", database_url=postgres_url))[2:] == [
        "    - Drop table room_kinds", "    - Drop enum type room_kind"]
    succeeded(run_manage(project_copy, "migrate", database_url=postgres_url))
    assert enum_types(sql, postgres_url) == []

    planned = succeeded(run_manage(project_copy, "migrate", "0004", "--plan", database_url=postgres_url))

    assert planned == [
        "Planned operations:",
        "  Unapply 0006_delete_room_kinds_delete_room_kind",
        "    Create enum type room_kind",
        "    Create table room_kinds",
        "  Unapply 0005_room_kind_room_kinds",
        "    Drop table room_kinds  [destroys data]",
        "    Drop enum type room_kind",
    ]
    succeeded(run_manage(project_copy, "migrate", "0005", database_url=postgres_url))
    assert enum_types(sql, postgres_url) == ["room_kind"] and "room_kinds" in tables(postgres_url)


@pytest.mark.parametrize("create, said", [
    ("postgresql.ENUM('single', 'double', name='room_kind').create(op.get_bind())", "Create enum type room_kind"),
    ("op.execute(\"CREATE TYPE room_kind AS ENUM ('single', 'double')\")",
     "Execute CREATE TYPE room_kind AS ENUM ('single', 'double')"),
])
def test_the_plan_lists_an_enum_type_made_by_hand(project_copy, manage_copy, create, said):
    write_migration(project_copy, "0005_room_kind", "0004_make_email_unique", create,
                    "sa.Enum(name='room_kind').drop(op.get_bind())",
                    head="from sqlalchemy.dialects import postgresql")

    planned = manage_copy("migrate", "--plan")

    assert planned.exit_code == 0, planned.output
    assert planned.stdout.splitlines()[-2:] == ["  Apply 0005_room_kind", f"    {said}"]
    assert manage_copy("fake", "0005").exit_code == 0  # SQLite has no CREATE TYPE to run
    assert manage_copy("migrate", "0004", "--plan").stdout.splitlines()[-2:] == [
        "  Unapply 0005_room_kind", "    Drop enum type room_kind"]


@pytest.fixture
def manage_copy(project_copy, make_settings, sqlite_url):
    """A command run in-process on the project copy, on the test's SQLite database."""
    settings = make_settings(project_copy, sqlite_url)
    return lambda *args: CliRunner().invoke(cli, list(args), obj=settings)


def test_migrate_with_no_migrations_says_none_as_django_does(project_copy, run_manage, sqlite_url):
    shutil.rmtree(project_copy / "migrations" / "versions")

    for command in (["migrate"], ["fake", "heads"]):
        assert succeeded(run_manage(project_copy, *command, database_url=sqlite_url)) == NO_MIGRATIONS, command
    assert succeeded(run_manage(project_copy, "migrate", "--plan", database_url=sqlite_url)) == [
        "Planned operations:", "  No planned migration operations."]
    named = run_manage(project_copy, "migrate", "project", database_url=sqlite_url)
    assert (named.returncode, named.stderr) == (1, "CommandError: App 'project' does not have migrations.\n")
    listed = run_manage(project_copy, "showmigrations", "project", database_url=sqlite_url)
    assert listed.returncode == 0 and listed.stdout.startswith("project\n")


# 3. squashmigrations over makemigrations' one-off default


@pytest.fixture
def phone_added(project_copy, run_manage, tmp_path, sql):
    """users.phone added NOT NULL with the one-off default 'n/a' (0005), then hotels.rating
    (0006); a database at 0004 and one at 0005, part-way, each with a user in it."""
    at = {name: f"sqlite:///{tmp_path / name}.sqlite3" for name in ("start", "part_way")}
    for url in at.values():
        succeeded(run_manage(project_copy, "migrate", "0004", database_url=url))
        sql(url, "INSERT INTO users (email, full_name) VALUES ('ann@example.com', 'Ann')")
    models = project_copy / "project" / "models"
    add_line(models / "users.py", "    full_name: Mapped[str] = mapped_column(String(200))",
             "    phone: Mapped[str] = mapped_column(String(20))")
    made = succeeded(run_manage(project_copy, "makemigrations", database_url=at["start"], input="1\n'n/a'\n"))
    assert made[-2:] == ["  migrations/versions/0005_users_phone.py", "    + Add column phone to users"]
    add_line(models / "hotels.py", "    city: Mapped[str] = mapped_column(String(100))",
             "    rating: Mapped[int | None] = mapped_column()")
    succeeded(run_manage(project_copy, "makemigrations", database_url=at["start"]))
    succeeded(run_manage(project_copy, "migrate", "0005", database_url=at["part_way"]))
    return at


def test_the_plan_words_the_one_off_default(project_copy, run_manage, phone_added):
    planned = succeeded(run_manage(project_copy, "migrate", "--plan", database_url=phone_added["start"]))

    assert planned[1:5] == ["  Apply 0005_users_phone", "    Add column phone to users",
                            "    Fill column phone on users",
                            "    Alter column phone on users  [adding-not-nullable-field]"]


def test_a_squash_after_the_table_fills_its_rows_as_the_replaced_migrations_did(project_copy, run_manage, tmp_path,
                                                                                phone_added, sql):
    squashed = succeeded(run_manage(project_copy, "squashmigrations", "0005", "0006", "--noinput",
                                    database_url=phone_added["start"]))

    assert "Created new squashed migration migrations/versions/0005_users_phone_squashed_0006_hotels_rating.py" \
        in squashed
    assert "Manual porting required" not in squashed
    start = succeeded(run_manage(project_copy, "migrate", database_url=phone_added["start"]))
    assert start[-1] == "  Applying 0005_users_phone_squashed_0006_hotels_rating... OK"
    part_way = succeeded(run_manage(project_copy, "migrate", database_url=phone_added["part_way"]))
    assert part_way[-2:] == ["  Applying 0006_hotels_rating... OK", "  Recording 0005_users_phone_squashed_0006_"
                             "hotels_rating in place of 0006_hotels_rating, which it replaces."]
    for url in phone_added.values():
        assert sql(url, "SELECT email, phone FROM users") == [("ann@example.com", "n/a")]
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    succeeded(run_manage(project_copy, "migrate", database_url=fresh))
    assert sql(fresh, "SELECT phone FROM users") == []


def test_a_squash_that_creates_the_table_has_nothing_to_port(project_copy, run_manage, phone_added, sql):
    squashed = succeeded(run_manage(project_copy, "squashmigrations", "0006", "--noinput",
                                    database_url=phone_added["start"]))

    assert "Manual porting required" not in squashed
    migrated = succeeded(run_manage(project_copy, "migrate", database_url=phone_added["part_way"]))
    assert migrated[-1].startswith("  Recording 0001_create_table_hotels_squashed_0006_hotels_rating in place of")
    assert sql(phone_added["part_way"], "SELECT phone FROM users") == [("n/a",)]


def test_an_update_of_every_row_is_still_a_data_step(project_copy, manage_copy):
    write_migration(project_copy, "0005_blank_names", "0004_make_email_unique",
                    "op.execute(sa.table('users', sa.column('full_name', sa.String(200))).update()"
                    ".values({'full_name': ''}))")

    squashed = manage_copy("squashmigrations", "0005", "--noinput")

    assert squashed.exit_code == 0, squashed.output
    assert "    0005_blank_names: execute" in squashed.stdout.splitlines()


def fill(table: str, column: str, type_: str, value: str) -> str:
    """The one-off default's UPDATE as makemigrations writes it (autodetector.render_fill)."""
    target = f"sa.column({column!r}, {type_})"
    return (f"op.execute(sa.table({table!r}, {target}).update().where({target}.is_(None))"
            f".values({{{column!r}: {value}}}))")


def test_a_fill_follows_its_column_through_renames_and_goes_with_a_drop(project_copy):
    paths = [str(write_migration(project_copy, "0005_users_phone", "0004_make_email_unique",
                                 fill("users", "phone", "sa.String(length=20)", "'n/a'"))),
             str(write_migration(project_copy, "0006_rename", "0005_users_phone",
                                 "op.rename_table('users', 'accounts')\n"
                                 "            with op.batch_alter_table('accounts') as batch_op:\n"
                                 "                batch_op.alter_column('phone', new_column_name='mobile')")),
             str(write_migration(project_copy, "0007_prices", "0006_rename",
                                 fill("hotels", "price", "sa.Numeric()", "Decimal('9.50')") + "\n            "
                                 + fill("hotels", "stars", "sa.Integer()", "3") + "\n            "
                                 + "op.drop_column('hotels', 'stars')"))]

    answers = AsReplaced(replaced_renames(paths), replaced_fills(paths))

    assert answers.ask_not_null_addition("mobile", "accounts") == "n/a"
    assert answers.ask_not_null_alteration("price", "hotels") == Decimal("9.50")
    assert answers.ask_not_null_addition("stars", "hotels") is None
