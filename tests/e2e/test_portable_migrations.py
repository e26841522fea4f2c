"""Migrations that makemigrations writes run on SQLite, PostgreSQL and MariaDB alike, with rows
in the tables: enum types, server defaults, type changes with a cast, dropped tables with
foreign keys and indexes, long Django-style names; and the errors say what went wrong in one
line. Everything runs through ``python manage.py`` and is checked in the database itself."""
import ast
import re

import pytest
import sqlalchemy as sa
from model_edits import append, edit, sql

ORIGINAL = ["0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique"]
BEFORE_ANY_NEW = "0004_make_email_unique"

ROOM_KIND = '''

class RoomKind(enum.Enum):
    single = "single"
    double = "double"
'''
KIND_COLUMN = '    kind: Mapped[RoomKind] = mapped_column(Enum(RoomKind, name="room_kind"), server_default="single")\n'

ORDERS_MODEL = '''\
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reference: Mapped[str] = mapped_column(String(20))
'''

HAND_WRITTEN_HEADER = '''\
"""{name}, written by hand"""
from alembic import op
import sqlalchemy as sa


revision = '{name}'
down_revision = '0004_make_email_unique'
branch_labels = None
depends_on = None
'''

NUMBER_WITHOUT_USING = '''

def upgrade() -> None:
    op.alter_column('rooms', 'number', type_=sa.Integer(), existing_type=sa.String(20))


def downgrade() -> None:
    op.alter_column('rooms', 'number', type_=sa.String(20), existing_type=sa.Integer())
'''

DATA_FIX = '''

def upgrade() -> None:
    op.execute("UPDATE nowhere SET x = 1")


def downgrade() -> None:
    pass
'''


# Helpers


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_url(request):
    """Each test using this runs on SQLite, PostgreSQL and MariaDB."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request):
    """Each test using this runs on PostgreSQL and MariaDB."""
    return request.getfixturevalue({"postgresql": "postgres_url", "mariadb": "mariadb_url"}[request.param])


def backend(url: str) -> str:
    return sa.engine.make_url(url).get_backend_name()


def inspected(url: str, what):
    """``what(inspector)`` on a fresh inspector of that database."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return what(sa.inspect(engine))
    finally:
        engine.dispose()


def columns(url: str, table: str) -> dict:
    return {column["name"]: column for column in inspected(url, lambda inspector: inspector.get_columns(table))}


def migration_file(project, name: str):
    return project / "migrations" / "versions" / f"{name}.py"


def function_source(path, name: str) -> str:
    """The source of ``upgrade`` or ``downgrade`` in a migration file."""
    text = path.read_text()
    node = next(node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef) and node.name == name)
    return ast.get_source_segment(text, node)


def new_migration(lines: list[str], number: int) -> str:
    """The revision a makemigrations run reports writing (its second line), checked to be the
    ``number``-th migration."""
    assert lines[0] == "Migrations for 'project':", lines
    written = re.fullmatch(rf"  migrations/versions/({number:04d}_[a-z0-9_]+)\.py", lines[1])
    assert written, lines
    return written.group(1)


