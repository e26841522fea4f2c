"""project.index: the migration files read as data (``ast``), never imported.

Every test writes its files in tmp_path; the last ones read the repository's own four migrations."""
import textwrap
from pathlib import Path

import pytest

from project import index
from project.graph import Migration
from project.output import CommandError

REPO_VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def migration_file(folder: Path, revision: str, down_revision=None, depends_on=None) -> Path:
    """A file as Alembic's own template writes it, with annotated assignments."""
    return write(folder, f"{revision}.py", f'''\
        """{revision}"""
        from typing import Sequence, Union

        from alembic import op
        import sqlalchemy as sa

        revision: str = {revision!r}
        down_revision: Union[str, Sequence[str], None] = {down_revision!r}
        branch_labels: Union[str, Sequence[str], None] = None
        depends_on: Union[str, Sequence[str], None] = {depends_on!r}


        def upgrade() -> None:
            pass


        def downgrade() -> None:
            pass
        ''')


def message(excinfo) -> str:
    return excinfo.value.format_message()


# read_migration


def test_plain_assignments(tmp_path):
    path = write(tmp_path, "0002_b.py", """\
        from alembic import op
        revision = '0002_b'
        down_revision = '0001_a'
        branch_labels = None
        depends_on = None
        """)

    migration = index.read_migration(path)

    assert migration == Migration("0002_b", ("0001_a",))
    assert (migration.revision, migration.parents, migration.path) == ("0002_b", ("0001_a",), str(path))


def test_annotated_assignments_as_alembics_template_writes_them(tmp_path):
    path = migration_file(tmp_path, "0001_x", down_revision=None)

    assert index.read_migration(path) == Migration("0001_x", ())


def test_annotated_assignment_with_a_parent(tmp_path):
    path = write(tmp_path, "0002_y.py", """\
        from typing import Union
        revision: str = '0002_y'
        down_revision: Union[str, None] = '0001_x'
        """)

    assert index.read_migration(path).parents == ("0001_x",)


def test_an_annotation_without_a_value_is_not_an_assignment(tmp_path):
    path = write(tmp_path, "0002_y.py", """\
        revision: str
        revision = '0002_y'
        down_revision: str
        down_revision = '0001_x'
        """)

    assert index.read_migration(path) == Migration("0002_y", ("0001_x",))


def test_a_merge_has_every_parent_of_its_tuple_in_order(tmp_path):
    path = write(tmp_path, "0006_merge.py", """\
        revision = '0006_merge'
        down_revision = ('0005_add_phone', '0005_add_rating')
        """)

    assert index.read_migration(path).parents == ("0005_add_phone", "0005_add_rating")


def test_depends_on_counts_as_a_parent(tmp_path):
    path = migration_file(tmp_path, "0003_c", down_revision="0002_b", depends_on="0001_other")

    assert index.read_migration(path).parents == ("0002_b", "0001_other")


def test_depends_on_as_a_list_and_down_revision_as_a_list(tmp_path):
    path = write(tmp_path, "0004_d.py", """\
        revision = '0004_d'
        down_revision = ['0003_a', '0003_b']
        depends_on = ['0001_x', '0002_y']
        """)

    assert index.read_migration(path).parents == ("0003_a", "0003_b", "0001_x", "0002_y")


def test_assignments_inside_functions_or_later_in_the_file_do_not_override_the_module_level_one(tmp_path):
    path = write(tmp_path, "0002_b.py", """\
        revision = '0002_b'
        down_revision = '0001_a'

        def upgrade():
            revision = 'not_me'
            down_revision = 'nor_me'
        """)

    assert index.read_migration(path) == Migration("0002_b", ("0001_a",))


def test_the_file_is_not_imported(tmp_path):
    path = write(tmp_path, "0001_a.py", """\
        raise RuntimeError('imported!')
        import nonexistent_module
        revision = '0001_a'
        down_revision = None
        """)

    assert index.read_migration(path) == Migration("0001_a", ())


