"""What ``makemigrations`` writes: Alembic's comparison, made into what the user meant.

Alembic's autogenerate compares the models with a database and lists operations; on its own it
writes a rename as a drop and an add, a NOT NULL column with nothing for the existing rows,
and SQL that one backend or another refuses. As Django's autodetector, this module asks the
``Questioner`` what it cannot know (renames, one-off defaults) and writes operations that run
on SQLite, PostgreSQL and MariaDB:

- a column or table the user says was renamed becomes ``alter_column(new_column_name=...)``
  or ``rename_table``, which keep the data;
- a NOT NULL column added to a table with rows is added nullable, filled, then made NOT NULL;
- a type change carries PostgreSQL's ``USING`` cast; a dropped table is dropped without first
  dropping the indexes its foreign keys need, and foreign keys go first (MariaDB refuses else);
- enum types are created, changed and dropped with alembic-postgresql-enum's operations on every
  backend (on PostgreSQL its own comparison finds them, imported by ``migrations/env.py``).
"""
import datetime
import decimal
import itertools
import math
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render, renderers
from alembic.operations import Operations, ops
from alembic_postgresql_enum import TableReference
from alembic_postgresql_enum.add_create_type_false import add_create_type_false
from alembic_postgresql_enum.add_postgres_using_to_text import PostgresUsingAlterColumnOp
from alembic_postgresql_enum.operations import CreateEnumOp, DropEnumOp, SyncEnumValuesOp
from sqlalchemy.dialects import postgresql

from manage_migrations.output import CommandError
from manage_migrations.portable import portable_type
from manage_migrations.questioner import NOT_PROVIDED, Questioner


@dataclass
class Changes:
    """A migration to write: its operations both ways, in the order they run."""
    upgrade: list
    downgrade: list

    @property
    def phrases(self) -> list[str]:
        """What it does, as makemigrations prints it: ``Add column phone to users``."""
        return [phrase for phrase, _ in describe(self.upgrade)]

    @property
    def fragments(self) -> list[str | None]:
        """Django's fragments of its name: ``users_phone``."""
        return [fragment for _, fragment in describe(self.upgrade)]

    def script(self) -> ops.MigrationScript:
        """The operations as Alembic renders them, concurrent index steps in blocks of their own."""
        return ops.MigrationScript(None, ops.UpgradeOps(concurrently_apart(self.upgrade)),
                                   ops.DowngradeOps(concurrently_apart(self.downgrade)))

    def by_app(self, app_of_table: dict[str, str], app_of_enum: dict[str, str], default: str) -> dict[str, "Changes"]:
        """The changes of each app (Django's autodetector groups its operations by app): an
        operation on a table is its app's, one on an enum type the app of the first table that
        uses it; the rest, and tables no app has, are the ``default`` app's."""
        def app_of(operation) -> str:
            names = [getattr(operation, name, None) for name in ("new_table_name", "table_name", "source_table")]
            known = [app_of_table[name] for name in names if name in app_of_table]
            return known[0] if known else app_of_enum.get(getattr(operation, "name", None), default)

        apps = {}
        for operation in self.upgrade:
            apps.setdefault(app_of(operation), Changes([], [])).upgrade.append(operation)
        for operation in self.downgrade:
            apps.setdefault(app_of(operation), Changes([], [])).downgrade.append(operation)
        return {app: changes for app, changes in apps.items() if changes.upgrade}

    def references(self) -> set[str]:
        """The tables its new foreign keys refer to, which must exist before it runs."""
        found = set()
        for operation in self.upgrade:
            for step in operation.ops if isinstance(operation, ops.ModifyTableOps) else [operation]:
                if isinstance(step, ops.CreateForeignKeyOp):
                    found.add(step.referent_table)
                columns = step.columns if isinstance(step, ops.CreateTableOp) else \
                    [step.column] if isinstance(step, ops.AddColumnOp) else []
                keys = [key for item in columns for key in (item.foreign_keys if isinstance(item, sa.Column) else
                                                             item.elements if isinstance(item, sa.ForeignKeyConstraint)
                                                             else ())]
                found |= {key.target_fullname.split(".")[-2] for key in keys}
        return found


