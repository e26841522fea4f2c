"""A schema read back from a scratch database and made portable: generic types and defaults, so
that a migration written from it (a squash) runs on SQLite, PostgreSQL and MariaDB alike."""
import re
import warnings

from manage_migrations.conf import Settings, load_models
from manage_migrations.graph import Migration
from manage_migrations.output import CommandError


def reflected(settings: Settings, connection, migrations: list[Migration], heads: tuple[str, ...]):
    """The schema the migrations build up to ``heads``, read back from a scratch database with
    generic types (``String(120)``, not SQLite's ``VARCHAR`` or PostgreSQL's), so that what is
    written from it runs on every backend."""
    import sqlalchemy as sa
    from sqlalchemy.sql.elements import conv

    from manage_migrations import scratch
    from manage_migrations import recorder

    scratch.migrate_to(settings, connection, migrations, heads)
    # The convention names what was made without a name (SQLite reads back no name for a primary
    # key); one that builds on the given name (ck_<table>_<name>) would apply to a name twice.
    convention = load_models(settings, everything=False).naming_convention
    metadata = sa.MetaData(naming_convention={kind: pattern for kind, pattern in convention.items()
                                              if "%(constraint_name)s" not in pattern})

    @sa.event.listens_for(metadata, "column_reflect")
    def generic(inspector, table, column):
        column["type"] = portable_type(column["type"], inspector.dialect)
        if column.get("autoincrement") is False:
            del column["autoincrement"]  # what a non-key column gets anyway: not worth a word in the file
        if column.get("default") is not None:
            column["default"] = portable_default(column["default"], column["type"])

    own = recorder.of(settings).own_tables | recorder.DEFAULT_TABLES
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", sa.exc.SAWarning)
        metadata.reflect(connection, only=lambda name, _: name not in own)
    connection.rollback()
    skipped = [str(warning.message) for warning in warned if "Skipped unsupported reflection" in str(warning.message)]
    if skipped:  # SQLite's expression indexes: the squash would silently lose them
        raise CommandError(f"Cannot squash: {connection.dialect.name} cannot read back all the schema "
                           f"({skipped[0]}). Squash with PostgreSQL as the database.")
    for table in metadata.tables.values():
        foreign_keys = {(fk.name, tuple(fk.column_keys)) for fk in table.foreign_key_constraints}
        for index in list(table.indexes):  # the index MariaDB makes for a foreign key, under its name
            if connection.dialect.name in ("mysql", "mariadb") and (index.name, tuple(
                    c.name for c in index.columns)) in foreign_keys:
                table.indexes.discard(index)
        for index in table.indexes:  # a partial index is one on both backends that have them
            where = next((index.dialect_kwargs[name] for name in ("sqlite_where", "postgresql_where")
                          if index.dialect_kwargs.get(name) is not None), None)
            if where is not None:
                index.dialect_kwargs["sqlite_where"] = index.dialect_kwargs["postgresql_where"] = where
        for item in [table, *table.indexes, *table.constraints]:
            for name, value in list(item.dialect_kwargs.items()):
                # Options at their defaults (postgresql_include=[]), MariaDB's engine and charset.
                if value is None or isinstance(value, (list, dict, str)) and not value or \
                        item is table and name.startswith("mysql_"):
                    del item.dialect_kwargs[name]
        for item in [*table.indexes, *table.constraints]:
            if item.name is not None and not isinstance(item.name, conv):
                item.name = conv(item.name)  # written as op.f(name): the name it has, as it is
    return metadata


def portable_type(type_, dialect):
    """The generic type of a reflected one: ``String(120)`` for SQLite's ``VARCHAR(120)``,
    ``Boolean`` for MariaDB's ``TINYINT(1)``, an enum with its name and values; a type whose
    generic form is another type on ``dialect`` (PostgreSQL's JSONB, not JSON) as it is."""
    import sqlalchemy as sa

    if isinstance(type_, sa.Enum):
        return sa.Enum(*type_.enums, name=type_.name) if type_.name else type_
    if getattr(type_, "display_width", None) == 1 and type(type_).__name__ == "TINYINT":
        return sa.Boolean()
    try:
        generic = type_.as_generic()
    except NotImplementedError:
        return type_
    # MariaDB's INTEGER(11): a display width, no other type.
    same = isinstance(type_, sa.Integer) or generic.compile(dialect=dialect) == type_.compile(dialect=dialect)
    return generic if same else type_


def portable_default(default: str, type_):
    """A reflected server default as every backend takes it: without PostgreSQL's casts
    (``'x'::character varying``), ``CURRENT_TIMESTAMP`` for ``now()``, a boolean as
    ``sa.false()`` or ``sa.true()`` (SQLite reads back ``0``, which PostgreSQL refuses for a
    boolean); None for a SERIAL's ``nextval(...)``, which autoincrement makes again."""
    import sqlalchemy as sa

    if default.startswith("nextval("):
        return None
    default = re.sub(r"^('(?:[^']|'')*')::[\w ]+$", r"\1", default)
    unwrapped = default[1:-1] if default.startswith("(") and default.endswith(")") else default
    if unwrapped.lower() in ("now()", "current_timestamp", "current_timestamp()"):
        return "CURRENT_TIMESTAMP"
    if isinstance(type_, sa.Boolean) and unwrapped.strip("'").lower() in ("0", "1", "false", "true", "f", "t"):
        return sa.schema.DefaultClause(sa.true() if unwrapped.strip("'").lower() in ("1", "true", "t") else sa.false())
    return default
