"""``dumpdata``, ``loaddata``, ``flush`` and ``sqlflush``: the models' rows as Django's JSON
fixtures, with table names for model labels (``[{"model": "hotels", "pk": 1, "fields": {...}}]``),
or as JSON lines; never manage.py's records of what ran."""
import base64
import datetime
import decimal
import json
import sys
import uuid
from pathlib import Path

import click

from manage_migrations.conf import Settings, load_models
from manage_migrations.output import CommandError, Console


def model_tables(settings: Settings, connection, names: tuple[str, ...] = (), exclude: tuple[str, ...] = ()):
    """The models' tables that the database has, parents before children (foreign keys), or
    those named; a name that is no model's table is an error naming it."""
    import sqlalchemy as sa

    tables = load_models(settings).sorted_tables
    known = {table.name for table in tables}
    for name in (*names, *exclude):
        if name not in known:
            raise CommandError(f"No model has the table '{name}'.")
    present = set(sa.inspect(connection).get_table_names())
    return [table for table in tables if table.name in present and (not names or table.name in names)
            and table.name not in exclude]


def dumpdata(settings: Settings, console: Console, tables: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
             indent: int | None = None, output: str | None = None, lines: bool = False) -> None:
    """Django's dumpdata: every row of the models' tables (or of ``tables``), in foreign-key order."""
    import sqlalchemy as sa

    from manage_migrations import database

    def read(connection) -> list[dict]:
        records = []
        for table in model_tables(settings, connection, tables, exclude):
            key = [column.name for column in table.primary_key.columns]
            for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings():
                pk = [row[name] for name in key]
                records.append({"model": table.name, "pk": pk[0] if len(pk) == 1 else pk,
                                "fields": {name: value for name, value in row.items() if name not in key}})
        return records

    records = database.run(database.database_url(settings), read)
    text = "".join(f"{json.dumps(record, default=to_json)}\n" for record in records) if lines else \
        json.dumps(records, indent=indent, default=to_json) + "\n"
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text)


def to_json(value):
    """Django's encoder: dates and times in ISO 8601, decimals and UUIDs as strings; bytes in base64."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"Cannot write a {type(value).__name__} as JSON.")


def loaddata(settings: Settings, console: Console, fixtures: tuple[str, ...], stdin=sys.stdin) -> None:
    """Django's loaddata: the fixtures' rows inserted in one transaction, parents first; on
    PostgreSQL each table's sequence then continues after its highest key."""
    from manage_migrations import database

    records = [record for name in fixtures for record in read_fixture(name, stdin)]

    def load(connection) -> int:
        tables = {table.name: table for table in model_tables(settings, connection)}
        order = list(tables)
        rows = sorted((to_row(tables, record) for record in records), key=lambda row: order.index(row[0].name))
        connection.rollback()  # the reads' transaction: the load is one of its own
        with connection.begin():
            for table, values in rows:
                connection.execute(table.insert(), values)
            if connection.dialect.name == "postgresql":
                reset_sequences(connection, {table for table, _ in rows})
        return len(rows)

    count = database.run(database.database_url(settings), load)
    console.line(f"Installed {count} object(s) from {len(fixtures)} fixture(s)")


def read_fixture(name: str, stdin) -> list[dict]:
    """A fixture file's records: JSON (a list), or JSON lines (``.jsonl``); ``-`` is standard input."""
    try:
        text = stdin.read() if name == "-" else Path(name).read_text()
    except OSError as exc:
        raise CommandError(f"Cannot read the fixture {name}: {exc.strerror}.") from None
    try:
        if name.endswith(".jsonl") or (name == "-" and not text.lstrip().startswith("[")):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"The fixture {name} is not JSON: {exc}.") from None
    if not isinstance(records, list):
        raise CommandError(f"The fixture {name} is not a list of objects.")
    return records


def to_row(tables: dict, record: dict):
    """A record as ``(table, values)``, its values as the column types take them; an unknown
    table or column is an error naming it."""
    table = tables.get(record.get("model"))
    if table is None:
        raise CommandError(f"The fixture names the table '{record.get('model')}', which no model has: nothing was "
                           "loaded.")
    key = [column.name for column in table.primary_key.columns]
    pk = record.get("pk")
    values = dict(zip(key, pk if isinstance(pk, list) else [pk])) if pk is not None else {}
    for name, value in record.get("fields", {}).items():
        if name not in table.columns:
            raise CommandError(f"The fixture gives {table.name} a column '{name}', which it does not have: nothing "
                               "was loaded.")
        values[name] = from_json(table.columns[name], value)
    return table, values


def from_json(column, value):
    """A JSON value as the column's type takes it (ISO dates, decimal strings, base64 bytes)."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if value is None or isinstance(value, python_type):
        return value
    if python_type in (datetime.date, datetime.datetime, datetime.time):
        return python_type.fromisoformat(value)
    if python_type is datetime.timedelta:
        return datetime.timedelta(seconds=value)
    if python_type is bytes:
        return base64.b64decode(value)
    return python_type(value) if python_type in (decimal.Decimal, uuid.UUID, int, float) else value


def reset_sequences(connection, tables) -> None:
    """Django's ``sqlsequencereset``: each serial or identity key continues after the highest row."""
    import sqlalchemy as sa

    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                                          {"table": table.name, "column": column.name}).scalar()
            if sequence:
                quoted = connection.dialect.identifier_preparer
                connection.execute(sa.text(
                    f"SELECT setval(:sequence, COALESCE(MAX({quoted.quote(column.name)}), 1), "
                    f"MAX({quoted.quote(column.name)}) IS NOT NULL) FROM {quoted.format_table(table)}"),
                    {"sequence": sequence})


def flush_statements(settings: Settings, connection) -> list[str]:
    """What ``flush`` runs: every model table emptied, children first; never manage.py's records."""
    quoted = connection.dialect.identifier_preparer
    tables = list(reversed(model_tables(settings, connection)))
    if connection.dialect.name == "postgresql" and tables:
        return [f"TRUNCATE {', '.join(quoted.format_table(table) for table in tables)} RESTART IDENTITY"]
    return [f"DELETE FROM {quoted.format_table(table)}" for table in tables]


def sqlflush(settings: Settings, console: Console) -> None:
    from manage_migrations import database

    statements = database.run(database.database_url(settings), lambda connection: flush_statements(settings, connection))
    console.line("\n".join(f"{statement};" for statement in ["BEGIN", *statements, "COMMIT"]), level=0)


def flush(settings: Settings, console: Console, interactive: bool = True) -> None:
    """Django's flush: the rows of every model table removed, after asking as Django asks."""
    from manage_migrations import database

    url = database.database_url(settings)
    if interactive and not click.confirm(
            f"You have requested a flush of the database.\nThis will IRREVERSIBLY DESTROY all data currently in the "
            f"{database.where(url)} database,\nand return each table to an empty state.\nAre you sure you want to do "
            f"this?", default=False):
        console.line("Flush cancelled.")
        return

    def empty(connection):
        statements = flush_statements(settings, connection)
        connection.rollback()
        with connection.begin():
            for statement in statements:
                connection.exec_driver_sql(statement)

    database.run(url, empty)