def detect(context, metadata, questioner: Questioner, enums, scratch: bool = True) -> Changes | None:
    """Compare ``metadata`` with the database of ``context`` (a MigrationContext) and return
    the migration that takes one to the other, or None when they agree. ``enums()`` reads the
    values the migration files give each enum type (``index.enum_values``), when there are any.

    On a ``scratch`` database, a rename the user confirms is applied for a second comparison,
    which then sees only what else changed (an index or constraint named after the old name),
    and is undone afterwards. On the user's own database (no scratch database could be made),
    nothing is changed: the drop and the add the rename replaces are only left out."""
    script = produce_migrations(context, metadata)
    upgrade, downgrade = script.upgrade_ops.ops, script.downgrade_ops.ops
    renames = ask_renames(upgrade, context, questioner)
    if renames and scratch:
        operations = Operations(context)
        for rename in renames:
            apply(operations, rename)
        try:
            script = produce_migrations(context, metadata)
        finally:
            for rename in reversed(renames):
                apply(operations, reverse(rename))
        upgrade, downgrade = script.upgrade_ops.ops, script.downgrade_ops.ops
    elif renames:
        upgrade, downgrade = without_renamed(upgrade, renames), without_renamed(downgrade, renames)
    upgrade = renames + upgrade
    downgrade = downgrade + [reverse(rename) for rename in reversed(renames)]
    if context.dialect.name != "postgresql":
        upgrade, downgrade = sync_enums(upgrade, downgrade, metadata, enums)
    upgrade, downgrade = supported(upgrade, context.dialect), supported(downgrade, context.dialect)
    generic_types(downgrade, context.dialect)
    if not upgrade:
        return None
    return Changes(replacements_first(portable(fill_not_null(upgrade, questioner))),
                   replacements_first(portable(downgrade)))


# Renames


def ask_renames(operations: list, context, questioner: Questioner) -> list:
    """Django's rule: a table (or column) that disappears while one of the same shape appears
    may have been renamed; ask, and keep the answer as a rename operation. Shapes are compared
    as Alembic compares types (MariaDB's reflected INTEGER(11) is the models' Integer)."""
    renames = []
    created = [op for op in operations if isinstance(op, ops.CreateTableOp)]
    for dropped in [op for op in operations if isinstance(op, ops.DropTableOp)]:
        old = {column.name: column for column in dropped.to_table().columns}
        for new in created:
            columns = {column.name: column for column in new.to_table().columns}
            if columns.keys() == old.keys() and all(same_shape(context, old[name], columns[name]) for name in old) \
                    and questioner.ask_rename_table(dropped.table_name, new.table_name):
                renames.append(ops.RenameTableOp(dropped.table_name, new.table_name, schema=dropped.schema))
                created.remove(new)
                break
    for modified in [op for op in operations if isinstance(op, ops.ModifyTableOps)]:
        added = [op.column for op in modified.ops if isinstance(op, ops.AddColumnOp)]
        for dropped in [op.to_column() for op in modified.ops if isinstance(op, ops.DropColumnOp)]:
            for column in added:
                if same_shape(context, dropped, column) and questioner.ask_rename(
                        modified.table_name, dropped.name, column.name, column.type.compile(dialect=context.dialect)):
                    renames.append(ops.ModifyTableOps(modified.table_name, [ops.AlterColumnOp(
                        modified.table_name, dropped.name, schema=modified.schema, modify_name=column.name,
                        existing_type=dropped.type, existing_nullable=dropped.nullable,
                        existing_server_default=dropped.server_default or False, existing_comment=dropped.comment)],
                        schema=modified.schema))
                    added.remove(column)
                    break
    return renames


def same_shape(context, reflected, column) -> bool:
    """Whether a column of the database and one of the models have one type and nullability."""
    return reflected.nullable == column.nullable and not context.impl.compare_type(reflected, column)