@pytest.mark.parametrize("source, line, detail", [
    ("revision = '0001_a'\ndown_revision = None\n\ndef upgrade(:\n    pass\n", 4, "invalid syntax"),
    ("revision = '0001_a'\ndown_revision = (\n", 2, "'(' was never closed"),
    ("revision = '0001_a'\n  down_revision = None\n", 2, "unexpected indent"),
])
def test_a_syntax_error_names_the_file_and_the_line(tmp_path, source, line, detail):
    path = tmp_path / "0001_a.py"
    path.write_text(source)

    with pytest.raises(CommandError) as excinfo:
        index.read_migration(path)

    assert message(excinfo) == f"Migration file 0001_a.py has a syntax error at line {line}: {detail}"


@pytest.mark.parametrize("value", ["make_revision()", "PREFIX + '_a'", "f'{number}_a'", "other_module.REVISION"])
def test_a_revision_that_is_not_a_literal(tmp_path, value):
    path = write(tmp_path, "0001_a.py", f"""\
        revision = {value}
        down_revision = None
        """)

    with pytest.raises(CommandError) as excinfo:
        index.read_migration(path)

    assert message(excinfo) == "Migration file 0001_a.py must set revision to a literal."


def test_a_down_revision_that_is_not_a_literal(tmp_path):
    path = write(tmp_path, "0002_b.py", """\
        from typing import Union
        revision: str = '0002_b'
        down_revision: Union[str, None] = previous()
        """)

    with pytest.raises(CommandError) as excinfo:
        index.read_migration(path)

    assert message(excinfo) == "Migration file 0002_b.py must set down_revision to a literal."


@pytest.mark.parametrize("source", [
    "down_revision = None\n",
    "revision = None\ndown_revision = None\n",
    "revision = 5\ndown_revision = None\n",
    "revision: str\ndown_revision = None\n",
    "def upgrade():\n    revision = '0001_a'\n",
    "",
])
def test_a_file_without_a_revision_string(tmp_path, source):
    path = tmp_path / "0001_a.py"
    path.write_text(source)

    with pytest.raises(CommandError) as excinfo:
        index.read_migration(path)

    assert message(excinfo) == "Migration file 0001_a.py does not set revision = '...'."


# read_migrations and migration_files


def test_read_migrations_ignores_init_editor_droppings_and_other_files(tmp_path):
    migration_file(tmp_path, "0001_a")
    migration_file(tmp_path, "0002_b", down_revision="0001_a")
    write(tmp_path, "__init__.py", "this is not even python(\n")
    (tmp_path / ".#0002_b.py").symlink_to("root@host.1234:1700000000")  # Emacs's lock: a dangling link
    write(tmp_path, "README", "revision = 'readme'\n")
    write(tmp_path, "0002_b.py~", "revision = '0002_b'\n")
    (tmp_path / "__pycache__").mkdir()
    write(tmp_path / "__pycache__", "0003_c.py", "revision = '0003_c'\n")

    assert index.migration_files(tmp_path) == [str(tmp_path / "0001_a.py"), str(tmp_path / "0002_b.py")]
    assert index.read_migrations(tmp_path) == [Migration("0001_a", ()), Migration("0002_b", ("0001_a",))]


def test_read_migrations_of_an_empty_folder(tmp_path):
    assert index.read_migrations(tmp_path) == []


def test_read_migrations_keeps_each_files_path(tmp_path):
    first = migration_file(tmp_path, "0001_a")

    assert [m.path for m in index.read_migrations(tmp_path)] == [str(first)]


def test_two_files_with_one_revision_id_are_named_both(tmp_path):
    migration_file(tmp_path, "0001_a")
    write(tmp_path, "0002_add_phone.py", "revision = '0002_add_phone'\ndown_revision = '0001_a'\n")
    write(tmp_path, "0002_add_phone_copy.py", "revision = '0002_add_phone'\ndown_revision = '0001_a'\n")

    with pytest.raises(CommandError) as excinfo:
        index.read_migrations(tmp_path)

    assert message(excinfo) == ("Revision '0002_add_phone' is declared by two files: "
                                "0002_add_phone.py and 0002_add_phone_copy.py.")


def test_a_file_whose_name_is_not_its_revision_can_still_clash(tmp_path):
    write(tmp_path, "0001_a.py", "revision = 'abc123'\ndown_revision = None\n")
    write(tmp_path, "0001_b.py", "revision = 'abc123'\ndown_revision = None\n")

    with pytest.raises(CommandError) as excinfo:
        index.read_migrations(tmp_path)

    assert message(excinfo) == "Revision 'abc123' is declared by two files: 0001_a.py and 0001_b.py."