def one_line_error(result) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def enum_values(url: str) -> list[str] | None:
    """The values of room_kind as the database holds them: PostgreSQL's type, MariaDB's column
    ENUM; None where there is no such thing (SQLite keeps a VARCHAR)."""
    if backend(url) == "postgresql":
        rows = sql(url, "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                        "WHERE t.typname = 'room_kind' ORDER BY e.enumsortorder")
        return [label for label, in rows]
    if backend(url) == "mysql":
        return list(columns(url, "rooms")["kind"]["type"].enums)
    return None


def pg_type_exists(url: str, name: str) -> bool:
    return bool(sql(url, "SELECT 1 FROM pg_type WHERE typname = :name", name=name))


def add_hotel_and_room(url: str) -> None:
    sql(url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Ritz', 'Lyon')")
    sql(url, "INSERT INTO rooms (id, hotel_id, number, beds, price_per_night) VALUES (1, 1, '12', 2, 99.50)")


# 1. Enum columns


def test_an_enum_column_added_extended_reversed_and_removed(project_copy, run_manage, any_url, succeeded,
                                                          versions, revision):
    def manage(*args):
        return run_manage(project_copy, *args, database_url=any_url)

    succeeded(manage("migrate"))
    add_hotel_and_room(any_url)

    # The column, with a server default for the existing row.
    edit(project_copy, "rooms", "from decimal import Decimal\n", "import enum\nfrom decimal import Decimal\n")
    edit(project_copy, "rooms", "from sqlalchemy import ForeignKey,", "from sqlalchemy import Enum, ForeignKey,")
    edit(project_copy, "rooms", "\n\nclass Room(Base):", ROOM_KIND + "\n\nclass Room(Base):")
    append(project_copy, "rooms", KIND_COLUMN)
    added = new_migration(succeeded(manage("makemigrations", "--noinput")), 5)
    assert "rooms_kind" in added, added
    assert versions(project_copy) == ORIGINAL + [added]
    succeeded(manage("migrate"))
    assert revision(any_url) == added
    assert sql(any_url, "SELECT id, kind FROM rooms") == [(1, "single")]
    if backend(any_url) != "sqlite":
        assert enum_values(any_url) == ["single", "double"]

    # A new value: a migration of its own, and rows may hold it.
    edit(project_copy, "rooms", '    double = "double"\n', '    double = "double"\n    suite = "suite"\n')
    lines = succeeded(manage("makemigrations", "--noinput"))
    assert new_migration(lines, 6) == "0006_alter_room_kind"
    assert versions(project_copy) == ORIGINAL + [added, "0006_alter_room_kind"]
    succeeded(manage("migrate"))
    assert revision(any_url) == "0006_alter_room_kind"
    if backend(any_url) != "sqlite":
        assert enum_values(any_url) == ["single", "double", "suite"]
    sql(any_url, "INSERT INTO rooms (id, hotel_id, number, beds, price_per_night, kind) "
                 "VALUES (2, 1, '14', 3, 180.00, 'suite')")
    assert sql(any_url, "SELECT id, kind FROM rooms ORDER BY id") == [(1, "single"), (2, "suite")]
    assert succeeded(manage("makemigrations", "--check")) == ["No changes detected"]

    # Reversed and applied again. The 'suite' row goes first: taking a value away from a type
    # while a row holds it is refused by PostgreSQL and MariaDB, as it should be.
    sql(any_url, "DELETE FROM rooms WHERE id = 2")
    succeeded(manage("migrate", BEFORE_ANY_NEW))
    assert revision(any_url) == BEFORE_ANY_NEW
    assert "kind" not in columns(any_url, "rooms")
    if backend(any_url) == "postgresql":
        assert not pg_type_exists(any_url, "room_kind")
    succeeded(manage("migrate"))
    assert revision(any_url) == "0006_alter_room_kind"
    assert sql(any_url, "SELECT id, kind FROM rooms") == [(1, "single")]
    if backend(any_url) != "sqlite":
        assert enum_values(any_url) == ["single", "double", "suite"]

    # The column removed from the model: removed from the table, and on PostgreSQL its type too.
    edit(project_copy, "rooms", KIND_COLUMN, "")
    removed = new_migration(succeeded(manage("makemigrations", "--noinput")), 7)
    assert removed.startswith("0007_remove_rooms_kind"), removed
    succeeded(manage("migrate"))
    assert revision(any_url) == removed
    assert "kind" not in columns(any_url, "rooms")
    assert sql(any_url, "SELECT id, number FROM rooms") == [(1, "12")]
    if backend(any_url) == "postgresql":
        assert not pg_type_exists(any_url, "room_kind")


# 2. Server defaults


def test_a_changed_server_default_is_a_change(project_copy, run_manage, database_url, succeeded, versions):
    def manage(*args):
        return run_manage(project_copy, *args, database_url=database_url)

    succeeded(manage("migrate"))
    sql(database_url, "INSERT INTO hotels (id, name, city) VALUES (1, 'Ritz', 'Lyon')")

    edit(project_copy, "hotels", "city: Mapped[str] = mapped_column(String(100))",
         'city: Mapped[str] = mapped_column(String(100), server_default="Paris")')
    assert succeeded(manage("makemigrations", "--noinput")) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_alter_hotels_city.py",
        "    ~ Alter column city on hotels",
    ]
    succeeded(manage("migrate"))
    sql(database_url, "INSERT INTO hotels (id, name) VALUES (2, 'Louvre')")

    edit(project_copy, "hotels", 'server_default="Paris"', 'server_default="Rome"')
    assert succeeded(manage("makemigrations", "--noinput")) == [
        "Migrations for 'project':",
        "  migrations/versions/0006_alter_hotels_city.py",
        "    ~ Alter column city on hotels",
    ]
    assert versions(project_copy) == ORIGINAL + ["0005_alter_hotels_city", "0006_alter_hotels_city"]
    succeeded(manage("migrate"))
    sql(database_url, "INSERT INTO hotels (id, name) VALUES (3, 'Hassler')")

    assert sql(database_url, "SELECT id, city FROM hotels ORDER BY id") == [(1, "Lyon"), (2, "Paris"), (3, "Rome")]
    assert succeeded(manage("makemigrations", "--check")) == ["No changes detected"]


# 3. A type change with a cast


def test_string_to_integer_casts_the_rows(project_copy, run_manage, postgres_url, sqlite_url, succeeded,
                                          revision, together):
    def manage(url, *args):
        return lambda: run_manage(project_copy, *args, database_url=url)

    for result in together(manage(postgres_url, "migrate"), manage(sqlite_url, "migrate")):
        succeeded(result)
    for url in (postgres_url, sqlite_url):
        add_hotel_and_room(url)
        sql(url, "INSERT INTO rooms (id, hotel_id, number, beds, price_per_night) VALUES (2, 1, '7', 1, 60.00)")

    edit(project_copy, "rooms", "from sqlalchemy import ForeignKey,", "from sqlalchemy import ForeignKey, Integer,")
    edit(project_copy, "rooms", "number: Mapped[str] = mapped_column(String(20))",
         "number: Mapped[int] = mapped_column(Integer)")
    assert succeeded(manage(postgres_url, "makemigrations", "--noinput")()) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_alter_rooms_number.py",
        "    ~ Alter column number on rooms",
    ]
    path = migration_file(project_copy, "0005_alter_rooms_number")
    assert "postgresql_using='\"number\"::INTEGER'" in function_source(path, "upgrade"), path.read_text()

    # The same file on both databases: the strings become integers.
    for result in together(manage(postgres_url, "migrate"), manage(sqlite_url, "migrate")):
        succeeded(result)
    for url in (postgres_url, sqlite_url):
        assert revision(url) == "0005_alter_rooms_number"
        assert isinstance(columns(url, "rooms")["number"]["type"], sa.Integer), url
        rows = sql(url, "SELECT id, number FROM rooms ORDER BY id")
        assert rows == [(1, 12), (2, 7)] and all(type(number) is int for _, number in rows), (url, rows)

    # And back: strings again.
    for result in together(manage(postgres_url, "migrate", BEFORE_ANY_NEW), manage(sqlite_url, "migrate", BEFORE_ANY_NEW)):
        succeeded(result)
    for url in (postgres_url, sqlite_url):
        assert revision(url) == BEFORE_ANY_NEW
        assert isinstance(columns(url, "rooms")["number"]["type"], sa.String), url
        assert sql(url, "SELECT id, number FROM rooms ORDER BY id") == [(1, "12"), (2, "7")], url