def without_renamed(operations: list, renames: list) -> list:
    """The operations less the drops and adds that ``renames`` replace, both ways round."""
    tables = {name for op in renames if isinstance(op, ops.RenameTableOp) for name in (op.table_name, op.new_table_name)}
    columns = {(op.table_name, name) for rename in renames if isinstance(rename, ops.ModifyTableOps)
               for op in rename.ops for name in (op.column_name, op.modify_name)}

    def replaced(step) -> bool:
        return (isinstance(step, ops.AddColumnOp) and (step.table_name, step.column.name) in columns
                or isinstance(step, ops.DropColumnOp) and (step.table_name, step.column_name) in columns)

    kept = [without_steps(op, replaced) for op in operations
            if not (isinstance(op, (ops.CreateTableOp, ops.DropTableOp)) and op.table_name in tables)]
    return [op for op in kept if op is not None]


@renderers.dispatch_for(ops.RenameTableOp)
def render_rename_table(autogen_context, op: ops.RenameTableOp) -> str:
    """Alembic has the operation but no renderer for it, as its autogenerate never makes one."""
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"{render._alembic_autogenerate_prefix(autogen_context)}rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"


def reverse(rename):
    """The rename back: a ``RenameTableOp``, or a ``ModifyTableOps`` of one column's rename."""
    if isinstance(rename, ops.RenameTableOp):
        return ops.RenameTableOp(rename.new_table_name, rename.table_name, schema=rename.schema)
    step = rename.ops[0]
    return ops.ModifyTableOps(rename.table_name, [ops.AlterColumnOp(
        step.table_name, step.modify_name, schema=step.schema, modify_name=step.column_name,
        existing_type=step.existing_type, existing_nullable=step.existing_nullable,
        existing_server_default=step.existing_server_default, existing_comment=step.existing_comment)],
        schema=rename.schema)


def apply(operations: Operations, rename) -> None:
    """Carry out a rename on the database being compared (a column in batch mode, for SQLite)."""
    if isinstance(rename, ops.RenameTableOp):
        operations.invoke(rename)
        return
    step = rename.ops[0]
    with operations.batch_alter_table(rename.table_name, schema=rename.schema) as batch:
        batch.alter_column(step.column_name, new_column_name=step.modify_name, existing_type=step.existing_type,
                           existing_nullable=step.existing_nullable,
                           existing_server_default=step.existing_server_default,
                           existing_comment=step.existing_comment)


# Enum types off PostgreSQL


def sync_enums(upgrade: list, downgrade: list, metadata, read_enums) -> tuple[list, list]:
    """Off PostgreSQL, where alembic-postgresql-enum does not look, do what it does on
    PostgreSQL, from the types the migration files made (SQLite and MariaDB keep none): create a
    new type before a column uses it, drop one no column uses any more, change the values of one
    whose values differ. The operations run anywhere: the library's do nothing off PostgreSQL,
    and a changed column's new type is written for SQLite and MariaDB too."""
    known = read_enums()
    defined = known.values
    columns = [column for table in metadata.tables.values() for column in table.columns
               if isinstance(column.type, sa.Enum) and column.type.name and column.type.native_enum]
    declared = {column.type.name: list(column.type.enums) for column in columns}
    created = {op.table_name for op in upgrade if isinstance(op, ops.CreateTableOp)}
    changed = [column for column in columns if column.table.name not in created
               and column.type.name in defined and declared[column.type.name] != defined[column.type.name]]
    forward = [CreateEnumOp(name=name, schema="public", enum_values=tuple(values))
               for name, values in declared.items() if name not in defined]
    later = [DropEnumOp(name=name, schema="public", enum_values=tuple(values))
             for name, values in defined.items() if name not in declared]
    # MariaDB reflects the ENUM, so Alembic has seen the changed columns' new type already: once is enough.
    seen = {(column.table.name, column.name) for column in changed}

    def without_alembics(operation):
        return without_steps(operation, lambda step: isinstance(step, ops.AlterColumnOp)
                             and (operation.table_name, step.column_name) in seen)

    upgrade, downgrade = [without_alembics(op) for op in upgrade], [without_alembics(op) for op in downgrade]
    for operation in downgrade:  # a dropped table made again: its enum columns as the migrations made them
        if isinstance(operation, ops.CreateTableOp):
            for column in operation.columns:
                name = known.columns.get((operation.table_name, getattr(column, "name", None)))
                if name in defined:
                    column.type = sa.Enum(*defined[name], name=name)
    for name in sorted({column.type.name for column in changed}):
        columns = [column for column in changed if column.type.name == name]
        old = defined[name]
        references = [TableReference(table_schema="public", table_name=column.table.name, column_name=column.name,
                                     existing_server_default=postgres_default(column)) for column in columns]
        sync = SyncEnumValuesOp("public", name, old, declared[name], references)
        later.append(sync)
        for column in columns:
            alter = dict(existing_nullable=column.nullable, existing_server_default=column.server_default or False,
                         existing_comment=column.comment)
            later.append(ops.ModifyTableOps(column.table.name, [ops.AlterColumnOp(
                column.table.name, column.name, existing_type=sa.Enum(*old, name=name), modify_type=column.type, **alter)]))
            later[-1].ops[0].info["part_of"] = sync
    upgrade = forward + [op for op in upgrade if op is not None] + later
    downgrade = [op.reverse() for op in reversed(later)] + [op for op in downgrade if op is not None] + \
        [op.reverse() for op in reversed(forward)]
    for operations in (upgrade, downgrade):  # as the library does: the type is created on its own
        add_create_type_false(ops.UpgradeOps(operations))
    return upgrade, downgrade


