"""What Alembic's autogenerate does not compare, compared: an Alembic plugin
(``manage_migrations.comparisons``) that manage.py's autogenerate runs with Alembic's own.

CHECK constraints whose expression changed. Alembic's opt-in ``alembic.ext.checkconstraint_byname``
finds those added and removed, by name (every project of ours names its constraints by
convention), and takes two of one name as equal. Here their expressions are compared as the
database itself writes them back: the model's expression is added to an empty copy of the table
that nobody else sees (a temporary table, rolled back or dropped), and what the database then
reports is compared with what it reports for the table's own. No SQL is parsed by hand:
``beds > 0`` comes back as PostgreSQL's ``(beds > 0)`` or MariaDB's ```beds` > 0`` on both
sides alike.

A column's collation, where the database reports it (PostgreSQL; MariaDB, for a collation other
than the table's): a changed one is a change of type.
"""
import itertools
import sys
import uuid

import sqlalchemy as sa
from alembic.operations import ops
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult

PLUGIN = "manage_migrations.comparisons"


def compare_expressions(autogen_context, modify_table_ops, schema, table_name, conn_table, metadata_table):
    """Alembic's comparator of a table present in both: a named CHECK constraint of the models
    whose expression the database writes back otherwise than the one it has is dropped and
    added again."""
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    connection = autogen_context.connection
    theirs = {check["name"]: check["sqltext"] for check in sa.inspect(connection).get_check_constraints(
        table_name, schema=schema) if check.get("name")}
    for check in model_checks(metadata_table):
        if check.name not in theirs:
            continue  # added: Alembic's plugin says so
        ours = written_back(connection, table_name, schema, expression_sql(check, connection.dialect))
        if ours is not None and ours != theirs[check.name]:
            old = sa.CheckConstraint(theirs[check.name], name=sa.sql.elements.conv(check.name))
            sa.Table(table_name, sa.MetaData(), old, schema=schema)
            modify_table_ops.ops += [ops.DropConstraintOp.from_constraint(old),
                                     ops.AddConstraintOp.from_constraint(check)]
    return PriorityDispatchResult.CONTINUE


def model_checks(table: sa.Table) -> list[sa.CheckConstraint]:
    """The table's named CHECK constraints, a column's own included (as Alembic gathers them)."""
    found = itertools.chain(table.constraints, *(column.constraints for column in table.columns))
    return [check for check in found if isinstance(check, sa.CheckConstraint) and isinstance(check.name, str)]


def expression_sql(check: sa.CheckConstraint, dialect) -> str:
    return str(check.sqltext.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def written_back(connection, table_name: str, schema: str | None, sql: str) -> str | None:
    """``sql`` as the database writes back a CHECK constraint of that expression on a copy of
    the table; None where it cannot be tried (then the two are taken as equal, as Alembic does)."""
    backend = connection.dialect.name
    probe, name = f"manage_probe_{uuid.uuid4().hex[:12]}", "manage_probe_check"
    quote = connection.dialect.identifier_preparer.quote
    table = f"{quote(schema)}.{quote(table_name)}" if schema else quote(table_name)
    if backend == "postgresql":
        with connection.begin_nested() as savepoint:
            connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} (LIKE {table})")
            connection.exec_driver_sql(f"ALTER TABLE {probe} ADD CONSTRAINT {name} CHECK ({sql})")
            found = read_back(connection, probe, None, name)
            savepoint.rollback()
        return found
    if backend in ("mysql", "mariadb"):  # a temporary table's DDL commits nothing
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} LIKE {table}")
        try:
            connection.exec_driver_sql(f"ALTER TABLE {probe} ADD CONSTRAINT {name} CHECK ({sql})")
            return read_back(connection, probe, None, name)
        finally:
            connection.exec_driver_sql(f"DROP TEMPORARY TABLE {probe}")
    if backend == "sqlite":  # it keeps the text as written: a temporary table with the same columns
        columns = ", ".join(quote(column["name"]) for column in sa.inspect(connection).get_columns(table_name, schema))
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} ({columns}, CONSTRAINT {name} CHECK ({sql}))")
        try:
            return read_back(connection, probe, "temp", name)
        finally:
            connection.exec_driver_sql(f"DROP TABLE temp.{probe}")
    return None


def read_back(connection, table_name: str, schema: str | None, name: str) -> str | None:
    checks = sa.inspect(connection).get_check_constraints(table_name, schema=schema)
    return next((check["sqltext"] for check in checks if check["name"] == name), None)


def compare_collation(autogen_context, alter_column_op, schema, table_name, column_name, conn_col, metadata_col):
    """Alembic's comparator of a column present in both: a collation the model gives a text
    column (or takes away) that the database has otherwise is a change of type, to the model's.
    PostgreSQL reports a column's own collation; MariaDB reports one other than the table's,
    whose own stands for it otherwise; SQLite reports none, so nothing is said there."""
    backend = autogen_context.dialect.name
    if backend not in ("postgresql", "mysql", "mariadb") or not isinstance(metadata_col.type, sa.String):
        return PriorityDispatchResult.CONTINUE
    wanted, own = metadata_col.type.collation, getattr(conn_col.type, "collation", None)
    found = own
    if found is None and backend != "postgresql":
        found = autogen_context.inspector.get_table_options(table_name, schema=schema).get("mysql_collate")
    if (wanted is not None and wanted != found or wanted is None and own is not None) \
            and alter_column_op.modify_type is None:
        alter_column_op.existing_type, alter_column_op.modify_type = conn_col.type, metadata_col.type
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_expressions, "table", "checkexpressions")
    plugin.add_autogenerate_comparator(compare_collation, "column", "collations")


Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN)
