"""What a migration's body does, read from its source with ``ast`` (nothing is imported): the
operations it calls, worded for a plan or a merge; the steps it does by hand, which autogenerate
would not write; the values its enum types end with."""
import ast
import datetime
import decimal
from pathlib import Path
from typing import NamedTuple

DESTRUCTIVE = {"drop_table", "drop_column"}


# Where an operation outside a batch names its table: add_column("users", Column("phone")),
# create_index("ix_rooms_hotel_id", "rooms", ...); rename_table("rooms", "hotel_rooms") names
# the table's new name second, in the same place.
TABLE_THEN_SUBJECT = {"add_column", "drop_column", "alter_column"}
SUBJECT_THEN_TABLE = {"create_index", "drop_index", "create_unique_constraint", "create_foreign_key",
                      "create_check_constraint", "create_primary_key", "drop_constraint", "rename_table"}
# What a one-off default can be besides a constant, as autodetector.literal writes it.
LITERAL_NAMES = {"Decimal": decimal.Decimal, "datetime": datetime}


class Step(NamedTuple):
    """One operation of a migration's body: ``("add_column", "phone", "users")``. For
    makemigrations' fill of a NOT NULL column's rows, ``("fill", "phone", "users", "")``, with
    the value it gives them. ``line``: where the statement starts in the file (lintmigrations
    points there)."""
    name: str
    subject: str | None
    on: str | None
    value: object = None
    line: int | None = None


def defined(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    """A migration's top-level ``upgrade`` or ``downgrade``, where it has one."""
    return next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name), None)


def calls(path: str, forward: bool = True) -> list[tuple[str, str | None, str | None]]:
    """What a migration's ``upgrade()`` (or ``downgrade()``) calls on ``op`` or ``batch_op``, as
    ``(operation, subject, table)``: ``("add_column", "phone", "users")``, ``("create_table",
    "hotels", None)``, ``("rename_table", "rooms", "hotel_rooms")`` (the new name in the table's
    place), read from its source (every branch of an if or try); see ``steps``."""
    return [step[:3] for step in steps(path, forward)]


def steps(path: str, forward: bool = True) -> list[Step]:
    """``calls``, with the steps makemigrations writes that are no ``op`` method: an enum type
    created or dropped (``("create_enum_type", "room_kind", None)``), and the fill of a NOT
    NULL column's rows with its value."""
    tree = ast.parse(Path(path).read_bytes())
    function = defined(tree, "upgrade" if forward else "downgrade")
    found = []

    def visit(nodes, table=None, receivers=("op",)):
        for node in nodes:
            if isinstance(node, ast.With):
                item = node.items[0]
                if _method(item.context_expr, receivers) == "batch_alter_table" and isinstance(item.optional_vars, ast.Name):
                    visit(node.body, (_words(item.context_expr) or [None])[0], (*receivers, item.optional_vars.id))
                else:
                    visit(node.body, table, receivers)
            elif isinstance(node, ast.Expr) and (step := _step(node.value, table, receivers)):
                found.append(step._replace(line=node.lineno))
            else:  # if/for/while/try: every branch, handlers included
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []), table, receivers)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, table, receivers)

    visit(function.body if function else [])
    return found


def _step(call: ast.expr, table: str | None, receivers) -> Step | None:
    """What one statement does, or None when it is no step (a log line, ``bind = op.get_bind()``)."""
    fill = one_off_default(call, receivers)
    if fill:
        return Step("fill", fill[1], fill[0], fill[2])
    name = _method(call, receivers)
    if name is None:
        return _enum_type(call)
    words, on = _words(call), table
    if table is None and name in TABLE_THEN_SUBJECT:
        on, words = (words or [None])[0], words[1:]
    elif table is None and name in SUBJECT_THEN_TABLE:
        on, words = (words[1:] or [None])[0], words[:1]
    renamed = next((_constant(kw.value) for kw in call.keywords if kw.arg == "new_column_name"), None)
    if name == "alter_column" and isinstance(renamed, str):  # a rename, with its new name
        return Step("rename_column", (words or [None])[0], on, renamed)
    return Step(name, (words or [None])[0], on)