def without_steps(operation, unwanted):
    """``operation`` less the steps of a ModifyTableOps that are ``unwanted``; None if none are left."""
    if not isinstance(operation, ops.ModifyTableOps):
        return operation
    steps = [step for step in operation.ops if not unwanted(step)]
    return ops.ModifyTableOps(operation.table_name, steps, schema=operation.schema) if steps else None


def postgres_default(column) -> str | None:
    """A column's server default as PostgreSQL reports it for an enum (``'single'::room_kind``),
    which ``sync_enum_values`` drops and sets again around its change of type."""
    default = column.server_default
    if default is None:
        return None
    text = default.arg if isinstance(default.arg, str) else str(default.arg)
    return f"{text if text.startswith(chr(39)) else repr(text)}::{column.type.name}"


# Tables made again


def generic_types(operations: list, dialect) -> None:
    """A dropped table made again (undoing the drop) with the generic types of the models
    (``sa.String(6)``), not those this database reads back (``sa.VARCHAR(length=6)``), so that
    the migration runs on every backend; enum columns keep theirs (see ``sync_enums``)."""
    for operation in operations:
        if isinstance(operation, ops.CreateTableOp):
            for column in operation.columns:
                if isinstance(column, sa.Column) and not isinstance(column.type, sa.Enum):
                    column.type = portable_type(column.type, dialect)


# What the database cannot hold


def supported(operations: list, dialect) -> list:
    """The operations less the changes the database cannot hold, which Alembic would see as
    different on every comparison: an ``Identity`` where there are no identity columns (SQLite
    and MariaDB number with autoincrement), a foreign key's ``DEFERRABLE`` where nothing is
    deferred (MariaDB)."""

    def unsupported(step) -> bool:
        if isinstance(step, ops.AlterColumnOp) and not dialect.supports_identity_columns \
                and isinstance(step.modify_server_default, sa.Identity):
            return all(getattr(step, f"modify_{what}") in (None, False) for what in ("type", "nullable", "name", "comment"))
        return False

    kept = [without_steps(operation, unsupported) for operation in operations]
    if dialect.name in ("mysql", "mariadb"):
        kept = without_deferrable_changes(kept)
    return [operation for operation in kept if operation is not None]


def without_deferrable_changes(operations: list) -> list:
    """A foreign key dropped and made again that differs in nothing MariaDB keeps (only in
    ``deferrable``/``initially``): neither step."""

    def key(step):
        """What MariaDB keeps of the foreign key a step makes or drops (None: not one)."""
        fk = step.to_constraint()
        if not isinstance(fk, sa.ForeignKeyConstraint) or not fk.elements:
            return None
        return (fk.name, tuple(fk.column_keys), tuple(e.target_fullname for e in fk.elements),
                (fk.ondelete or "RESTRICT").upper(), (fk.onupdate or "RESTRICT").upper())

    def fk_steps(steps):
        return [(step, key(step)) for step in steps if isinstance(step, ops.CreateForeignKeyOp) or
                isinstance(step, ops.DropConstraintOp) and step.constraint_type == "foreignkey"]

    result = []
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            found = fk_steps(operation.ops)
            made = {k for step, k in found if isinstance(step, ops.CreateForeignKeyOp)}
            dropped = {k for step, k in found if isinstance(step, ops.DropConstraintOp)}
            same = {id(step) for step, k in found if k is not None and k in made & dropped}
            operation = without_steps(operation, lambda step: id(step) in same)
        result.append(operation)
    return result


