"""manage_migrations.autodetector: Alembic's operations made into what the user meant.

Every test builds Alembic operation objects by hand (no database), passes a recording stub for
the Questioner, and checks the operations that come back or the Python Alembic renders for them."""
import datetime
import decimal
import math

import pytest
import sqlalchemy as sa
from alembic.autogenerate import render_python_code, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.migration import MigrationContext
from alembic.operations import ops
from alembic_postgresql_enum.add_postgres_using_to_text import PostgresUsingAlterColumnOp
from alembic_postgresql_enum.operations import CreateEnumOp, DropEnumOp, SyncEnumValuesOp

from manage_migrations import autodetector
from manage_migrations.autodetector import FillOp
from manage_migrations.output import CommandError
from manage_migrations.questioner import NOT_PROVIDED
from manage_migrations.source import NO_ENUM_TYPES, EnumTypes


class StubQuestioner:
    """Records every question and gives the canned answers it was made with."""

    def __init__(self, rename=False, rename_table=False, addition=None, alteration=None):
        self.answers = {"ask_rename": rename, "ask_rename_table": rename_table,
                        "ask_not_null_addition": addition, "ask_not_null_alteration": alteration}
        self.calls = []

    def _answer(self, name, args):
        self.calls.append((name, args))
        answer = self.answers[name]
        return answer(*args) if callable(answer) else answer

    def ask_rename(self, *args):
        return self._answer("ask_rename", args)

    def ask_rename_table(self, *args):
        return self._answer("ask_rename_table", args)

    def ask_not_null_addition(self, *args):
        return self._answer("ask_not_null_addition", args)

    def ask_not_null_alteration(self, *args):
        return self._answer("ask_not_null_alteration", args)


def render(operations) -> str:
    return render_python_code(ops.UpgradeOps(list(operations)), render_as_batch=True)


def in_order(text: str, *parts: str) -> bool:
    """Whether every part occurs in ``text``, each after the one before."""
    position = -1
    for part in parts:
        position = text.find(part, position + 1)
        if position < 0:
            return False
    return True


def add(table, column):
    return ops.AddColumnOp(table, column)


def modify(table, *steps, schema=None):
    return ops.ModifyTableOps(table, list(steps), schema=schema)


def users_table(metadata=None, *columns):
    return sa.Table("users", metadata or sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)


# fill_not_null: a NOT NULL column and the rows already in the table


def test_a_not_null_addition_becomes_add_nullable_then_fill_then_not_null():
    column = sa.Column("nickname", sa.String(50), nullable=False)
    users_table(None, column)
    questioner = StubQuestioner(addition="anon")

    result = autodetector.fill_not_null([modify("users", add("users", column))], questioner)

    assert questioner.calls == [("ask_not_null_addition", ("nickname", "users"))]
    assert [type(op) for op in result] == [ops.ModifyTableOps, FillOp, ops.ModifyTableOps]
    first, fill, last = result
    assert [type(step) for step in first.ops] == [ops.AddColumnOp]
    assert first.ops[0].column.name == "nickname" and first.ops[0].column.nullable is True
    assert (fill.table_name, fill.column_name, fill.value) == ("users", "nickname", "anon")
    assert [type(step) for step in last.ops] == [ops.AlterColumnOp]
    alter = last.ops[0]
    assert (alter.table_name, alter.column_name, alter.modify_nullable, alter.existing_nullable) == \
        ("users", "nickname", False, True)
    assert column.nullable is False  # the model's own Column is not changed


def test_the_fill_renders_as_add_update_alter_in_that_order():
    column = sa.Column("nickname", sa.String(50), nullable=False)
    users_table(None, column)
    result = autodetector.fill_not_null([modify("users", add("users", column))], StubQuestioner(addition="anon"))

    text = render(result)

    assert in_order(
        text,
        "batch_op.add_column(sa.Column('nickname', sa.String(length=50), nullable=True))",
        "op.execute(sa.table('users', sa.column('nickname', sa.String(length=50))).update()"
        ".where(sa.column('nickname', sa.String(length=50)).is_(None)).values({'nickname': 'anon'}))",
        "batch_op.alter_column('nickname'",
        "nullable=False)",
    )
    assert "nullable=False))" not in text  # the column is never added NOT NULL


def test_only_the_addition_is_described_not_its_fill_or_not_null():
    column = sa.Column("nickname", sa.String(50), nullable=False)
    users_table(None, column)
    result = autodetector.fill_not_null([modify("users", add("users", column))], StubQuestioner(addition="anon"))

    assert autodetector.describe(result) == [("Add column nickname to users", "users_nickname")]


def test_a_scalar_model_default_is_used_without_asking():
    column = sa.Column("greeting", sa.String(50), nullable=False, default="friend")
    users_table(None, column)
    questioner = StubQuestioner(addition="never asked")

    result = autodetector.fill_not_null([modify("users", add("users", column))], questioner)

    assert questioner.calls == []
    assert [type(op) for op in result] == [ops.ModifyTableOps, FillOp, ops.ModifyTableOps]
    assert result[1].value == "friend"