def _enum_type(call: ast.expr) -> Step | None:
    """``sa.Enum(..., name='room_kind').create(op.get_bind())`` (or ``postgresql.ENUM``, or
    ``.drop``): how alembic-postgresql-enum has makemigrations create and drop a type."""
    if not (_called(call) in ("create", "drop") and isinstance(call.func, ast.Attribute)
            and _called(call.func.value) in ("Enum", "ENUM")):
        return None
    name = next((_constant(kw.value) for kw in call.func.value.keywords if kw.arg == "name"), None)
    return Step(f"{call.func.attr}_enum_type", name, None) if isinstance(name, str) else None


def one_off_default(call: ast.expr, receivers=("op",)) -> tuple[str, str, object] | None:
    """makemigrations' fill of the rows of a NOT NULL column (``autodetector.render_fill``),
    as ``(table, column, value)``: ``op.execute(sa.table('users', sa.column('phone', ...))
    .update().where(sa.column('phone', ...).is_(None)).values({'phone': ''}))``. None for any
    other statement, such as an UPDATE of every row."""
    chain = _chain(call.args[0], ("values", "where", "update", "table")) \
        if _method(call, receivers) == "execute" and len(call.args) == 1 else None
    if chain is None:
        return None
    values, where, _, table = chain
    names = [_constant(table.args[0]) if table.args else None, _column_name(table.args[1:])]
    filled = values.args[0] if len(values.args) == 1 and isinstance(values.args[0], ast.Dict) else None
    null_check = where.args[0] if len(where.args) == 1 else None
    if not (isinstance(names[0], str) and names[1] and filled and [_constant(key) for key in filled.keys] == names[1:]
            and _called(null_check) == "is_" and _column_name([getattr(null_check.func, "value", None)]) == names[1]
            and [_constant(arg) for arg in null_check.args] == [None]):
        return None
    try:
        return names[0], names[1], _literal(filled.values[0])
    except ValueError:
        return None  # a value edited into something else: a step of the author's own


def _chain(node: ast.expr, names: tuple[str, ...]) -> list[ast.Call] | None:
    """The calls of a method chain, outermost first, when they call ``names``:
    ``sa.table(...).update()`` is ``[update, table]`` for ``("update", "table")``."""
    chain = []
    for name in names:
        if _called(node) != name:
            return None
        chain.append(node)
        node = getattr(node.func, "value", None)
    return chain


def _column_name(args: list[ast.expr]) -> str | None:
    """The name of ``sa.column('phone', ...)``, the one argument in ``args``."""
    if len(args) != 1 or _called(args[0]) != "column" or not args[0].args:
        return None
    name = _constant(args[0].args[0])
    return name if isinstance(name, str) else None


def _literal(node: ast.expr):
    """A value as ``autodetector.literal`` writes it (a constant, ``Decimal('9.50')``,
    ``datetime.date(2026, 1, 1)``), computed without running anything else; ValueError for
    any other expression."""
    allowed = (ast.Constant, ast.Call, ast.keyword, ast.UnaryOp, ast.USub, ast.Load)
    if not all(isinstance(part, allowed) or isinstance(part, ast.Name) and part.id in LITERAL_NAMES
               or isinstance(part, ast.Attribute) and not part.attr.startswith("_") for part in ast.walk(node)):
        raise ValueError(f"not a literal: {ast.unparse(node)}")
    try:
        return eval(compile(ast.Expression(node), "<one-off default>", "eval"), {"__builtins__": {}, **LITERAL_NAMES})
    except Exception as exc:
        raise ValueError(f"not a literal: {ast.unparse(node)}") from exc


# What autogenerate writes: a migration calling only these can be written again from the schema.
AUTOGENERATED = {"create_table", "drop_table", "rename_table", "add_column", "drop_column", "alter_column",
                 "create_index", "drop_index", "create_unique_constraint", "create_foreign_key",
                 "create_check_constraint", "create_primary_key", "drop_constraint", "batch_alter_table",
                 "sync_enum_values", "create_table_comment", "drop_table_comment"}