# Indexes replaced


def replacements_first(operations: list) -> list:
    """Each index dropped where another of a new name covers the same columns (a renamed table's,
    a renamed convention's) is dropped only once that one is made: MariaDB refuses to drop the
    index a foreign key needs while no other covers its columns."""
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            steps = operation.ops
            for drop in [step for step in steps if isinstance(step, ops.DropIndexOp)]:
                columns = index_columns(drop)
                later = [step for step in steps[steps.index(drop) + 1:] if isinstance(step, ops.CreateIndexOp)
                         and step.index_name != drop.index_name and index_columns(step) == columns]
                if columns and later:
                    steps.remove(drop)
                    steps.insert(steps.index(later[0]) + 1, drop)
    return operations


def index_columns(step) -> tuple[str, ...] | None:
    """The columns an index operation is on (None for an expression index, or one not known)."""
    try:
        index = step.to_index()
    except (AttributeError, ValueError):
        return None
    names = tuple(getattr(expression, "name", None) for expression in index.expressions)
    return None if None in names else names


# Indexes made concurrently (Django's AddIndexConcurrently)


class AutocommitBlockOp(ops.OpContainer):
    """Operations that run outside the migration's transaction, in Alembic's
    ``autocommit_block()``: PostgreSQL's ``CREATE INDEX CONCURRENTLY`` cannot run inside one.
    A migration with one is not atomic, and ``migrate`` records it as such (``source.non_atomic``)."""


@renderers.dispatch_for(AutocommitBlockOp)
def render_autocommit_block(autogen_context, op: AutocommitBlockOp) -> list[str]:
    lines = [f"with {render._alembic_autogenerate_prefix(autogen_context)}get_context().autocommit_block():"]
    for step in op.ops:
        lines += render.render_op(autogen_context, step)
    return [*lines, ""]  # a blank line ends a block (each of a batch inside it too)


def concurrent(step) -> bool:
    """An index the models ask to build or drop without locking out writes:
    ``Index(..., postgresql_concurrently=True)``."""
    return isinstance(step, (ops.CreateIndexOp, ops.DropIndexOp)) and bool(step.kw.get("postgresql_concurrently"))


def concurrently_apart(operations: list) -> list:
    """The operations, with each run of concurrent index steps moved into an autocommit block
    of its own, in order: a table's other changes stay in the migration's transaction."""
    result = []
    for operation in operations:
        steps = operation.ops if isinstance(operation, ops.ModifyTableOps) else [operation]
        if not any(map(concurrent, steps)):
            result.append(operation)
            continue
        for apart, run in itertools.groupby(steps, key=concurrent):
            run = list(run)
            if isinstance(operation, ops.ModifyTableOps):
                run = [ops.ModifyTableOps(operation.table_name, run, schema=operation.schema)]
            result += [AutocommitBlockOp(run)] if apart else run
    return result


# NOT NULL columns and existing rows


class FillOp(ops.MigrateOperation):
    """Set ``column`` to ``value`` in every row where it is NULL: the one-off default Django
    asks for, written as an UPDATE so that it runs on every backend."""

    def __init__(self, table_name: str, column_name: str, type_, value, schema: str | None = None):
        self.table_name, self.column_name, self.type, self.value, self.schema = table_name, column_name, type_, value, schema


@renderers.dispatch_for(FillOp)
def render_fill(autogen_context, op: FillOp) -> str:
    """The column with its type, so that offline mode (sqlmigrate) can write the value as SQL."""
    sa_, op_ = render._sqlalchemy_autogenerate_prefix(autogen_context), render._alembic_autogenerate_prefix(autogen_context)
    schema = f", schema={op.schema!r}" if op.schema else ""
    column = f"{sa_}column({op.column_name!r}, {render._repr_type(op.type, autogen_context)})"
    return (f"{op_}execute({sa_}table({op.table_name!r}, {column}{schema}).update()"
            f".where({column}.is_(None)).values({{{op.column_name!r}: {literal(op.value, autogen_context.imports)}}}))")