def test_a_falsy_scalar_default_is_still_a_value():
    column = sa.Column("score", sa.Integer, nullable=False, default=0)
    users_table(None, column)
    questioner = StubQuestioner(addition="never asked")

    result = autodetector.fill_not_null([modify("users", add("users", column))], questioner)

    assert questioner.calls == []
    assert isinstance(result[1], FillOp) and result[1].value == 0
    assert ".values({'score': 0})" in render(result)


def test_a_callable_default_is_not_a_value_for_existing_rows_so_it_asks():
    column = sa.Column("joined", sa.Date, nullable=False, default=datetime.date.today)
    users_table(None, column)
    questioner = StubQuestioner(addition=datetime.date(2026, 1, 1))

    result = autodetector.fill_not_null([modify("users", add("users", column))], questioner)

    assert questioner.calls == [("ask_not_null_addition", ("joined", "users"))]
    assert result[1].value == datetime.date(2026, 1, 1)


@pytest.mark.parametrize("column", [
    sa.Column("nickname", sa.String(50), nullable=False, server_default="anon"),
    sa.Column("nickname", sa.String(50), nullable=True),
], ids=["not-null-with-server-default", "nullable"])
def test_an_addition_that_needs_no_value_is_left_alone(column):
    users_table(None, column)
    step = add("users", column)
    questioner = StubQuestioner(addition="anon")

    result = autodetector.fill_not_null([modify("users", step)], questioner)

    assert questioner.calls == []
    assert len(result) == 1 and result[0].ops == [step]


def test_a_dry_run_answer_of_none_leaves_the_addition_alone():
    column = sa.Column("nickname", sa.String(50), nullable=False)
    users_table(None, column)
    step = add("users", column)
    questioner = StubQuestioner(addition=None)

    result = autodetector.fill_not_null([modify("users", step)], questioner)

    assert questioner.calls == [("ask_not_null_addition", ("nickname", "users"))]
    assert [type(op) for op in result] == [ops.ModifyTableOps]
    assert result[0].ops == [step] and step.column.nullable is False


def test_a_new_table_has_no_rows_so_nothing_is_asked():
    table = users_table(None, sa.Column("nickname", sa.String(50), nullable=False))
    create = ops.CreateTableOp.from_table(table)
    questioner = StubQuestioner(addition="anon")

    assert autodetector.fill_not_null([create], questioner) == [create]
    assert questioner.calls == []


def test_the_other_steps_of_the_table_keep_their_place_around_the_fill():
    phone = sa.Column("phone", sa.String(20), nullable=True)
    nickname = sa.Column("nickname", sa.String(50), nullable=False)
    users_table(None, phone, nickname)
    drop = ops.DropColumnOp("users", "legacy")

    result = autodetector.fill_not_null([modify("users", add("users", phone), add("users", nickname), drop)],
                                        StubQuestioner(addition="anon"))

    assert [type(op) for op in result] == [ops.ModifyTableOps, FillOp, ops.ModifyTableOps]
    assert [(type(s).__name__, getattr(s, "column_name", None) or s.column.name) for s in result[0].ops] == \
        [("AddColumnOp", "phone"), ("AddColumnOp", "nickname")]
    assert [(type(s).__name__, s.column_name) for s in result[2].ops] == \
        [("AlterColumnOp", "nickname"), ("DropColumnOp", "legacy")]
    assert result[2].ops[1] is drop
    assert autodetector.describe(result) == [
        ("Add column phone to users", "users_phone"),
        ("Add column nickname to users", "users_nickname"),
        ("Remove column legacy from users", "remove_users_legacy"),
    ]


def test_two_not_null_additions_each_get_their_own_fill():
    first = sa.Column("nickname", sa.String(50), nullable=False)
    second = sa.Column("rank", sa.Integer, nullable=False)
    users_table(None, first, second)
    answers = {"nickname": "anon", "rank": 7}
    questioner = StubQuestioner(addition=lambda column, table: answers[column])

    result = autodetector.fill_not_null([modify("users", add("users", first), add("users", second))], questioner)

    assert [type(op) for op in result] == [ops.ModifyTableOps, FillOp, ops.ModifyTableOps, FillOp,
                                           ops.ModifyTableOps]
    assert [(op.column_name, op.value) for op in result if isinstance(op, FillOp)] == [("nickname", "anon"), ("rank", 7)]
    assert in_order(render(result), "add_column(sa.Column('nickname'", "{'nickname': 'anon'}",
                    "alter_column('nickname'", "add_column(sa.Column('rank'", "{'rank': 7}", "alter_column('rank'")
    assert [fragment for _, fragment in autodetector.describe(result)] == ["users_nickname", "users_rank"]