def test_a_parent_that_no_file_has(tmp_path):
    migration_file(tmp_path, "0001_a")
    migration_file(tmp_path, "0003_c", down_revision="0002_gone")

    with pytest.raises(CommandError) as excinfo:
        index.read_migrations(tmp_path)

    assert message(excinfo) == "Migration 0003_c depends on '0002_gone', which no migration file has."


def test_a_depends_on_that_no_file_has(tmp_path):
    migration_file(tmp_path, "0001_a")
    migration_file(tmp_path, "0002_b", down_revision="0001_a", depends_on="0001_elsewhere")

    with pytest.raises(CommandError) as excinfo:
        index.read_migrations(tmp_path)

    assert message(excinfo) == "Migration 0002_b depends on '0001_elsewhere', which no migration file has."


def test_read_migrations_reports_a_syntax_error_in_any_file(tmp_path):
    migration_file(tmp_path, "0001_a")
    (tmp_path / "0002_b.py").write_text("revision = '0002_b'\ndown_revision = '0001_a'\nif True\n    pass\n")

    with pytest.raises(CommandError) as excinfo:
        index.read_migrations(tmp_path)

    assert message(excinfo) == "Migration file 0002_b.py has a syntax error at line 3: expected ':'"


# operations


def with_bodies(tmp_path: Path, upgrade: str, downgrade: str = "pass") -> str:
    source = (
        "from alembic import op\nimport logging\nimport sqlalchemy as sa\n\n"
        "logger = logging.getLogger(__name__)\nrevision = '0005_x'\ndown_revision = '0004_y'\n\n\n"
        "def upgrade() -> None:\n" + textwrap.indent(textwrap.dedent(upgrade), "    ") + "\n\n"
        "def downgrade() -> None:\n" + textwrap.indent(textwrap.dedent(downgrade), "    ") + "\n"
    )
    path = tmp_path / "0005_x.py"
    path.write_text(source)
    return str(path)


@pytest.mark.parametrize("body, expected", [
    ("op.create_table('bookings', sa.Column('id', sa.Integer(), nullable=False),\n"
     "                sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')))",
     [("Create table bookings", False)]),
    ("op.drop_table('bookings')", [("Drop table bookings", True)]),
    ("op.add_column('users', sa.Column('phone', sa.String(length=30), nullable=True))",
     [("Add column phone on users", False)]),
    ("op.drop_column('users', 'phone')", [("Drop column phone on users", True)]),
    ("op.create_index(op.f('ix_a'), 'rooms', ['x'], unique=False)", [("Create index ix_a on rooms", False)]),
    ("op.drop_index('ix_a', table_name='rooms')", [("Drop index ix_a on rooms", False)]),
    ("op.alter_column('users', 'email', existing_type=sa.String(254), nullable=True)",
     [("Alter column email on users", False)]),
    ("op.create_unique_constraint('uq_users_email', 'users', ['email'])",
     [("Create unique constraint uq_users_email on users", False)]),
    ("op.create_foreign_key('fk_rooms_hotel_id_hotels', 'rooms', 'hotels', ['hotel_id'], ['id'])",
     [("Create foreign key fk_rooms_hotel_id_hotels on rooms", False)]),
    ("op.drop_constraint('uq_users_email', 'users', type_='unique')",
     [("Drop constraint uq_users_email on users", False)]),
])
def test_operations_outside_a_batch(tmp_path, body, expected):
    assert index.operations(with_bodies(tmp_path, body)) == expected


def test_operations_in_a_batch_take_the_batchs_table(tmp_path):
    path = with_bodies(tmp_path, """\
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
            batch_op.create_index(batch_op.f('ix_users_phone'), ['phone'], unique=False)
            batch_op.drop_column('nickname')
        """)

    assert index.operations(path) == [
        ("Add column phone on users", False),
        ("Create index ix_users_phone on users", False),
        ("Drop column nickname on users", True),
    ]


def test_batch_drop_column_destroys_data(tmp_path):
    path = with_bodies(tmp_path, "pass", """\
        with op.batch_alter_table('users') as batch_op:
            batch_op.drop_column('phone')
        """)

    assert index.operations(path, forward=False) == [("Drop column phone on users", True)]
    assert index.operations(path) == []


