"""manage_migrations.source.enum_values: the values each enum type has once the migration files have run,
read from their upgrade() with ``ast``. Every test writes its migration files in tmp_path."""
import textwrap
from pathlib import Path

from manage_migrations import source

HEADER = '''\
"""{revision}"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic_postgresql_enum import TableReference

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


'''


def migration(folder: Path, revision: str, upgrade: str, downgrade: str = "pass", down_revision=None) -> str:
    """A migration file whose ``upgrade()`` and ``downgrade()`` have the given bodies."""
    body = (HEADER.format(revision=revision, down_revision=down_revision)
            + "def upgrade() -> None:\n" + textwrap.indent(textwrap.dedent(upgrade).strip("\n"), "    ") + "\n\n\n"
            + "def downgrade() -> None:\n" + textwrap.indent(textwrap.dedent(downgrade).strip("\n"), "    ") + "\n")
    path = folder / f"{revision}.py"
    path.write_text(body)
    compile(body, str(path), "exec")  # every file here is valid Python unless a test says otherwise
    return str(path)


CREATE_ROOMS = """
    op.create_table('rooms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('a', 'b', name='kind'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
"""


def test_an_enum_in_create_table_defines_the_type(tmp_path):
    assert source.enum_values([migration(tmp_path, "0001", CREATE_ROOMS)]) == {"kind": ["a", "b"]}


def test_no_files_no_types():
    assert source.enum_values([]) == {}


def test_a_postgresql_enum_defines_the_type_too(tmp_path):
    path = migration(tmp_path, "0001", """
        op.add_column('rooms', sa.Column('state', postgresql.ENUM('new', 'open', name='state'), nullable=True))
    """)
    assert source.enum_values([path]) == {"state": ["new", "open"]}


def test_the_enum_librarys_create_defines_the_type(tmp_path):
    """What alembic-postgresql-enum's CreateEnumOp renders."""
    path = migration(tmp_path, "0001", """
        sa.Enum('single', 'double', name='room_kind', schema='public').create(op.get_bind())
    """)
    assert source.enum_values([path]) == {"room_kind": ["single", "double"]}


def test_an_enum_in_a_batch_defines_the_type(tmp_path):
    path = migration(tmp_path, "0001", """
        with op.batch_alter_table('rooms', schema=None) as batch_op:
            batch_op.add_column(sa.Column('kind', sa.Enum('x', 'y', 'z', name='kind'), nullable=True))
    """)
    assert source.enum_values([path]) == {"kind": ["x", "y", "z"]}


def test_an_enum_without_a_name_is_no_type(tmp_path):
    path = migration(tmp_path, "0001", """
        op.add_column('rooms', sa.Column('kind', sa.Enum('a', 'b'), nullable=True))
    """)
    assert source.enum_values([path]) == {}


def test_several_types_in_one_file(tmp_path):
    path = migration(tmp_path, "0001", """
        op.create_table('rooms',
            sa.Column('kind', sa.Enum('a', 'b', name='kind'), nullable=False),
            sa.Column('state', sa.Enum('new', 'old', name='state'), nullable=False),
        )
    """)
    assert source.enum_values([path]) == {"kind": ["a", "b"], "state": ["new", "old"]}