def test_an_alteration_to_not_null_is_filled_before_it():
    before = ops.AddColumnOp("users", sa.Column("phone2", sa.String(20)))
    alter = ops.AlterColumnOp("users", "phone", modify_nullable=False, existing_nullable=True,
                              existing_type=sa.String(20))
    questioner = StubQuestioner(alteration="unknown")

    result = autodetector.fill_not_null([modify("users", before, alter)], questioner)

    assert questioner.calls == [("ask_not_null_alteration", ("phone", "users"))]
    assert [type(op) for op in result] == [ops.ModifyTableOps, FillOp, ops.ModifyTableOps]
    assert result[0].ops == [before] and result[2].ops == [alter]
    assert (result[1].column_name, result[1].value) == ("phone", "unknown")
    assert in_order(render(result), "add_column(sa.Column('phone2'", "{'phone': 'unknown'}", "alter_column('phone'")
    assert autodetector.describe(result) == [("Add column phone2 to users", "users_phone2"),
                                             ("Alter column phone on users", "alter_users_phone")]


def test_an_alteration_answered_not_provided_is_left_alone():
    alter = ops.AlterColumnOp("users", "phone", modify_nullable=False, existing_nullable=True,
                              existing_type=sa.String(20))
    questioner = StubQuestioner(alteration=NOT_PROVIDED)

    result = autodetector.fill_not_null([modify("users", alter)], questioner)

    assert questioner.calls == [("ask_not_null_alteration", ("phone", "users"))]
    assert [type(op) for op in result] == [ops.ModifyTableOps]
    assert result[0].ops == [alter]
    assert "op.execute" not in render(result)


@pytest.mark.parametrize("alter", [
    ops.AlterColumnOp("users", "phone", modify_nullable=False, existing_nullable=True,
                      existing_server_default="''"),
    ops.AlterColumnOp("users", "phone", modify_nullable=False, existing_nullable=True, modify_server_default="''"),
    ops.AlterColumnOp("users", "phone", modify_nullable=True, existing_nullable=False),
    ops.AlterColumnOp("users", "phone", modify_type=sa.Integer(), existing_nullable=True),
], ids=["existing-server-default", "new-server-default", "made-nullable", "type-only"])
def test_alterations_that_need_no_value_are_not_asked(alter):
    questioner = StubQuestioner(alteration="x")

    result = autodetector.fill_not_null([modify("users", alter)], questioner)

    assert questioner.calls == []
    assert len(result) == 1 and result[0].ops == [alter]


def test_a_fill_in_a_schema_names_the_schema():
    column = sa.Column("nickname", sa.String(50), nullable=False)
    sa.Table("users", sa.MetaData(), column, schema="hotel")
    result = autodetector.fill_not_null([modify("users", add("users", column), schema="hotel")],
                                        StubQuestioner(addition="anon"))

    assert [op.schema for op in result] == ["hotel", "hotel", "hotel"]
    assert "sa.table('users', sa.column('nickname', sa.String(length=50)), schema='hotel').update()" in render(result)


def test_the_not_null_step_after_a_fill_keeps_the_columns_comment():
    """On MariaDB ``alter_column`` is ``MODIFY col TYPE NOT NULL``, which drops a comment the
    step does not repeat; Alembic's own alter_column steps carry ``existing_comment``."""
    column = sa.Column("nickname", sa.String(50), nullable=False, comment="shown to other guests")
    users_table(None, column)
    result = autodetector.fill_not_null([modify("users", add("users", column))], StubQuestioner(addition="anon"))

    alter = result[2].ops[0]
    assert alter.existing_comment == "shown to other guests"


# FillOp and literal: the value written into the migration


@pytest.mark.parametrize("value, source", [
    ("anon", "'anon'"), ("it's", '"it\'s"'), (0, "0"), (-3, "-3"), (1.5, "1.5"), (True, "True"),
    (b"\x00a", "b'\\x00a'"),
])
def test_plain_values_need_no_import(value, source):
    imports = set()
    assert autodetector.literal(value, imports) == source
    assert imports == set()
    assert eval(source) == value


@pytest.mark.parametrize("value, import_line", [
    (datetime.date(2026, 1, 1), "import datetime"),
    (datetime.datetime(2026, 1, 1, 12, 30), "import datetime"),
    (datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc), "import datetime"),
    (datetime.time(9, 15), "import datetime"),
    (datetime.timedelta(days=2), "import datetime"),
    (decimal.Decimal("1.5"), "from decimal import Decimal"),
])
def test_dates_and_decimals_bring_their_import(value, import_line):
    imports = {"import sqlalchemy as sa"}
    source = autodetector.literal(value, imports)
    assert imports == {"import sqlalchemy as sa", import_line}
    namespace = {}
    exec(import_line, namespace)
    assert eval(source, namespace) == value


