"""Types and defaults read back from a database, made portable: generic, so that a migration
written from them (a squash, a dropped table made again) runs on SQLite, PostgreSQL and MariaDB
alike."""
import re


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