# 4. A dropped model with a foreign key and an index


def test_a_deleted_model_with_a_foreign_key_and_an_index(project_copy, run_manage, any_url, succeeded, versions,
                                                       revision, app_tables, add_bookings_model):
    def manage(*args):
        return run_manage(project_copy, *args, database_url=any_url)

    add_bookings_model(project_copy)
    created = new_migration(succeeded(manage("makemigrations", "--noinput")), 5)  # its name: see the names' tests
    succeeded(manage("migrate"))
    add_hotel_and_room(any_url)
    sql(any_url, "INSERT INTO users (id, email, full_name) VALUES (1, 'ann@example.com', 'Ann')")
    sql(any_url, "INSERT INTO bookings (id, room_id, user_id, check_in) VALUES (1, 1, 1, '2026-12-24')")

    (project_copy / "project" / "models" / "bookings.py").unlink()
    assert succeeded(manage("makemigrations", "--noinput")) == [
        "Migrations for 'project':",
        "  migrations/versions/0006_delete_bookings.py",
        "    - Drop table bookings",
    ]
    assert versions(project_copy) == ORIGINAL + [created, "0006_delete_bookings"]
    upgrade = function_source(migration_file(project_copy, "0006_delete_bookings"), "upgrade")
    assert "drop_table('bookings')" in upgrade, upgrade
    assert "drop_index" not in upgrade, upgrade

    succeeded(manage("migrate"))
    assert revision(any_url) == "0006_delete_bookings"
    assert "bookings" not in app_tables(any_url)

    succeeded(manage("migrate", created))
    assert revision(any_url) == created
    assert "bookings" in app_tables(any_url)
    indexes = inspected(any_url, lambda inspector: inspector.get_indexes("bookings"))
    assert {"name": "ix_bookings_room_id", "columns": ["room_id"]} in [
        {"name": index["name"], "columns": index["column_names"]} for index in indexes], indexes
    foreign_keys = inspected(any_url, lambda inspector: inspector.get_foreign_keys("bookings"))
    assert sorted(fk["referred_table"] for fk in foreign_keys) == ["rooms", "users"], foreign_keys
    assert sql(any_url, "SELECT COUNT(*) FROM bookings") == [(0,)]