@pytest.mark.parametrize("value", [object(), None, ["a"], {"a": 1}, {1}, sa.func.now()],
                         ids=["object", "None", "list", "dict", "set", "sql-function"])
def test_a_value_that_cannot_be_written_is_refused(value):
    imports = set()
    with pytest.raises(CommandError) as raised:
        autodetector.literal(value, imports)
    assert "Cannot write the default" in raised.value.format_message()
    assert imports == set()


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
def test_a_float_is_refused_or_written_as_python_that_gives_it_back(value):
    """``repr(float('inf'))`` is ``inf``, a NameError in the migration file."""
    imports = set()
    try:
        source = autodetector.literal(value, imports)
    except CommandError:
        return
    namespace = {}
    for line in imports:
        exec(line, namespace)
    back = eval(source, namespace)
    assert back == value or (math.isnan(back) and math.isnan(value))


def test_the_fill_renderer_adds_the_values_import_to_the_migration():
    context = AutogenContext(MigrationContext.configure(dialect_name="sqlite"),
                             opts={"sqlalchemy_module_prefix": "sa.", "alembic_module_prefix": "op."})
    context.imports = set()
    fill = FillOp("rooms", "price", sa.Numeric(10, 2), decimal.Decimal("9.50"))

    text = renderers.dispatch(fill)(context, fill)

    assert text == ("op.execute(sa.table('rooms', sa.column('price', sa.Numeric(precision=10, scale=2))).update()"
                    ".where(sa.column('price', sa.Numeric(precision=10, scale=2)).is_(None))"
                    ".values({'price': Decimal('9.50')}))")
    assert context.imports == {"from decimal import Decimal"}


def test_the_fill_renderer_refuses_a_value_it_cannot_write():
    with pytest.raises(CommandError):
        render([FillOp("rooms", "tags", sa.JSON(), ["a", "b"])])


# portable and with_cast


def test_a_dropped_tables_indexes_are_not_dropped_first():
    drop_index = ops.DropIndexOp("ix_bookings_room_id", table_name="bookings")
    drop_table = ops.DropTableOp("bookings")

    result = autodetector.portable([modify("bookings", drop_index), drop_table])

    assert result == [drop_table]


def test_indexes_of_tables_that_stay_are_still_dropped():
    kept = ops.DropIndexOp("ix_rooms_number", table_name="rooms")
    dropped = ops.DropIndexOp("ix_bookings_room_id", table_name="bookings")
    constraint = ops.DropConstraintOp("fk_bookings_room_id_rooms", "bookings", type_="foreignkey")
    drop_table = ops.DropTableOp("bookings")

    result = autodetector.portable([modify("rooms", kept), modify("bookings", dropped, constraint), drop_table])

    assert [type(op) for op in result] == [ops.ModifyTableOps, ops.ModifyTableOps, ops.DropTableOp]
    assert result[0].table_name == "rooms" and result[0].ops == [kept]
    assert result[1].table_name == "bookings" and result[1].ops == [constraint]
    assert result[2] is drop_table


def test_without_a_dropped_table_every_drop_index_stays():
    drop_index = ops.DropIndexOp("ix_bookings_room_id", table_name="bookings")
    result = autodetector.portable([modify("bookings", drop_index)])
    assert len(result) == 1 and result[0].ops == [drop_index]
    assert "batch_op.drop_index('ix_bookings_room_id')" in render(result)


def test_a_type_change_carries_postgresqls_cast():
    step = ops.AlterColumnOp("rooms", "number", modify_type=sa.Integer(), existing_type=sa.String(10))

    text = render(autodetector.portable([modify("rooms", step)]))

    assert in_order(text, "batch_op.alter_column('number'", "existing_type=sa.String(length=10)",
                    "type_=sa.Integer()", "postgresql_using='\"number\"::INTEGER'")


@pytest.mark.parametrize("column, new_type, cast", [
    ("number", sa.Integer(), '"number"::INTEGER'),
    ("Label", sa.String(20), '"Label"::VARCHAR(20)'),
    ("price", sa.Numeric(10, 2), '"price"::NUMERIC(10, 2)'),
    ("kind", sa.Enum("a", "b", name="room_kind"), '"kind"::room_kind'),
])
def test_with_cast_casts_to_the_postgresql_type(column, new_type, cast):
    step = autodetector.with_cast(ops.AlterColumnOp("rooms", column, modify_type=new_type))
    assert isinstance(step, PostgresUsingAlterColumnOp)
    assert step.kw["postgresql_using"] == cast


def test_with_cast_leaves_a_step_without_a_type_change_alone():
    step = ops.AlterColumnOp("rooms", "number", modify_nullable=False, existing_type=sa.String(10))
    assert autodetector.with_cast(step) is step
    assert type(step) is ops.AlterColumnOp and "postgresql_using" not in step.kw
    assert "postgresql_using" not in render([modify("rooms", step)])