def literal(value, imports: set) -> str:
    """``value`` as Python source for the migration file, with the import it needs."""
    if type(value) in (datetime.date, datetime.datetime, datetime.time, datetime.timedelta):
        imports.add("import datetime")
    elif type(value) is decimal.Decimal:
        imports.add("from decimal import Decimal")
    elif type(value) not in (str, bytes, int, float, bool) or type(value) is float and not math.isfinite(value):
        raise CommandError(f"Cannot write the default {value!r} into a migration: "
                           "give a string, finite number, boolean, Decimal or datetime value.")
    return repr(value)


def fill_not_null(operations: list, questioner: Questioner) -> list:
    """A NOT NULL column added to an existing table, or a nullable one made NOT NULL, with no
    server default: the existing rows need a value. For an added column, its own scalar
    ``default=`` is used where the model has one (as Django uses a field's default); otherwise
    the questioner asks for a one-off value. Adding becomes: add as nullable, fill, make NOT NULL."""
    result = []
    for operation in operations:
        if not isinstance(operation, ops.ModifyTableOps):
            result.append(operation)
            continue
        group = []
        for step in operation.ops:
            value, added = None, None
            if isinstance(step, ops.AddColumnOp) and needs_fill(step.column):
                default = step.column.default
                value = default.arg if default is not None and default.is_scalar else \
                    questioner.ask_not_null_addition(step.column.name, operation.table_name)
                if value is not None:
                    added = step.column._copy()
                    added.nullable = True
                    group.append(ops.AddColumnOp(operation.table_name, added, schema=operation.schema))
            elif isinstance(step, ops.AlterColumnOp) and step.modify_nullable is False and step.existing_nullable \
                    and not step.existing_server_default and not step.modify_server_default:
                value = questioner.ask_not_null_alteration(step.column_name, operation.table_name)
                if value is NOT_PROVIDED:
                    value = None
            if value is None:
                group.append(step)
                continue
            fill = FillOp(operation.table_name, added.name if added is not None else step.column_name,
                          added.type if added is not None else step.existing_type, value, schema=operation.schema)
            result += [ops.ModifyTableOps(operation.table_name, group, schema=operation.schema), fill]
            fill.info["part_of"] = step
            group = [step]
            if added is not None:  # the add's own NOT NULL, after the fill
                group[0] = ops.AlterColumnOp(operation.table_name, added.name, schema=operation.schema,
                                             modify_nullable=False, existing_type=added.type, existing_nullable=True,
                                             existing_comment=added.comment)
                group[0].info["part_of"] = step
        result.append(ops.ModifyTableOps(operation.table_name, group, schema=operation.schema))
    return [op for op in result if not (isinstance(op, ops.ModifyTableOps) and not op.ops)]


def needs_fill(column) -> bool:
    return not column.nullable and column.server_default is None and not column.primary_key


# Operations every backend runs


def portable(operations: list) -> list:
    """Drop a table without dropping first the indexes of that table (MariaDB will not drop
    one a foreign key needs; dropping the table drops them all); within a table, drop foreign
    keys before anything else, for the same reason; give every type change the explicit
    ``USING`` cast PostgreSQL needs where no implicit one exists."""
    dropped = {op.table_name for op in operations if isinstance(op, ops.DropTableOp)}
    result = []
    for operation in operations:
        operation = without_steps(operation, lambda step: isinstance(step, ops.DropIndexOp) and step.table_name in dropped)
        if isinstance(operation, ops.ModifyTableOps):
            operation.ops = sorted((with_cast(step) for step in operation.ops), key=lambda step: not (
                isinstance(step, ops.DropConstraintOp) and step.constraint_type == "foreignkey"))
        if operation is not None:
            result.append(operation)
    return result