# 5. PostgreSQL's HINT in the one-line error


def test_a_postgresql_error_keeps_its_hint(project_copy, run_manage, postgres_url, succeeded, revision):
    succeeded(run_manage(project_copy, "migrate", database_url=postgres_url))
    add_hotel_and_room(postgres_url)
    migration_file(project_copy, "0005_number_to_integer").write_text(
        HAND_WRITTEN_HEADER.format(name="0005_number_to_integer") + NUMBER_WITHOUT_USING)

    failed = run_manage(project_copy, "migrate", database_url=postgres_url)

    error = one_line_error(failed)
    assert error.startswith("CommandError: Migration 0005_number_to_integer failed: "), error
    assert "cannot be cast automatically" in error, error
    assert "HINT: You might need to specify" in error, error
    assert "  Applying 0005_number_to_integer..." in failed.stdout.splitlines()
    # Left at the migration before, with the row as it was.
    assert revision(postgres_url) == BEFORE_ANY_NEW
    assert sql(postgres_url, "SELECT number FROM rooms") == [("12",)]


# 6. Building the scratch database


def test_a_migration_that_fails_on_the_empty_scratch_database(project_copy, run_manage, database_url, versions,
                                                             database_exists, app_tables):
    migration_file(project_copy, "0005_data_fix").write_text(HAND_WRITTEN_HEADER.format(name="0005_data_fix") + DATA_FIX)
    append(project_copy, "users", "    phone: Mapped[str | None] = mapped_column(String(30))\n")
    existed = database_exists(database_url)

    failed = run_manage(project_copy, "makemigrations", "--noinput", database_url=database_url)

    error = one_line_error(failed)
    assert error.startswith("CommandError: While building the scratch database from the migrations, "
                            "0005_data_fix failed: "), error
    assert "nowhere" in error, error
    assert "The scratch database starts empty" in error, error
    assert versions(project_copy) == ORIGINAL + ["0005_data_fix"]
    # The user's database was not touched.
    assert database_exists(database_url) == existed
    if existed:
        assert app_tables(database_url) == set()


# 7. --dry-run -v 3


def test_dry_run_at_verbosity_3_prints_the_whole_file(project_copy, run_manage, sqlite_url, succeeded, versions,
                                                      database_exists):
    append(project_copy, "users", "    phone: Mapped[str | None] = mapped_column(String(30))\n")

    lines = succeeded(run_manage(project_copy, "makemigrations", "--dry-run", "-v", "3", database_url=sqlite_url))

    assert lines[:4] == [
        "Migrations for 'project':",
        "  migrations/versions/0005_users_phone.py",
        "    + Add column phone to users",
        "Full migrations file '0005_users_phone.py':",
    ], lines
    text = "\n".join(lines[4:])
    assert "revision = '0005_users_phone'" in text
    assert "down_revision = '0004_make_email_unique'" in text
    assert "def upgrade() -> None:" in text and "def downgrade() -> None:" in text
    upgrade = text.split("def upgrade() -> None:")[1].split("def downgrade() -> None:")[0]
    assert "add_column(sa.Column('phone', sa.String(length=30), nullable=True))" in upgrade, upgrade
    ast.parse(text)  # the file as printed is Python
    assert versions(project_copy) == ORIGINAL
    assert not database_exists(sqlite_url)


# 8. Models in a sub-package


def test_a_model_in_a_sub_package(project_copy, run_manage, sqlite_url, succeeded, versions, revision):
    shop = project_copy / "project" / "models" / "shop"
    shop.mkdir()
    (shop / "__init__.py").write_text("")
    (shop / "orders.py").write_text(ORDERS_MODEL)

    assert succeeded(run_manage(project_copy, "makemigrations", "--noinput", database_url=sqlite_url)) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_orders.py",
        "    + Create table orders",
    ]
    assert versions(project_copy) == ORIGINAL + ["0005_orders"]
    assert "create_table('orders'" in function_source(migration_file(project_copy, "0005_orders"), "upgrade")

    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    assert revision(sqlite_url) == "0005_orders"
    assert set(columns(sqlite_url, "orders")) == {"id", "user_id", "reference"}
    sql(sqlite_url, "INSERT INTO users (id, email, full_name) VALUES (1, 'ann@example.com', 'Ann')")
    sql(sqlite_url, "INSERT INTO orders (id, user_id, reference) VALUES (1, 1, 'A-1')")
    assert sql(sqlite_url, "SELECT reference FROM orders") == [("A-1",)]