def test_with_cast_leaves_the_enum_librarys_own_cast_alone():
    step = PostgresUsingAlterColumnOp("rooms", "kind", modify_type=sa.Integer(), postgresql_using="custom")
    assert autodetector.with_cast(step) is step
    assert step.kw["postgresql_using"] == "custom"


def test_with_cast_twice_is_the_same_as_once():
    step = ops.AlterColumnOp("rooms", "number", modify_type=sa.Integer())
    autodetector.with_cast(autodetector.with_cast(step))
    assert render([modify("rooms", step)]).count("postgresql_using") == 1


# describe and phrase_and_fragment: Django's lines and names


def named_table(name, *columns):
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)


@pytest.mark.parametrize("op, phrase, fragment", [
    (ops.AddColumnOp("users", sa.Column("phone", sa.String(20))), "Add column phone to users", "users_phone"),
    (ops.DropColumnOp("users", "phone"), "Remove column phone from users", "remove_users_phone"),
    (ops.AlterColumnOp("rooms", "number", modify_type=sa.Integer()), "Alter column number on rooms",
     "alter_rooms_number"),
    (ops.AlterColumnOp("users", "full_name", modify_name="display_name"),
     "Rename column full_name on users to display_name", "rename_full_name_users_display_name"),
    (ops.DropTableOp("bookings"), "Drop table bookings", "delete_bookings"),
    (ops.CreateTableOp.from_table(named_table("bookings")), "Create table bookings", "bookings"),
    (ops.RenameTableOp("users", "accounts"), "Rename table users to accounts", "rename_users_accounts"),
    (ops.CreateIndexOp("ix_users_email", "users", ["email"]), "Create index ix_users_email on users",
     "users_ix_users_email"),
    (ops.DropIndexOp("ix_users_email", table_name="users"), "Drop index ix_users_email from users",
     "remove_users_ix_users_email"),
    (ops.CreateUniqueConstraintOp("uq_users_email", "users", ["email"]),
     "Create unique constraint uq_users_email on users", "users_uq_users_email"),
    (ops.CreateForeignKeyOp("fk_rooms_hotel_id_hotels", "rooms", "hotels", ["hotel_id"], ["id"]),
     "Create foreign key fk_rooms_hotel_id_hotels on rooms", "rooms_fk_rooms_hotel_id_hotels"),
    (ops.DropConstraintOp("uq_users_email", "users", type_="unique"), "Drop constraint uq_users_email from users",
     "remove_users_uq_users_email"),
    (CreateEnumOp(name="room_kind", schema="public", enum_values=("a",)), "Create enum type room_kind", "room_kind"),
    (DropEnumOp(name="room_kind", schema="public", enum_values=("a",)), "Drop enum type room_kind",
     "delete_room_kind"),
    (SyncEnumValuesOp("public", "room_kind", ["a"], ["a", "b"], []), "Alter enum type room_kind",
     "alter_room_kind"),
    (ops.ExecuteSQLOp("UPDATE users SET x = 1"), "ExecuteSQL", None),
])
def test_phrase_and_fragment_as_django_names_them(op, phrase, fragment):
    assert autodetector.phrase_and_fragment(op, set()) == (phrase, fragment)


def test_an_index_of_a_table_created_alongside_gives_an_empty_fragment():
    op = ops.CreateIndexOp("ix_bookings_room_id", "bookings", ["room_id"])
    assert autodetector.phrase_and_fragment(op, {"bookings"}) == ("Create index ix_bookings_room_id on bookings", "")
    assert autodetector.phrase_and_fragment(op, {"rooms"})[1] == "bookings_ix_bookings_room_id"


def test_describe_a_new_table_with_its_indexes():
    create = ops.CreateTableOp.from_table(named_table("bookings", sa.Column("room_id", sa.Integer)))
    index = ops.CreateIndexOp("ix_bookings_room_id", "bookings", ["room_id"])
    other = ops.CreateIndexOp("ix_rooms_number", "rooms", ["number"])

    described = autodetector.describe([create, modify("bookings", index), modify("rooms", other)])

    assert described == [("Create table bookings", "bookings"),
                         ("Create index ix_bookings_room_id on bookings", ""),
                         ("Create index ix_rooms_number on rooms", "rooms_ix_rooms_number")]


def test_describe_skips_steps_that_are_part_of_another():
    alter = ops.AlterColumnOp("users", "nickname", modify_nullable=False)
    alter.info["part_of"] = object()
    fill = FillOp("users", "nickname", sa.String(50), "anon")
    fill.info["part_of"] = alter
    drop = ops.DropColumnOp("users", "legacy")

    assert autodetector.describe([fill, modify("users", alter, drop)]) == \
        [("Remove column legacy from users", "remove_users_legacy")]


def test_a_fill_on_its_own_has_no_name():
    assert autodetector.describe([FillOp("users", "nickname", sa.String(50), "anon")]) == [("Fill", None)]


# ask_renames