def with_cast(step):
    """The step, with ``postgresql_using`` when it changes a type PostgreSQL can name (a type
    only MariaDB has, read back from it, gets none)."""
    if type(step) is not ops.AlterColumnOp or step.modify_type is None:
        return step  # alembic-postgresql-enum already gave its own casts to enum types
    dialect = postgresql.dialect()
    for type_ in (step.modify_type, step.modify_type.as_generic):
        try:
            name = (type_ if isinstance(type_, sa.types.TypeEngine) else type_()).compile(dialect=dialect)
        except (sa.exc.CompileError, NotImplementedError):
            continue
        step.kw["postgresql_using"] = f"{dialect.identifier_preparer.quote_identifier(step.column_name)}::{name}"
        step.__class__ = PostgresUsingAlterColumnOp  # renders postgresql_using, which Alembic's renderer leaves out
        break
    return step


# What to call it and say of it, as Django does


def describe(operations: list) -> list[tuple[str, str | None]]:
    """Each operation as ``("Add column phone to users", "users_phone")``: the line
    makemigrations prints and Django's name fragment. Steps that are part of another (the
    fill and NOT NULL of an added column) are not listed; the indexes of a table created in
    the same migration give an empty fragment, as Django's CreateModel covers them (None would
    mean an operation with no name, which makes the migration ``auto_<timestamp>``)."""
    created = {op.table_name for op in operations if isinstance(op, ops.CreateTableOp)}
    described = []
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            described += [phrase_and_fragment(step, created) for step in operation.ops if "part_of" not in step.info]
        elif "part_of" not in operation.info:
            described.append(phrase_and_fragment(operation, created))
    return described


def phrase_and_fragment(op, created: set[str]) -> tuple[str, str | None]:
    table = getattr(op, "table_name", None)
    if isinstance(op, ops.CreateTableOp):
        return f"Create table {table}", table
    if isinstance(op, ops.DropTableOp):
        return f"Drop table {table}", f"delete_{table}"
    if isinstance(op, ops.RenameTableOp):
        return f"Rename table {table} to {op.new_table_name}", f"rename_{table}_{op.new_table_name}"
    if isinstance(op, ops.AddColumnOp):
        return f"Add column {op.column.name} to {table}", f"{table}_{op.column.name}"
    if isinstance(op, ops.DropColumnOp):
        return f"Remove column {op.column_name} from {table}", f"remove_{table}_{op.column_name}"
    if isinstance(op, ops.AlterColumnOp) and op.modify_name:
        return (f"Rename column {op.column_name} on {table} to {op.modify_name}",
                f"rename_{op.column_name}_{table}_{op.modify_name}")
    if isinstance(op, ops.AlterColumnOp):
        return f"Alter column {op.column_name} on {table}", f"alter_{table}_{op.column_name}"
    if isinstance(op, ops.CreateIndexOp) and concurrent(op):
        return f"Create index {op.index_name} on {table} concurrently", f"{table}_{op.index_name}"
    if isinstance(op, ops.CreateIndexOp):
        return f"Create index {op.index_name} on {table}", "" if table in created else f"{table}_{op.index_name}"
    if isinstance(op, ops.DropIndexOp):
        return f"Drop index {op.index_name} from {table}", f"remove_{table}_{op.index_name}"
    if isinstance(op, ops.CreateUniqueConstraintOp):
        return f"Create unique constraint {op.constraint_name} on {table}", f"{table}_{op.constraint_name}"
    if isinstance(op, ops.CreateForeignKeyOp):
        return (f"Create foreign key {op.constraint_name} on {op.source_table}",
                f"{op.source_table}_{op.constraint_name}")
    if isinstance(op, ops.CreateCheckConstraintOp):
        return f"Create check constraint {op.constraint_name} on {table}", f"{table}_{op.constraint_name}"
    if isinstance(op, ops.DropConstraintOp):
        return f"Drop constraint {op.constraint_name} from {table}", f"remove_{table}_{op.constraint_name}"
    enum = getattr(op, "name", None)  # alembic-postgresql-enum's operations on a type
    kind = type(op).__name__
    if enum and kind.startswith("Create"):
        return f"Create enum type {enum}", enum
    if enum and kind.startswith("Drop"):
        return f"Drop enum type {enum}", f"delete_{enum}"
    if enum:
        return f"Alter enum type {enum}", f"alter_{enum}"
    return kind.removesuffix("Op"), None