def hand_written(path: str) -> list[str]:
    """What a migration's ``upgrade()`` does besides the operations autogenerate writes: the
    other ``op`` methods it calls (``execute``, ``bulk_insert``, ``get_bind``), or, when it
    calls none, the first line of each other statement. Empty for a migration that can be
    written again. makemigrations' fill of a NOT NULL column's rows is no such step: a squash
    writes it again wherever those rows can exist (see ``one_off_default``); nor is an enum
    type's creation or drop, which a squash writes again with the tables that use it."""
    source = Path(path).read_text()
    tree = ast.parse(source)
    function = defined(tree, "upgrade")
    methods, statements = [], []

    def visit(nodes, receivers=("op",)):
        for node in nodes:
            if isinstance(node, ast.Pass) or isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # pass, a docstring
            if isinstance(node, ast.With) and _method(node.items[0].context_expr, receivers) == "batch_alter_table":
                batch = node.items[0].optional_vars
                visit(node.body, (*receivers, batch.id) if isinstance(batch, ast.Name) else receivers)
                continue
            if isinstance(node, ast.Expr) and (_method(node.value, receivers) in AUTOGENERATED
                                               or one_off_default(node.value, receivers) or _enum_type(node.value)):
                continue
            methods.extend(name for call in ast.walk(node) for name in [_method(call, receivers)]
                           if name and name not in AUTOGENERATED)
            statements.append(ast.get_source_segment(source, node).splitlines()[0].strip())

    visit(function.body if function else [])
    return list(dict.fromkeys(methods or statements))


# Worded as makemigrations words what it writes (``autodetector.describe``): "Add column phone to
# users" wherever one operation is described. Any other: "Create index ix on users".
WORDING = {"add_column": ("Add column", "to"), "drop_column": ("Remove column", "from"),
           "drop_index": ("Drop index", "from"), "drop_constraint": ("Drop constraint", "from"),
           "rename_table": ("Rename table", "to"), "fill": ("Fill column", "on")}


def operations(path: str, forward: bool = True) -> list[tuple[str, bool]]:
    """Each call of ``calls`` as ``("Remove column phone from users", destroys_data)``: enough
    for a reviewer reading a plan or a merge."""
    found = []
    for name, subject, on, value, _ in steps(path, forward):
        verb, preposition = WORDING.get(name, (name.replace("_", " ").capitalize(), "on"))
        renamed = f"to {value}" if name == "rename_column" else None
        found.append((" ".join(filter(None, [verb, subject, f"{preposition} {on}" if on else None, renamed])),
                      name in DESTRUCTIVE))
    return found


def _called(node) -> str | None:
    """``create`` for ``x.create(...)`` and for ``create(...)``: what a call calls."""
    if not isinstance(node, ast.Call):
        return None
    return getattr(node.func, "attr", None) or getattr(node.func, "id", None)


def _method(node, receivers) -> str | None:
    """``create_table`` for ``op.create_table(...)``, when the receiver is ``op`` or a batch."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if isinstance(node.func.value, ast.Name) and node.func.value.id in receivers:
            return node.func.attr
    return None


def _words(call: ast.Call) -> list[str]:
    """The names in a call: string arguments, and the first argument of a nested call
    (``sa.Column('phone', ...)``, ``op.f('uq_users_email')``), then a ``table_name=``."""
    words = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            words.append(arg.value)
        elif isinstance(arg, ast.Call) and arg.args and isinstance(arg.args[0], ast.Constant):
            words.append(str(arg.args[0].value))
    words += [kw.value.value for kw in call.keywords
              if kw.arg == "table_name" and isinstance(kw.value, ast.Constant)]
    return words


class EnumTypes(NamedTuple):
    """What the migration files say of enum types, which SQLite and MariaDB do not keep: each
    type's values (``enum_values``) and the columns of each (``enum_columns``)."""
    values: dict[str, list[str]]
    columns: dict[tuple[str, str], str]


def enum_types(paths: list[str]) -> EnumTypes:
    return EnumTypes(enum_values(paths), enum_columns(paths))


NO_ENUM_TYPES = EnumTypes({}, {})