def test_a_batch_named_by_keyword(tmp_path):
    path = with_bodies(tmp_path, """\
        with op.batch_alter_table(table_name='rooms') as batch:
            batch.drop_index(batch.f('ix_rooms_hotel_id'))
        """)

    assert index.operations(path) == [("Drop index ix_rooms_hotel_id on rooms", False)]


def test_upgrade_and_downgrade_are_read_apart(tmp_path):
    path = with_bodies(tmp_path,
                       "op.add_column('users', sa.Column('phone', sa.String(30)))",
                       "op.drop_column('users', 'phone')")

    assert index.operations(path) == [("Add column phone on users", False)]
    assert index.operations(path, forward=False) == [("Drop column phone on users", True)]


def test_calls_on_other_receivers_are_ignored(tmp_path):
    path = with_bodies(tmp_path, """\
        print('dropping the table now')
        logger.info('drop_table %s', 'bookings')
        sa.Column('ignored', sa.Integer())
        bind = op.get_bind()
        op.drop_table('bookings')
        logger.warning('done')
        """)

    assert index.operations(path) == [("Drop table bookings", True)]


def test_an_operation_on_a_variable_named_like_a_batch_outside_one_is_ignored(tmp_path):
    path = with_bodies(tmp_path, """\
        batch_op.drop_column('phone')
        with open('notes.txt') as batch_op:
            batch_op.write('x')
        """)

    assert index.operations(path) == []


def test_operations_in_nested_blocks_are_found(tmp_path):
    path = with_bodies(tmp_path, """\
        if op.get_context().dialect.name == 'postgresql':
            op.drop_column('users', 'legacy')
        for table in ('a', 'b'):
            op.drop_table('bookings')
        """)

    assert index.operations(path) == [("Drop column legacy on users", True), ("Drop table bookings", True)]


def test_operations_in_an_else_branch_are_found_too(tmp_path):
    # A dialect-specific migration: what runs on PostgreSQL is in the else branch, and a plan
    # that left it out would not mark the dropped column as destroying data.
    path = with_bodies(tmp_path, """\
        if op.get_context().dialect.name == 'sqlite':
            pass
        else:
            op.drop_column('users', 'legacy')
        """)

    assert index.operations(path) == [("Drop column legacy on users", True)]


def test_a_file_without_upgrade_or_downgrade_has_no_operations(tmp_path):
    path = tmp_path / "0001_a.py"
    path.write_text("revision = '0001_a'\ndown_revision = None\n")

    assert index.operations(str(path)) == []
    assert index.operations(str(path), forward=False) == []


def test_an_empty_migration_has_no_operations(tmp_path):
    assert index.operations(with_bodies(tmp_path, "pass", "pass")) == []


# the repository's own migrations


def test_the_repositorys_migrations_are_read_in_order():
    migrations = index.read_migrations(REPO_VERSIONS)

    assert [(m.revision, m.parents) for m in migrations] == [
        ("0001_create_table_hotels", ()),
        ("0002_create_table_rooms", ("0001_create_table_hotels",)),
        ("0003_add_users", ("0002_create_table_rooms",)),
        ("0004_make_email_unique", ("0003_add_users",)),
    ]
    assert [Path(m.path) for m in migrations] == [REPO_VERSIONS / f"{m.revision}.py" for m in migrations]


@pytest.mark.parametrize("revision, upgrade, downgrade", [
    ("0001_create_table_hotels", [("Create table hotels", False)], [("Drop table hotels", True)]),
    ("0002_create_table_rooms",
     [("Create table rooms", False), ("Create index ix_rooms_hotel_id on rooms", False)],
     [("Drop table rooms", True)]),
    ("0003_add_users", [("Create table users", False)], [("Drop table users", True)]),
    ("0004_make_email_unique",
     [("Create unique constraint uq_users_email on users", False)],
     [("Drop constraint uq_users_email on users", False)]),
])
def test_the_repositorys_migrations_operations(revision, upgrade, downgrade):
    path = str(REPO_VERSIONS / f"{revision}.py")

    assert index.operations(path) == upgrade
    assert index.operations(path, forward=False) == downgrade