def test_add_enum_value_appends(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 op.add_enum_value(  # type: ignore[attr-defined]
                     enum_schema='public',
                     enum_name='kind',
                     new_value='c',
                 )
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b", "c"]}


def test_add_enum_value_twice_appends_in_order(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 op.add_enum_value(enum_schema='public', enum_name='kind', new_value='c')
                 op.add_enum_value(enum_schema='public', enum_name='kind', new_value='d')
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b", "c", "d"]}


def test_add_enum_value_with_before_value_inserts_it_there(tmp_path):
    """alembic-postgresql-enum writes ``before_value=`` when a value is added in the middle
    (PostgreSQL's ``ALTER TYPE ... ADD VALUE 'b' BEFORE 'c'``); sync_enums compares lists, so
    the order matters."""
    paths = [migration(tmp_path, "0001", """
                 op.create_table('rooms', sa.Column('kind', sa.Enum('a', 'c', name='kind'), nullable=False))
             """),
             migration(tmp_path, "0002", """
                 op.add_enum_value(  # type: ignore[attr-defined]
                     enum_schema='public',
                     enum_name='kind',
                     new_value='b',
                     before_value='c',
                 )
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b", "c"]}


def test_sync_enum_values_replaces_the_values(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 op.sync_enum_values(
                     enum_schema='public',
                     enum_name='kind',
                     new_values=['a'],
                     affected_columns=[TableReference(table_schema='public', table_name='rooms', column_name='kind')],
                     enum_values_to_rename=[],
                 )
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a"]}


def test_a_drop_removes_the_type(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 op.drop_table('rooms')
                 sa.Enum('a', name='kind').drop(op.get_bind())
             """, down_revision="0001")]
    assert source.enum_values(paths) == {}


def test_the_enum_librarys_drop_removes_the_type(tmp_path):
    """What alembic-postgresql-enum's DropEnumOp renders, with its schema."""
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 sa.Enum('a', 'b', name='kind', schema='public').drop(op.get_bind())
             """, down_revision="0001")]
    assert source.enum_values(paths) == {}


def test_a_drop_removes_only_its_own_type(tmp_path):
    paths = [migration(tmp_path, "0001", """
                 op.create_table('rooms',
                     sa.Column('kind', sa.Enum('a', 'b', name='kind'), nullable=False),
                     sa.Column('state', sa.Enum('new', 'old', name='state'), nullable=False),
                 )
             """),
             migration(tmp_path, "0002", "sa.Enum('a', name='kind').drop(op.get_bind())", down_revision="0001")]
    assert source.enum_values(paths) == {"state": ["new", "old"]}


def test_a_type_dropped_then_made_again_in_one_file(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 sa.Enum('a', 'b', name='kind').drop(op.get_bind())
                 sa.Enum('x', 'y', name='kind').create(op.get_bind())
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["x", "y"]}


def test_a_type_made_then_dropped_in_one_file_is_gone(tmp_path):
    path = migration(tmp_path, "0001", """
        sa.Enum('x', 'y', name='kind').create(op.get_bind())
        sa.Enum('x', 'y', name='kind').drop(op.get_bind())
    """)
    assert source.enum_values([path]) == {}


def test_a_later_file_overrides_an_earlier_one(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 with op.batch_alter_table('rooms', schema=None) as batch_op:
                     batch_op.alter_column('kind',
                            existing_type=sa.Enum('a', 'b', name='kind'),
                            type_=sa.Enum('a', 'b', 'c', name='kind'),
                            existing_nullable=False)
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b", "c"]}


def test_files_are_taken_in_the_order_given(tmp_path):
    first = migration(tmp_path, "0001", "op.add_column('r', sa.Column('k', sa.Enum('a', name='kind')))")
    second = migration(tmp_path, "0002", "op.add_column('s', sa.Column('k', sa.Enum('b', name='kind')))")
    assert source.enum_values([first, second]) == {"kind": ["b"]}
    assert source.enum_values([second, first]) == {"kind": ["a"]}


def test_enums_in_downgrade_are_ignored(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", "op.drop_table('rooms')",
                       downgrade="""
                           op.create_table('rooms', sa.Column('kind', sa.Enum('x', name='kind'), nullable=False))
                           sa.Enum('a', 'b', name='kind').drop(op.get_bind())
                           op.add_enum_value(enum_schema='public', enum_name='kind', new_value='z')
                       """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b"]}


def test_a_downgrade_before_the_upgrade_in_the_file_is_still_ignored(tmp_path):
    path = tmp_path / "0001.py"
    path.write_text(textwrap.dedent('''\
        from alembic import op
        import sqlalchemy as sa

        revision = '0001'
        down_revision = None


        def downgrade():
            op.add_column('rooms', sa.Column('kind', sa.Enum('x', name='kind')))


        def upgrade():
            op.add_column('rooms', sa.Column('kind', sa.Enum('a', name='kind')))
    '''))
    assert source.enum_values([str(path)]) == {"kind": ["a"]}


def test_a_file_without_upgrade_gives_nothing(tmp_path):
    path = tmp_path / "0001.py"
    path.write_text("import sqlalchemy as sa\nrevision = '0001'\nKIND = sa.Enum('a', name='kind')\n")
    assert source.enum_values([str(path)]) == {}


def test_a_file_with_no_enum_is_skipped_unread(tmp_path):
    """Only files that mention an enum are parsed: this one is not even valid Python."""
    plain = tmp_path / "0002.py"
    plain.write_text("revision = '0002'\ndef upgrade(:\n    op.drop_column('rooms', 'kind')\n")
    paths = [migration(tmp_path, "0001", CREATE_ROOMS), str(plain)]
    assert source.enum_values(paths) == {"kind": ["a", "b"]}


def test_a_file_with_no_enum_changes_nothing(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", "op.add_column('rooms', sa.Column('number', sa.Integer()))",
                       down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b"]}


def test_a_drop_of_something_else_is_not_a_drop_of_a_type(tmp_path):
    paths = [migration(tmp_path, "0001", CREATE_ROOMS),
             migration(tmp_path, "0002", """
                 sa.Table('scratch', sa.MetaData()).drop(op.get_bind())
                 op.drop_table('old_rooms')
             """, down_revision="0001")]
    assert source.enum_values(paths) == {"kind": ["a", "b"]}


def test_a_plain_function_called_drop_is_not_a_drop_of_a_type(tmp_path):
    """A data migration's own helper ``drop(...)`` in a file that also uses an Enum."""
    paths = [migration(tmp_path, "0001", """
        def drop(name):
            op.drop_table(name)

        op.create_table('rooms', sa.Column('kind', sa.Enum('a', 'b', name='kind'), nullable=False))
        drop('old_rooms')
    """)]
    assert source.enum_values(paths) == {"kind": ["a", "b"]}



def test_the_existing_type_of_an_alter_column_is_what_the_type_was_not_what_it_is(tmp_path):
    """Whatever order the keywords come in, the type_ of an alter_column is the type's values now."""
    path = tmp_path / "0006_alter.py"
    path.write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade():\n"
        "    op.alter_column('rooms', 'kind', type_=sa.Enum('a', 'b', 'c', name='kind'),\n"
        "                    existing_type=sa.Enum('a', 'b', name='kind'))\n")

    assert source.enum_values([str(path)]) == {"kind": ["a", "b", "c"]}


def test_enum_columns_follow_create_table_add_column_and_alter_column_in_batches_or_not(tmp_path):
    """source.enum_columns: the enum type each column was last given, with its table."""
    paths = [
        migration(tmp_path, "0001", """
            op.create_table('suites', sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('kind', sa.Enum('single', 'double', name='suite_kind'), nullable=False))
            """),
        migration(tmp_path, "0002", """
            with op.batch_alter_table('rooms', schema=None) as batch_op:
                batch_op.add_column(sa.Column('view', postgresql.ENUM('sea', 'city', name='room_view'), nullable=True))
            op.add_column('hotels', sa.Column('stars', sa.Enum('one', 'two', name='hotel_stars')))
            """, down_revision="0001"),
        migration(tmp_path, "0003", """
            op.alter_column('suites', 'kind', type_=sa.Enum('single', 'double', 'family', name='suite_size'))
            with op.batch_alter_table('rooms') as batch_op:
                batch_op.alter_column('number', type_=sa.String(20))
            """, down_revision="0002"),
    ]

    assert source.enum_columns(paths) == {("suites", "kind"): "suite_size", ("rooms", "view"): "room_view",
                                          ("hotels", "stars"): "hotel_stars"}


def test_a_plan_says_both_names_of_a_column_rename_and_squash_writes_enum_types_again(tmp_path):
    """source.operations words a rename as makemigrations does; source.hand_written leaves out
    the enum type makemigrations creates (a squash writes it again)."""
    path = migration(tmp_path, "0005", """
        sa.Enum('single', 'double', name='room_kind').create(op.get_bind())
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.alter_column('full_name', new_column_name='display_name', existing_type=sa.String(200))
        """)

    assert [phrase for phrase, _ in source.operations(path)] == [
        "Create enum type room_kind", "Rename column full_name on users to display_name"]
    assert source.hand_written(path) == []
