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
than the table's): a changed one is a change of type. A partial index's ``WHERE`` (PostgreSQL,
SQLite), written back in the same way: a changed one makes the index again. A MariaDB table's
engine, charset or collation the models change: said, as a difference makemigrations does not write.
"""
import contextlib
import itertools
import sys
import uuid
import warnings

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


def expression_sql(expression, dialect) -> str:
    """A model's SQL expression (a CHECK constraint's, an index's WHERE) as ``dialect`` writes it."""
    expression = getattr(expression, "sqltext", expression)
    if isinstance(expression, str):
        expression = sa.text(expression)
    return str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def written_back(connection, table_name: str, schema: str | None, sql: str) -> str | None:
    """``sql`` as the database writes back a CHECK constraint of that expression on a copy of
    the table; None where it cannot be tried (then the two are taken as equal, as Alembic does)."""
    name = "manage_probe_check"
    if connection.dialect.name in ("postgresql", "mysql", "mariadb"):
        with empty_copy(connection, table_name, schema) as probe:
            connection.exec_driver_sql(f"ALTER TABLE {probe} ADD CONSTRAINT {name} CHECK ({sql})")
            return read_back(connection, probe, None, name)
    if connection.dialect.name == "sqlite":  # it keeps the text as written: a temporary table with the same columns
        quote, probe = connection.dialect.identifier_preparer.quote, f"manage_probe_{uuid.uuid4().hex[:12]}"
        columns = ", ".join(quote(column["name"]) for column in sa.inspect(connection).get_columns(table_name, schema))
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} ({columns}, CONSTRAINT {name} CHECK ({sql}))")
        try:
            return read_back(connection, probe, "temp", name)
        finally:
            connection.exec_driver_sql(f"DROP TABLE temp.{probe}")
    return None


@contextlib.contextmanager
def empty_copy(connection, table_name: str, schema: str | None):
    """An empty copy of the table that nobody else sees, to write an expression on: PostgreSQL's
    temporary table in a savepoint rolled back afterwards, MariaDB's temporary table (whose DDL
    commits nothing) dropped afterwards."""
    quote, probe = connection.dialect.identifier_preparer.quote, f"manage_probe_{uuid.uuid4().hex[:12]}"
    table = f"{quote(schema)}.{quote(table_name)}" if schema else quote(table_name)
    if connection.dialect.name == "postgresql":
        with connection.begin_nested() as savepoint:
            connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} (LIKE {table})")
            yield probe
            savepoint.rollback()
        return
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {probe} LIKE {table}")
    try:
        yield probe
    finally:
        connection.exec_driver_sql(f"DROP TEMPORARY TABLE {probe}")


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


def compare_partial_indexes(autogen_context, modify_table_ops, schema, table_name, conn_table, metadata_table):
    """Alembic's comparator of a table present in both: an index of the models whose ``WHERE``
    (``postgresql_where``, ``sqlite_where``) the database writes back otherwise than the one it
    has is dropped and made again. MariaDB has no partial indexes."""
    backend = autogen_context.dialect.name
    if conn_table is None or metadata_table is None or backend not in ("postgresql", "sqlite"):
        return PriorityDispatchResult.CONTINUE
    connection, option = autogen_context.connection, f"{backend}_where"
    theirs = {index["name"]: index for index in sa.inspect(connection).get_indexes(table_name, schema=schema)}
    for index in metadata_table.indexes:
        where, found = index.dialect_kwargs.get(option), theirs.get(index.name)
        if where is None or found is None or None in found["column_names"]:
            continue  # added or dropped (Alembic says so), or on expressions (Alembic's to compare)
        has = found.get("dialect_options", {}).get(option)
        wanted = expression_sql(where, connection.dialect)
        if backend == "postgresql":
            with empty_copy(connection, table_name, schema) as probe:
                columns = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in found["column_names"])
                connection.exec_driver_sql(f"CREATE INDEX {probe}_ix ON {probe} ({columns}) WHERE {wanted}")
                wanted = next(ix["dialect_options"].get(option) for ix in sa.inspect(connection).get_indexes(probe))
        if str(has) != str(wanted):
            # Made again where undone, on whichever of the two backends: partial on both.
            old = sa.Index(index.name, *found["column_names"], unique=bool(found["unique"]), **(
                {"postgresql_where": sa.text(str(has)), "sqlite_where": sa.text(str(has))} if has is not None else {}))
            sa.Table(table_name, sa.MetaData(), *(sa.Column(name) for name in found["column_names"]), old,
                     schema=schema)
            modify_table_ops.ops += [ops.DropIndexOp.from_index(old), ops.CreateIndexOp.from_index(index)]
    return PriorityDispatchResult.CONTINUE


class Unwritten(UserWarning):
    """A difference seen that makemigrations does not write (``migrations.autogenerate`` collects them)."""


# A MariaDB table's options as the models give them, and the name the database reports each under.
TABLE_OPTIONS = {"mysql_engine": "mysql_engine", "mysql_charset": "mysql_default charset",
                 "mysql_default_charset": "mysql_default charset", "mysql_collate": "mysql_collate"}


def compare_table_options(autogen_context, modify_table_ops, schema, table_name, conn_table, metadata_table):
    """Alembic's comparator of a table present in both, on MariaDB: an engine, charset or
    collation the models give a table that the database has otherwise. No operation writes
    it portably (``ALTER TABLE ... ENGINE`` is MariaDB's alone), so it is said, not written."""
    if conn_table is None or metadata_table is None or autogen_context.dialect.name not in ("mysql", "mariadb"):
        return PriorityDispatchResult.CONTINUE
    found = autogen_context.inspector.get_table_options(table_name, schema=schema)
    for option, reported in TABLE_OPTIONS.items():
        wanted = metadata_table.dialect_kwargs.get(option)
        if wanted is not None and str(wanted).lower() != str(found.get(reported, "")).lower():
            warnings.warn(f"{table_name} has {option}={found.get(reported)!r} in the database and {wanted!r} in the "
                          "models", Unwritten)
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_expressions, "table", "checkexpressions")
    plugin.add_autogenerate_comparator(compare_collation, "column", "collations")
    plugin.add_autogenerate_comparator(compare_partial_indexes, "table", "partialindexes")
    plugin.add_autogenerate_comparator(compare_table_options, "table", "tableoptions")


Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN)