# 9. Names


def test_two_added_columns_are_named_after_both(project_copy, run_manage, sqlite_url, succeeded, versions):
    append(project_copy, "users", "    nickname: Mapped[str | None] = mapped_column(String(50))\n"
                                  "    phone: Mapped[str | None] = mapped_column(String(30))\n")

    assert succeeded(run_manage(project_copy, "makemigrations", "--noinput", database_url=sqlite_url)) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_users_nickname_users_phone.py",
        "    + Add column nickname to users",
        "    + Add column phone to users",
    ]
    assert versions(project_copy) == ORIGINAL + ["0005_users_nickname_users_phone"]


def test_a_new_table_is_named_after_it(project_copy, run_manage, sqlite_url, succeeded, add_bookings_model):
    """Django names a CreateModel after the model, whatever indexes it has."""
    add_bookings_model(project_copy)

    assert succeeded(run_manage(project_copy, "makemigrations", "--dry-run", database_url=sqlite_url)) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_bookings.py",
        "    + Create table bookings",
        "    + Create index ix_bookings_room_id on bookings",
    ]


LONG_NAME = "0005_users_nickname_users_phone_users_website"


def test_a_name_longer_than_32_characters_is_stored_whole(project_copy, run_manage, server_url, succeeded,
                                                          versions, revision, migration_header):
    """On a new database, and on one an older version migrated, whose version table (and
    history table) hold 32 characters."""
    assert len(LONG_NAME) > 32

    def manage(*args):
        return run_manage(project_copy, *args, database_url=server_url)

    append(project_copy, "users", "    nickname: Mapped[str | None] = mapped_column(String(50))\n"
                                  "    phone: Mapped[str | None] = mapped_column(String(30))\n"
                                  "    website: Mapped[str | None] = mapped_column(String(200))\n")
    assert new_migration(succeeded(manage("makemigrations", "--noinput")), 5) == LONG_NAME
    assert migration_header(migration_file(project_copy, LONG_NAME))["revision"] == LONG_NAME

    # A new database.
    succeeded(manage("migrate"))
    assert revision(server_url) == LONG_NAME
    assert sql(server_url, "SELECT revision FROM manage_migrations WHERE revision = :name", name=LONG_NAME) == [(LONG_NAME,)]

    # A database first migrated by an older version: 32 characters.
    succeeded(manage("migrate", BEFORE_ANY_NEW))
    assert revision(server_url) == BEFORE_ANY_NEW
    if backend(server_url) == "postgresql":
        sql(server_url, "ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(32)")
        sql(server_url, "ALTER TABLE manage_migrations ALTER COLUMN revision TYPE VARCHAR(32)")
    else:
        sql(server_url, "ALTER TABLE alembic_version MODIFY version_num VARCHAR(32) NOT NULL")
        sql(server_url, "ALTER TABLE manage_migrations MODIFY revision VARCHAR(32) NOT NULL")
    assert columns(server_url, "alembic_version")["version_num"]["type"].length == 32
    sql(server_url, "INSERT INTO users (id, email, full_name) VALUES (1, 'ann@example.com', 'Ann')")

    migrated = succeeded(manage("migrate"))

    assert migrated[-1] == f"  Applying {LONG_NAME}... OK", migrated
    assert revision(server_url) == LONG_NAME
    assert columns(server_url, "alembic_version")["version_num"]["type"].length >= len(LONG_NAME)
    assert sql(server_url, "SELECT revision FROM manage_migrations WHERE revision = :name", name=LONG_NAME) == [(LONG_NAME,)]
    assert sql(server_url, "SELECT email, nickname, phone, website FROM users") == [("ann@example.com", None, None, None)]