CONTEXT = MigrationContext.configure(dialect_name="sqlite")  # how Alembic compares types


def column_change(table_name, added, dropped, schema=None):
    """A ModifyTableOps as Alembic's comparison gives it: the dropped column's reverse is known."""
    metadata = sa.MetaData()
    sa.Table(table_name, metadata, sa.Column("id", sa.Integer, primary_key=True), *added, schema=schema)
    old = sa.Table(table_name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *dropped, schema=schema)
    steps = [ops.AddColumnOp(table_name, column, schema=schema) for column in added]
    steps += [ops.DropColumnOp.from_column_and_tablename(schema, table_name, old.c[column.name]) for column in dropped]
    return ops.ModifyTableOps(table_name, steps, schema=schema)


def test_a_column_of_the_same_type_and_nullability_is_asked_about():
    change = column_change("users", [sa.Column("display_name", sa.String(200))], [sa.Column("full_name", sa.String(200))])
    questioner = StubQuestioner(rename=True)

    renames = autodetector.ask_renames([change], CONTEXT, questioner)

    assert questioner.calls == [("ask_rename", ("users", "full_name", "display_name", "VARCHAR(200)"))]
    assert len(renames) == 1 and isinstance(renames[0], ops.ModifyTableOps)
    assert renames[0].table_name == "users" and len(renames[0].ops) == 1
    step = renames[0].ops[0]
    assert type(step) is ops.AlterColumnOp
    assert (step.table_name, step.column_name, step.modify_name) == ("users", "full_name", "display_name")
    assert isinstance(step.existing_type, sa.String) and step.existing_type.length == 200
    assert step.existing_nullable is True
    assert step.existing_server_default is False


def test_a_rename_renders_as_alter_column_with_the_new_name():
    change = column_change("users", [sa.Column("display_name", sa.String(200), nullable=False, server_default="x")],
                           [sa.Column("full_name", sa.String(200), nullable=False, server_default="x")])
    renames = autodetector.ask_renames([change], CONTEXT, StubQuestioner(rename=True))

    text = render(renames)

    assert in_order(text, "with op.batch_alter_table('users', schema=None) as batch_op:",
                    "batch_op.alter_column('full_name'", "existing_type=sa.String(length=200)",
                    "new_column_name='display_name'", "existing_nullable=False", "existing_server_default='x')")
    assert autodetector.describe(renames) == [("Rename column full_name on users to display_name",
                                               "rename_full_name_users_display_name")]


def test_an_answer_of_no_is_no_rename():
    change = column_change("users", [sa.Column("display_name", sa.String(200))], [sa.Column("full_name", sa.String(200))])
    questioner = StubQuestioner(rename=False)
    assert autodetector.ask_renames([change], CONTEXT, questioner) == []
    assert len(questioner.calls) == 1


@pytest.mark.parametrize("added, dropped", [
    (sa.Column("display_name", sa.String(100)), sa.Column("full_name", sa.String(200))),
    (sa.Column("display_name", sa.Integer), sa.Column("full_name", sa.String(200))),
    (sa.Column("display_name", sa.String(200), nullable=False), sa.Column("full_name", sa.String(200))),
], ids=["length", "type", "nullability"])
def test_a_column_of_another_shape_is_not_asked_about(added, dropped):
    questioner = StubQuestioner(rename=True)
    assert autodetector.ask_renames([column_change("users", [added], [dropped])], CONTEXT, questioner) == []
    assert questioner.calls == []


def test_one_added_column_answers_for_one_dropped_column_only():
    change = column_change("users", [sa.Column("display_name", sa.String(200))],
                           [sa.Column("first_name", sa.String(200)), sa.Column("last_name", sa.String(200))])
    questioner = StubQuestioner(rename=True)

    renames = autodetector.ask_renames([change], CONTEXT, questioner)

    assert questioner.calls == [("ask_rename", ("users", "first_name", "display_name", "VARCHAR(200)"))]
    assert [(r.ops[0].column_name, r.ops[0].modify_name) for r in renames] == [("first_name", "display_name")]


def test_after_a_no_the_next_dropped_column_is_asked():
    change = column_change("users", [sa.Column("display_name", sa.String(200))],
                           [sa.Column("first_name", sa.String(200)), sa.Column("last_name", sa.String(200))])
    questioner = StubQuestioner(rename=lambda table, old, new, kind: old == "last_name")

    renames = autodetector.ask_renames([change], CONTEXT, questioner)

    assert [args[1] for _, args in questioner.calls] == ["first_name", "last_name"]
    assert [(r.ops[0].column_name, r.ops[0].modify_name) for r in renames] == [("last_name", "display_name")]


def test_a_rename_in_a_schema_keeps_the_schema():
    change = column_change("users", [sa.Column("display_name", sa.String(200))],
                           [sa.Column("full_name", sa.String(200))], schema="hotel")
    renames = autodetector.ask_renames([change], CONTEXT, StubQuestioner(rename=True))
    assert renames[0].schema == "hotel" and renames[0].ops[0].schema == "hotel"


