"""Squashing without a database: which migrations a squash replaces, what it needs, how a
database's state reads once the replaced files are gone, and the file edits a squash makes."""
import pytest

from manage_migrations import graph
from manage_migrations.graph import Migration as M
from manage_migrations.loader import read_migrations
from manage_migrations.output import CommandError
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from manage_migrations.source import hand_written
from manage_migrations.commands.squashmigrations import replaced_renames, repointed, squashed_id
from manage_migrations.portable import portable_default, portable_type

# 0001 <- 0002 <- 0003 <- 0004 <- 0005, all in the app `migrations`
CHAIN = [M("0001_a"), M("0002_b", ("0001_a",)), M("0003_c", ("0002_b",)), M("0004_d", ("0003_c",)),
         M("0005_e", ("0004_d",))]
SQUASHED = M("0001_a_squashed_0003_c", replaces=("0001_a", "0002_b", "0003_c"))
# After squashing 0001..0003: the squash, and 0004 pointed at it.
AFTER = [SQUASHED, M("0004_d", (SQUASHED.revision,)), M("0005_e", ("0004_d",))]


def message(excinfo) -> str:
    return excinfo.value.message


def test_a_squash_replaces_the_app_from_start_to_end_in_the_order_they_run():
    assert graph.squash_range(CHAIN, "0003_c") == ["0001_a", "0002_b", "0003_c"]
    assert graph.squash_range(CHAIN, "0004_d", "0002_b") == ["0002_b", "0003_c", "0004_d"]


def test_a_start_after_the_end_is_djangos_error():
    with pytest.raises(CommandError) as excinfo:
        graph.squash_range(CHAIN, "0002_b", "0004_d")
    assert message(excinfo).startswith("The migration '0004_d' cannot be found. Maybe it comes after the migration "
                                       "'0002_b'?\nHave a look at:\n  python manage.py showmigrations migrations")


def test_a_squash_leaves_other_apps_out_and_needs_what_they_give():
    history = [M("0001_a", branch_labels=("shop",)), M("0001_x", branch_labels=("blog",)),
               M("0002_b", ("0001_a",), depends_on=("0001_x",)), M("0003_c", ("0002_b",))]
    replaced = graph.squash_range(history, "0003_c")
    assert replaced == ["0001_a", "0002_b", "0003_c"]
    assert graph.squash_needs(history, replaced) == ((), ("0001_x",))


def test_a_squash_from_the_middle_needs_what_start_needed():
    assert graph.squash_needs(CHAIN, ["0003_c", "0004_d"]) == (("0002_b",), ())


def test_a_need_another_need_covers_is_left_out():
    history = CHAIN[:2] + [M("0003_c", ("0002_b",), depends_on=("0001_a",))]
    assert graph.squash_needs(history, ["0003_c"]) == (("0002_b",), ())


def test_a_database_at_the_last_replaced_is_at_the_squash():
    assert graph.squashed_in(("0003_c",), AFTER) == {"0003_c": SQUASHED.revision}
    assert graph.applied(("0003_c",), AFTER) == {SQUASHED.revision}
    assert graph.plan(AFTER, ("0003_c",), ("0005_e",)) == [("0004_d", True), ("0005_e", True)]


def test_a_database_past_the_squash_needs_nothing():
    assert graph.squashed_in(("0005_e",), AFTER) == {}
    assert graph.plan(AFTER, ("0005_e",), ("0005_e",)) == []


def test_a_database_part_way_with_the_files_gone_is_one_line_naming_the_range():
    with pytest.raises(CommandError) as excinfo:
        graph.applied(("0002_b",), AFTER)
    assert message(excinfo).startswith("The database is at 0002_b, part-way through the migrations that "
                                       "0001_a_squashed_0003_c replaces (0001_a to 0003_c), whose files are gone")
    assert "\n" not in message(excinfo)


def test_an_unknown_revision_that_no_squash_replaces_is_still_the_usual_error():
    with pytest.raises(CommandError, match="which no migration file has"):
        graph.applied(("0009_z",), AFTER)


def test_the_history_before_a_squash_is_the_one_it_replaced():
    before = graph.before_squash(AFTER, SQUASHED, CHAIN[:3])
    assert sorted(before, key=lambda m: m.revision) == CHAIN
    assert graph.plan(before, ("0002_b",), ("0005_e",)) == [("0003_c", True), ("0004_d", True), ("0005_e", True)]


def test_names_as_django_gives_them():
    assert squashed_id("0001_initial", "0004_more", None) == "0001_initial_squashed_0004_more"
    assert squashed_id("0001_initial", "0004_more", "Base schema") == "0001_base_schema"
    assert squashed_id("ae1027a6acf", "1975ea83b712", "base") == "base"
    with pytest.raises(CommandError, match="no letters or digits"):
        squashed_id("0001_initial", "0004_more", "!!")


def test_repointed_rewrites_only_the_header():
    source = ('"""follows 0003_c"""\nrevision = "0004_d"\ndown_revision = "0003_c"\nbranch_labels = None\n'
              'depends_on = ("0001_a", "0003_c")\n\n\ndef upgrade():\n    op.execute("-- 0003_c")\n')
    assert repointed(source, "0003_c", "S") == (
        '"""follows 0003_c"""\nrevision = "0004_d"\ndown_revision = \'S\'\nbranch_labels = None\n'
        'depends_on = (\'0001_a\', \'S\')\n\n\ndef upgrade():\n    op.execute("-- 0003_c")\n')