def enum_columns(paths: list[str]) -> dict[tuple[str, str], str]:
    """The enum type each column was last given by these migration files (oldest first), as
    ``{("suites", "kind"): "suite_kind"}``: ``sa.Column('kind', sa.Enum(..., name='suite_kind'))``
    in a ``create_table`` or ``add_column``, and an ``alter_column``'s ``type_=``, in a batch
    block or not. SQLite reads such a column back as a VARCHAR: this is where a table made again
    (undoing its drop) learns its enum columns."""
    found: dict[tuple[str, str], str] = {}

    def enum_name(node) -> str | None:
        if isinstance(node, ast.Call) and _called(node) in ("Enum", "ENUM"):
            name = next((_constant(kw.value) for kw in node.keywords if kw.arg == "name"), None)
            return name if isinstance(name, str) else None
        return None

    def visit(nodes, table=None):
        for node in nodes:
            if isinstance(node, ast.With):  # a batch block names the table of what is in it
                batch = _called(node.items[0].context_expr) == "batch_alter_table"
                visit(node.body, (_words(node.items[0].context_expr) or [None])[0] if batch else table)
                continue
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                operation, words = _called(call), _words(call)
                on = table if table is not None else (words or [None])[0]
                if operation in ("create_table", "add_column"):
                    for column in (arg for arg in call.args if _called(arg) == "Column" and arg.args):
                        name = next(filter(None, map(enum_name, column.args[1:])), None)
                        if name and isinstance(_constant(column.args[0]), str):
                            found[(on, column.args[0].value)] = name
                elif operation == "alter_column":
                    name = next((enum_name(kw.value) for kw in call.keywords if kw.arg == "type_"), None)
                    subject = words[0] if table is not None else (words[1:] or [None])[0]
                    if name and subject:
                        found[(on, subject)] = name

    for path in paths:
        source = Path(path).read_bytes()
        if b"Enum(" in source or b"ENUM(" in source:
            upgrade = defined(ast.parse(source), "upgrade")
            visit(upgrade.body if upgrade else [])
    return found


def enum_values(paths: list[str]) -> dict[str, list[str]]:
    """The values each named enum type has once these migration files (oldest first) have run,
    read from their ``upgrade()``: ``sa.Enum('a', 'b', name='kind')`` (or ``postgresql.ENUM``)
    defines a type and ``sa.Enum(...).drop(...)`` drops it; alembic-postgresql-enum's
    ``add_enum_value`` and ``sync_enum_values`` change it. SQLite and MariaDB keep no enum
    type, so this is where makemigrations learns the types the migrations made."""
    values: dict[str, list[str]] = {}
    for path in paths:
        source = Path(path).read_bytes()
        if b"Enum(" not in source and b"ENUM(" not in source and b"enum_value" not in source:
            continue  # most files: no need to parse them
        tree = ast.parse(source)
        upgrade = defined(tree, "upgrade")
        # In source order; sa.Enum(...) before the .drop(...) called on it, which starts at the same place.
        nodes = list(ast.walk(upgrade)) if upgrade else []
        # What a column was (alter_column's existing_type) says nothing of what the type is now.
        before = {id(node.value) for node in nodes if isinstance(node, ast.keyword) and node.arg == "existing_type"}
        calls = sorted((node for node in nodes if isinstance(node, ast.Call) and id(node) not in before),
                       key=lambda call: (call.lineno, call.col_offset, call.end_lineno, call.end_col_offset))
        for call in calls:
            function = _called(call)
            keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
            if function == "drop" and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
                inner = {kw.arg: kw.value for kw in call.func.value.keywords if kw.arg}
                values.pop(_constant(inner.get("name")), None)
                continue
            name = _constant(keywords.get("name") if function in ("Enum", "ENUM") else keywords.get("enum_name"))
            if not isinstance(name, str):
                continue
            if function in ("Enum", "ENUM") and _constant(keywords.get("native_enum")) is not False:
                values[name] = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            elif function == "add_enum_value" and isinstance(_constant(keywords.get("new_value")), str):
                known, before = values.setdefault(name, []), _constant(keywords.get("before_value"))
                known.insert(known.index(before) if before in known else len(known), keywords["new_value"].value)
            elif function == "sync_enum_values" and isinstance(keywords.get("new_values"), ast.List):
                values[name] = [_constant(item) for item in keywords["new_values"].elts]
    return values


def _constant(node):
    return node.value if isinstance(node, ast.Constant) else None


def non_atomic(path: str) -> bool:
    """Whether a migration commits as it goes, so that one stopped part-way leaves what it did:
    it says ``atomic = False`` (Django's), or runs statements in Alembic's ``autocommit_block()``
    (PostgreSQL's ``CREATE INDEX CONCURRENTLY`` must)."""
    if not str(path).endswith(".py"):
        return False  # a compiled file alone (sourceless): nothing to read; Alembic's own rules apply
    source = Path(path).read_bytes()
    if b"atomic" not in source and b"autocommit_block" not in source:
        return False
    tree = ast.parse(source)
    declared = any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "atomic" for t in node.targets)
                   and isinstance(node.value, ast.Constant) and node.value.value is False for node in tree.body)
    return declared or any(isinstance(node, ast.Attribute) and node.attr == "autocommit_block" for node in ast.walk(tree))