def test_a_renamed_column_keeps_its_comment():
    """On MariaDB a rename is ``CHANGE old new TYPE NULL``, which drops a comment the step does
    not repeat as ``existing_comment``."""
    change = column_change("users", [sa.Column("display_name", sa.String(200), comment="as shown")],
                           [sa.Column("full_name", sa.String(200), comment="as shown")])
    renames = autodetector.ask_renames([change], CONTEXT, StubQuestioner(rename=True))
    assert renames[0].ops[0].existing_comment == "as shown"


def table_ops(old_name, new_name, old_columns, new_columns):
    old = sa.Table(old_name, sa.MetaData(), *old_columns)
    new = sa.Table(new_name, sa.MetaData(), *new_columns)
    return ops.DropTableOp.from_table(old), ops.CreateTableOp.from_table(new)


def test_a_table_with_the_same_columns_is_asked_about():
    dropped, created = table_ops("users", "accounts",
                                 [sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(200))],
                                 [sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(200))])
    questioner = StubQuestioner(rename_table=True)

    renames = autodetector.ask_renames([created, dropped], CONTEXT, questioner)

    assert questioner.calls == [("ask_rename_table", ("users", "accounts"))]
    assert len(renames) == 1 and type(renames[0]) is ops.RenameTableOp
    assert (renames[0].table_name, renames[0].new_table_name) == ("users", "accounts")
    assert "op.rename_table('users', 'accounts')" in render(renames)
    assert autodetector.describe(renames) == [("Rename table users to accounts", "rename_users_accounts")]


def test_a_rename_in_a_schema_renders_the_schema():
    assert "op.rename_table('users', 'accounts', schema='hotel')" in \
        render([ops.RenameTableOp("users", "accounts", schema="hotel")])


@pytest.mark.parametrize("new_columns", [
    [sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(100))],
    [sa.Column("id", sa.Integer, primary_key=True), sa.Column("mail", sa.String(200))],
    [sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(200)), sa.Column("x", sa.Integer)],
], ids=["type", "name", "extra-column"])
def test_a_table_with_other_columns_is_not_asked_about(new_columns):
    dropped, created = table_ops("users", "accounts",
                                 [sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(200))],
                                 new_columns)
    questioner = StubQuestioner(rename_table=True)
    assert autodetector.ask_renames([created, dropped], CONTEXT, questioner) == []
    assert questioner.calls == []


def test_a_table_answered_no_is_no_rename():
    dropped, created = table_ops("users", "accounts", [sa.Column("id", sa.Integer, primary_key=True)],
                                 [sa.Column("id", sa.Integer, primary_key=True)])
    questioner = StubQuestioner(rename_table=False)
    assert autodetector.ask_renames([created, dropped], CONTEXT, questioner) == []
    assert questioner.calls == [("ask_rename_table", ("users", "accounts"))]


# sync_enums: enum types off PostgreSQL, from the values the migration files give them


def rooms_metadata(*values, created=True, native_enum=True, comment=None):
    metadata = sa.MetaData()
    sa.Table("rooms", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", sa.Enum(*values, name="room_kind", native_enum=native_enum), nullable=False,
                       comment=comment))
    return metadata


def test_changed_values_give_sync_enum_values_and_the_columns_new_type():
    metadata = rooms_metadata("single", "double", "suite")

    upgrade, downgrade = autodetector.sync_enums([], [], metadata, lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))

    assert [type(op) for op in upgrade] == [SyncEnumValuesOp, ops.ModifyTableOps]
    sync = upgrade[0]
    assert (sync.schema, sync.name) == ("public", "room_kind")
    assert list(sync.old_values) == ["single", "double"] and list(sync.new_values) == ["single", "double", "suite"]
    assert [(c.table_name, c.column_name) for c in sync.affected_columns] == [("rooms", "kind")]
    alter = upgrade[1].ops[0]
    assert upgrade[1].table_name == "rooms" and type(alter) is ops.AlterColumnOp
    assert alter.column_name == "kind"
    assert list(alter.existing_type.enums) == ["single", "double"]
    assert list(alter.modify_type.enums) == ["single", "double", "suite"]
    assert alter.existing_nullable is False

    assert [type(op) for op in downgrade] == [ops.ModifyTableOps, SyncEnumValuesOp]
    assert list(downgrade[0].ops[0].modify_type.enums) == ["single", "double"]
    assert list(downgrade[1].new_values) == ["single", "double"]

    text = render(upgrade)
    assert in_order(text, "op.sync_enum_values(", "enum_name='room_kind'", "new_values=['single', 'double', 'suite']",
                    "batch_op.alter_column('kind'", "type_=sa.Enum('single', 'double', 'suite', name='room_kind')")
    assert autodetector.describe(upgrade) == [("Alter enum type room_kind", "alter_room_kind")]