def test_an_enum_migration_made_on_sqlite_runs_on_postgresql(project_copy, run_manage, sqlite_url, postgres_url,
                                                            succeeded):
    """The laptop makes the migration on SQLite; production runs it on PostgreSQL, where the
    type must be created before the column, and is dropped on the way back."""
    edit(project_copy, "rooms", "from decimal import Decimal\n", "import enum\nfrom decimal import Decimal\n")
    edit(project_copy, "rooms", "from sqlalchemy import ForeignKey,", "from sqlalchemy import Enum, ForeignKey,")
    edit(project_copy, "rooms", "\n\nclass Room(Base):", ROOM_KIND + "\n\nclass Room(Base):")
    append(project_copy, "rooms", KIND_COLUMN)
    assert new_migration(succeeded(run_manage(project_copy, "makemigrations", database_url=sqlite_url)), 5) == \
        "0005_room_kind_rooms_kind"
    edit(project_copy, "rooms", '    double = "double"\n', '    double = "double"\n    suite = "suite"\n')
    assert new_migration(succeeded(run_manage(project_copy, "makemigrations", database_url=sqlite_url)), 6) == \
        "0006_alter_room_kind"

    succeeded(run_manage(project_copy, "migrate", database_url=postgres_url))

    assert enum_values(postgres_url) == ["single", "double", "suite"]
    assert succeeded(run_manage(project_copy, "makemigrations", "--check", database_url=postgres_url)) == \
        ["No changes detected"]
    succeeded(run_manage(project_copy, "migrate", BEFORE_ANY_NEW, database_url=postgres_url))
    assert not pg_type_exists(postgres_url, "room_kind")


def test_a_new_migration_that_fails_on_the_scratch_database_is_kept_and_named(project_copy, run_manage, database_url,
                                                                             versions):
    """Tried before anyone runs it: a server default the database cannot evaluate fails on the
    scratch database, in one line naming the migration and the step; the file stays."""
    append(project_copy, "users", '    nickname: Mapped[str | None] = mapped_column(String(20), '
                                  'server_default=text("no_such_function()"))\n')
    edit(project_copy, "users", "from sqlalchemy import String", "from sqlalchemy import String, text")

    made = run_manage(project_copy, "makemigrations", database_url=database_url)

    assert made.returncode == 1, made
    assert made.stdout.splitlines()[-2:] == ["  migrations/versions/0005_users_nickname.py",
                                             "    + Add column nickname to users"]
    error = one_line_error(made)
    assert error.startswith("CommandError: Tried 0005_users_nickname on the scratch database: its upgrade failed: ")
    assert error.endswith("The file is kept for you to fix.")
    assert versions(project_copy) == ORIGINAL + ["0005_users_nickname"]
    # Fixed by hand, it is tried again by the next run, from the migrations as they are now.
    (project_copy / "migrations" / "versions" / "0005_users_nickname.py").unlink()
    edit(project_copy, "users", 'server_default=text("no_such_function()")', "server_default='friend'")
    again = run_manage(project_copy, "makemigrations", database_url=database_url)
    assert again.returncode == 0, again.stderr


def test_mariadb_renames_a_column_changes_a_boolean_and_drops_a_foreign_key_column(project_copy, run_manage,
                                                                                   mariadb_url, succeeded):
    """What MariaDB reads back differs from the models (INTEGER(11), TINYINT(1)), and it refuses
    to drop an index a foreign key needs: none of it may stop makemigrations or migrate."""
    def manage(*args, input=""):
        return run_manage(project_copy, *args, database_url=mariadb_url, input=input)

    succeeded(manage("migrate"))
    add_hotel_and_room(mariadb_url)

    edit(project_copy, "rooms", "    beds: Mapped[int]", "    bed_count: Mapped[int]")
    renamed = succeeded(manage("makemigrations", input="y\n"))
    assert renamed[0].startswith("Was rooms.beds renamed to rooms.bed_count (a INTEGER)? [y/N] ")
    succeeded(manage("migrate"))
    assert sql(mariadb_url, "SELECT bed_count FROM rooms") == [(2,)]

    append(project_copy, "rooms", "    available: Mapped[bool | None]\n")
    succeeded(manage("makemigrations"))
    succeeded(manage("migrate"))
    edit(project_copy, "rooms", "    available: Mapped[bool | None]", "    available: Mapped[int | None]")
    assert succeeded(manage("makemigrations"))[-1] == "    ~ Alter column available on rooms"
    succeeded(manage("migrate"))

    edit(project_copy, "rooms", '    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id", ondelete="CASCADE"), index=True)\n', "")
    edit(project_copy, "rooms", "\n    hotel: Mapped[Hotel] = relationship()\n", "\n")
    succeeded(manage("makemigrations"))
    succeeded(manage("migrate"))
    assert "hotel_id" not in columns(mariadb_url, "rooms")
    assert succeeded(manage("makemigrations", "--check")) == ["No changes detected"]