def test_renames_the_replaced_migrations_made(tmp_path):
    path = tmp_path / "0003_c.py"
    path.write_text("def upgrade():\n    op.rename_table('guests', 'users')\n"
                    "    with op.batch_alter_table('users') as batch_op:\n"
                    "        batch_op.alter_column('name', new_column_name='full_name')\n"
                    "    op.alter_column('rooms', 'no', new_column_name='number')\n")
    assert replaced_renames([str(path)]) == {(None, "guests", "users"), ("users", "name", "full_name"),
                                             ("rooms", "no", "number")}


def test_replaces_is_read_from_the_file(tmp_path):
    (tmp_path / "0001_a_squashed_0002_b.py").write_text(
        "revision = '0001_a_squashed_0002_b'\ndown_revision = None\nreplaces = ('0001_a', '0002_b')\n")
    (tmp_path / "0003_c.py").write_text(
        "import sys\nrevision = '0003_c'\ndown_revision = '0001_a_squashed_0002_b'\nreplaces = ()\n"
        "if sys: pass\n")
    found = {m.revision: m.replaces for m in read_migrations([tmp_path])}
    assert found == {"0001_a_squashed_0002_b": ("0001_a", "0002_b"), "0003_c": ()}


def test_a_rename_of_a_rename_is_a_rename_of_the_first_name(tmp_path):
    path = tmp_path / "0003_c.py"
    path.write_text("def upgrade():\n    op.alter_column('books', 'pages', new_column_name='page_count')\n"
                    "    op.alter_column('books', 'page_count', new_column_name='pages_total')\n")
    assert ("books", "pages", "pages_total") in replaced_renames([str(path)])


def test_a_column_renamed_before_its_table_is_renamed_under_the_new_table(tmp_path):
    path = tmp_path / "0003_c.py"
    path.write_text("def upgrade():\n    op.alter_column('books', 'pages', new_column_name='page_count')\n"
                    "    op.rename_table('books', 'volumes')\n")
    assert replaced_renames([str(path)]) == {("books", "pages", "page_count"), (None, "books", "volumes"),
                                             ("volumes", "pages", "page_count")}


@pytest.mark.parametrize("reflected, dialect, generic", [
    (sqlite.VARCHAR(120), sqlite.dialect(), "String(length=120)"),
    (sqlite.DATETIME(), sqlite.dialect(), "DateTime()"),
    (postgresql.TIMESTAMP(timezone=True), postgresql.dialect(), "DateTime(timezone=True)"),
    (postgresql.ENUM("a", "b", name="kind"), postgresql.dialect(), "Enum('a', 'b', name='kind')"),
    (postgresql.JSONB(), postgresql.dialect(), "JSONB(astext_type=Text())"),  # JSON would be another type
    (mysql.TINYINT(display_width=1), mysql.dialect(), "Boolean()"),
    (mysql.INTEGER(display_width=11), mysql.dialect(), "Integer()"),
])
def test_reflected_types_are_written_as_every_backend_takes_them(reflected, dialect, generic):
    assert repr(portable_type(reflected, dialect)) == generic


@pytest.mark.parametrize("reflected, type_, portable", [
    ("'new'::character varying", sa.String(), "'new'"),
    ("now()", sa.DateTime(), "CURRENT_TIMESTAMP"),
    ("(CURRENT_TIMESTAMP)", sa.DateTime(), "CURRENT_TIMESTAMP"),
    ("'now()'", sa.String(), "'now()'"),
    ("nextval('books_id_seq'::regclass)", sa.Integer(), None),
    ("0", sa.Integer(), "0"),
])
def test_reflected_defaults_are_written_as_every_backend_takes_them(reflected, type_, portable):
    assert portable_default(reflected, type_) == portable


@pytest.mark.parametrize("reflected, value", [("0", False), ("false", False), ("'1'", True), ("true", True)])
def test_a_boolean_default_becomes_sa_false_or_sa_true(reflected, value):
    default = portable_default(reflected, sa.Boolean())
    assert isinstance(default.arg, sa.sql.elements.True_ if value else sa.sql.elements.False_)


def test_hand_written_steps_are_what_autogenerate_does_not_write(tmp_path):
    path = tmp_path / "0003_c.py"
    path.write_text('def upgrade():\n    """Fill."""\n    op.add_column("t", sa.Column("x", sa.Integer()))\n'
                    '    with op.batch_alter_table("t") as batch_op:\n        batch_op.drop_column("y")\n'
                    '    connection = op.get_bind()\n    connection.execute(sa.text("UPDATE t SET x = 1"))\n'
                    '    op.execute("DELETE FROM t")\n')
    assert hand_written(str(path)) == ["get_bind", "execute"]
    path.write_text("def upgrade():\n    for row in ROWS:\n        insert(row)\n")
    assert hand_written(str(path)) == ["for row in ROWS:"]
    path.write_text("def upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer()))\n")
    assert hand_written(str(path)) == []