def test_alembics_own_alteration_of_a_changed_column_is_not_written_twice():
    """MariaDB reflects the ENUM, so Alembic has already compared the column's type."""
    metadata = rooms_metadata("single", "double", "suite")
    alembics = ops.AlterColumnOp("rooms", "kind", modify_type=sa.Enum("single", "double", "suite"),
                                 existing_type=sa.Enum("single", "double"))
    other = ops.AlterColumnOp("rooms", "number", modify_nullable=False, existing_nullable=True)

    upgrade, _ = autodetector.sync_enums([modify("rooms", alembics), modify("rooms", other)], [], metadata,
                                         lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))

    alters = [step for op in upgrade if isinstance(op, ops.ModifyTableOps) for step in op.ops]
    assert alembics not in alters and other in alters
    assert [step.column_name for step in alters] == ["number", "kind"]


def test_a_type_no_migration_made_is_created_first():
    metadata = rooms_metadata("single", "double")
    create_table = ops.CreateTableOp.from_table(metadata.tables["rooms"])

    drop_table = ops.DropTableOp.from_table(metadata.tables["rooms"])

    upgrade, downgrade = autodetector.sync_enums([create_table], [drop_table], metadata, lambda: NO_ENUM_TYPES)

    assert [type(op) for op in upgrade] == [CreateEnumOp, ops.CreateTableOp]
    assert (upgrade[0].name, tuple(upgrade[0].enum_values)) == ("room_kind", ("single", "double"))
    assert [type(op) for op in downgrade] == [ops.DropTableOp, DropEnumOp]
    assert downgrade[1].name == "room_kind"
    text = render(upgrade)
    assert in_order(text, "sa.Enum('single', 'double', name='room_kind', schema='public').create(op.get_bind())", "op.create_table('rooms'")
    assert "create_type=False" in text  # the table does not create the type a second time
    assert autodetector.describe(upgrade)[0] == ("Create enum type room_kind", "room_kind")


def test_a_type_no_column_uses_is_dropped_last():
    metadata = rooms_metadata("single", "double")
    drop_table = ops.DropTableOp.from_table(sa.Table("bookings", sa.MetaData(), sa.Column("id", sa.Integer)))

    upgrade, downgrade = autodetector.sync_enums(
        [drop_table], [], metadata,
        lambda: EnumTypes({"room_kind": ["single", "double"], "booking_state": ["new", "paid"]}, {}))

    assert [type(op) for op in upgrade] == [ops.DropTableOp, DropEnumOp]
    assert (upgrade[1].name, tuple(upgrade[1].enum_values)) == ("booking_state", ("new", "paid"))
    assert [type(op) for op in downgrade] == [CreateEnumOp]
    assert downgrade[0].name == "booking_state"
    assert "sa.Enum('new', 'paid', name='booking_state', schema='public').drop(op.get_bind())" in render(upgrade)
    assert autodetector.describe(upgrade)[1] == ("Drop enum type booking_state", "delete_booking_state")


def test_values_that_agree_change_nothing():
    metadata = rooms_metadata("single", "double")
    step = modify("rooms", ops.AlterColumnOp("rooms", "number", modify_nullable=False))

    upgrade, downgrade = autodetector.sync_enums([step], [], metadata, lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))

    assert len(upgrade) == 1 and upgrade[0].ops == step.ops
    assert downgrade == []


def test_a_new_order_of_the_same_values_is_a_change():
    metadata = rooms_metadata("double", "single")
    upgrade, _ = autodetector.sync_enums([], [], metadata, lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))
    assert [type(op) for op in upgrade] == [SyncEnumValuesOp, ops.ModifyTableOps]


def test_a_table_created_in_this_migration_is_not_synced():
    metadata = rooms_metadata("single", "double", "suite")
    create_table = ops.CreateTableOp.from_table(metadata.tables["rooms"])

    upgrade, _ = autodetector.sync_enums([create_table], [], metadata, lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))

    assert [type(op) for op in upgrade] == [ops.CreateTableOp]


def test_an_enum_that_is_not_a_database_type_is_ignored():
    metadata = rooms_metadata("single", "double", native_enum=False)
    upgrade, downgrade = autodetector.sync_enums([], [], metadata, lambda: NO_ENUM_TYPES)
    assert upgrade == [] and downgrade == []


def test_the_new_enum_type_of_a_column_keeps_its_comment():
    """On MariaDB the new type is ``MODIFY kind ENUM(...) NOT NULL``, which drops a comment the
    step does not repeat as ``existing_comment``."""
    metadata = rooms_metadata("single", "double", "suite", comment="room category")
    upgrade, _ = autodetector.sync_enums([], [], metadata, lambda: EnumTypes({"room_kind": ["single", "double"]}, {}))
    assert upgrade[1].ops[0].existing_comment == "room category"
