"""The migration files read as data, without importing them.

Alembic imports every file to learn its ``revision`` and ``down_revision``. Reading those
module-level assignments with ``ast`` is enough to answer every question about the graph
(what is applied, where a target lies), so Alembic's full load happens only when a migration
must run. It also lets us fail loudly where Alembic only warns: two files, one revision id.
"""
import ast
import hashlib
import os
from pathlib import Path

from project import cache
from project.graph import Migration
from project.output import CommandError


def migration_files(versions_dir: Path) -> list[str]:
    """The files Alembic would load: every ``*.py`` but ``__init__.py`` and editor droppings."""
    folder = str(versions_dir)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".py") and n != "__init__.py" and not n.startswith(".#"))
    return [os.path.join(folder, name) for name in names]


def read_migration(path: Path) -> Migration:
    """The revision and parents (``down_revision`` and ``depends_on``) a migration file declares."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise CommandError(f"Migration file {path.name} has a syntax error at line {exc.lineno}: {exc.msg}") from None
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision", "depends_on"):
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                raise CommandError(f"Migration file {path.name} must set {target.id} to a literal.") from None
    if not isinstance(values.get("revision"), str):
        raise CommandError(f"Migration file {path.name} does not set revision = '...'.")
    parents = []
    for name in ("down_revision", "depends_on"):
        value = values.get(name)
        parents.extend([value] if isinstance(value, str) else value or [])
    return Migration(values["revision"], tuple(parents), str(path))


def read_migrations(versions_dir: Path, cache_dir: Path | None = None) -> list[Migration]:
    """Every migration in the folder; two files with one revision id are an error naming both.

    With ``cache_dir``, what each file declares is kept in ``index.json`` there, under the
    file's name, size, inode and change times: a file that was added, removed, edited or
    replaced is read again, so the cache never answers for a file that changed."""
    cached = cache.load(cache_dir, "index.json")
    fresh = {}
    migrations = []
    seen: dict[str, str] = {}  # revision: file name
    for path in migration_files(versions_dir):
        name, stamp = os.path.basename(path), cache.stamp(path)
        entry = cached.get(name)
        if is_entry(entry) and entry["stamp"] == stamp:
            migration = Migration(entry["revision"], tuple(entry["parents"]), path)
        else:
            migration = read_migration(Path(path))
            entry = {"stamp": stamp, "revision": migration.revision, "parents": list(migration.parents)}
        fresh[name] = entry
        if migration.revision in seen:
            raise CommandError(f"Revision '{migration.revision}' is declared by two files: "
                               f"{seen[migration.revision]} and {name}.")
        seen[migration.revision] = name
        migrations.append(migration)
    for migration in migrations:
        for parent in migration.parents:
            if parent not in seen:
                raise CommandError(f"Migration {migration.revision} depends on '{parent}', which no migration file has.")
    if fresh != cached:
        cache.save(cache_dir, "index.json", fresh)
    return migrations


def is_entry(entry) -> bool:
    """Whether a cached entry has the shape ``read_migrations`` writes (a cache file may hold anything)."""
    return (isinstance(entry, dict) and isinstance(entry.get("revision"), str) and isinstance(entry.get("stamp"), list)
            and isinstance(entry.get("parents"), list) and all(isinstance(p, str) for p in entry["parents"]))


def fingerprint(migrations_dir: Path, salt: str = "") -> str:
    """A digest of everything that decides the schema at head: env.py and every migration file,
    and ``salt`` (say, the versions of the libraries that run them)."""
    digest = hashlib.sha256(salt.encode())
    for path in [migrations_dir / "env.py", *map(Path, migration_files(migrations_dir / "versions"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


DESTRUCTIVE = {"drop_table", "drop_column"}
# Where an operation outside a batch names its table: add_column("users", Column("phone")),
# create_index("ix_rooms_hotel_id", "rooms", ...).
TABLE_THEN_SUBJECT = {"add_column", "drop_column", "alter_column"}
SUBJECT_THEN_TABLE = {"create_index", "drop_index", "create_unique_constraint", "create_foreign_key",
                      "create_check_constraint", "create_primary_key", "drop_constraint"}


def operations(path: str, forward: bool = True) -> list[tuple[str, bool]]:
    """What a migration's ``upgrade()`` (or ``downgrade()``) calls on ``op`` or ``batch_op``, as
    ``("Drop column phone on users", destroys_data)``: enough for a reviewer reading a plan."""
    tree = ast.parse(Path(path).read_bytes())
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                     and node.name == ("upgrade" if forward else "downgrade")), None)
    found = []

    def visit(nodes, table=None, receivers=("op",)):
        for node in nodes:
            if isinstance(node, ast.With):
                item = node.items[0]
                if _method(item.context_expr, receivers) == "batch_alter_table" and isinstance(item.optional_vars, ast.Name):
                    visit(node.body, (_words(item.context_expr) or [None])[0], (*receivers, item.optional_vars.id))
                else:
                    visit(node.body, table, receivers)
            elif isinstance(node, ast.Expr) and _method(node.value, receivers):
                name = _method(node.value, receivers)
                words = _words(node.value)
                on = table
                if table is None and name in TABLE_THEN_SUBJECT:
                    on, words = (words or [None])[0], words[1:]
                elif table is None and name in SUBJECT_THEN_TABLE:
                    on, words = (words[1:] or [None])[0], words[:1]
                phrase = " ".join(filter(None, [name.replace("_", " ").capitalize(), *words[:1],
                                                f"on {on}" if on else None]))
                found.append((phrase, name in DESTRUCTIVE))
            else:  # if/for/while/try: every branch, handlers included
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []), table, receivers)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, table, receivers)

    visit(function.body if function else [])
    return found


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
        upgrade = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade"), None)
        # In source order; sa.Enum(...) before the .drop(...) called on it, which starts at the same place.
        nodes = list(ast.walk(upgrade)) if upgrade else []
        # What a column was (alter_column's existing_type) says nothing of what the type is now.
        before = {id(node.value) for node in nodes if isinstance(node, ast.keyword) and node.arg == "existing_type"}
        calls = sorted((node for node in nodes if isinstance(node, ast.Call) and id(node) not in before),
                       key=lambda call: (call.lineno, call.col_offset, call.end_lineno, call.end_col_offset))
        for call in calls:
            function = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
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
