"""The migration files read as Alembic reads them, mostly without importing them.

Alembic imports every file to learn its ``revision``, ``down_revision``, ``branch_labels`` and
``depends_on``. Where a file assigns each of them once, at the top, to a literal (what Alembic's
template and makemigrations write), reading the source with ``ast`` gives the same answer
without running it, so Alembic's full load happens only when a migration must run; any other
file is run as Alembic runs it. Two files with one revision id are an error here, where Alembic
only warns.
"""
import ast
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from manage_migrations import cache
from manage_migrations.graph import Migration
from manage_migrations.output import APP_LABEL, CommandError


# Alembic's rules for the files of a versions folder (alembic/script/base.py): names ending in
# .py (and, with ``sourceless``, .pyc or .pyo), none starting with ``.#`` or ``__init__``.
SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
SOURCELESS_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)(c|o)?$")
LEGACY_FILE = re.compile(r"([a-f0-9]+)\.py$")  # a file with no ``revision`` is named after it
# Alembic's header, and the ``replaces`` of a migration squashmigrations wrote.
HEADER = ("revision", "down_revision", "branch_labels", "depends_on", "replaces")
# Names through which a module can bind names no assignment shows: reading such a file's source
# is not certain, so it is run as Alembic runs it.
DYNAMIC = {"globals", "vars", "locals", "exec", "eval", "setattr", "__dict__", "_getframe", "f_globals", "modules",
           "__getattr__"}
WORDS = re.compile(rb"\b(?:%s)\b|import\s+\*" % "|".join(sorted({*HEADER, *DYNAMIC})).encode())
TEMPLATE_COMMENT = b"# revision identifiers, used by Alembic."  # in every file Alembic's template writes
ILLEGAL_IN_REVISION = "@-+:"  # Alembic's: they would read as a target's syntax
# Where a migration sits in the history: the top-level down_revision and depends_on (a value may
# go on over lines that open with a space or a closing bracket) and the docstring's "Revises:"
# line. squashmigrations rewrites them in the migrations after a squash; ``checksum`` leaves them out.
POSITION = re.compile(rb"^(?:(?:down_revision|depends_on)\b[^\n]*(?:\n[ \t)\]}][^\n]*)*|Revises:[^\n]*)", re.M)


def migration_files(folders: list[Path], sourceless: bool = False, recursive: bool = False) -> list[str]:
    """The files Alembic loads as migrations, in its order, which decides the order of sibling
    branches: folder by folder, names sorted as strings; a file reached twice (a symlink, a
    folder listed twice) once; with ``sourceless``, compiled files whose source is gone. Each
    folder's real path is resolved once, and only a symlinked file on its own: resolving every
    file walked its whole path again, thousands of system calls on each migrate."""
    pattern = SOURCELESS_FILE if sourceless else SOURCE_FILE
    found, seen = [], set()
    for top in map(str, folders):  # strings, not Paths: a Path per file costs more than its stat
        for root, dirs, names in os.walk(top) if os.path.isdir(top) else ():
            if root.endswith("__pycache__"):
                continue
            paths = [os.path.join(root, name) for name in sorted(names)]
            compiled = os.path.join(root, "__pycache__")
            if sourceless and os.path.isdir(compiled):
                stems = {name.split(".")[0] for name in names}
                paths += [os.path.join(compiled, name) for name in sorted(os.listdir(compiled))
                          if name.split(".")[0] not in stems]
            links = {entry.name for entry in os.scandir(root) if entry.is_symlink()}  # no system call per file
            real_root = os.path.realpath(root)
            for path in paths:
                folder, name = os.path.split(path)
                real = os.path.realpath(path) if name in links or folder == compiled else os.path.join(real_root, name)
                match = pattern.match(os.path.basename(real))
                if real in seen or not match or sourceless and _has_source(Path(real), match):
                    continue
                seen.add(real)
                found.append(real)
            if not recursive:
                break
            dirs.sort()
    return found


def _has_source(path: Path, match: re.Match) -> bool:
    """Whether a compiled file has its source (or, for a .pyo, a .pyc) beside it, which Alembic prefers."""
    source = path.parent / match.group(1)
    return match.group(2) is not None and (source.exists() or match.group(2) == "o" and Path(f"{source}c").exists())


def files_of(settings) -> list[str]:
    """The migration files of a project's ``Settings``."""
    return migration_files(settings.migration_folders, settings.sourceless, settings.recursive_version_locations)


def read_migration(path: Path) -> "Header":
    """What a migration file declares. From its source when each name is assigned once, at the
    top, to a literal (nearly every file); otherwise, or for a compiled file, by running it as
    Alembic does, so that any header Alembic accepts is read as Alembic reads it."""
    header = literal_header(path) if path.suffix == ".py" else None
    if header is None:
        header = _loaded_header(path)
    return _checked(path, header)


def literal_header(path: Path) -> dict | None:
    """The header names the file assigns, when reading its source is certain; else None."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte
        where = f" at line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise CommandError(f"Migration file {path.name} has a syntax error{where}: {getattr(exc, 'msg', exc)}") from None
    annotations_only = {id(node.target) for node in tree.body if isinstance(node, ast.AnnAssign) and node.value is None}
    bindings: dict[str, list] = {name: [] for name in HEADER}
    # Where each header name is written once in the whole file and nothing could bind names
    # unseen, only the top-level statements can bind them: no need to walk every node.
    words = [word.decode() for word in WORDS.findall(source.replace(TEMPLATE_COMMENT, b""))]
    certain = all(words.count(name) <= 1 for name in HEADER) and not set(words) - set(HEADER)
    for node in _top_level_names(tree) if certain else ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in HEADER and not isinstance(node.ctx, ast.Load):
            if id(node) not in annotations_only:
                bindings[node.id].append(node)
        elif isinstance(node, ast.Name) and node.id in DYNAMIC or isinstance(node, ast.Attribute) and node.attr in DYNAMIC:
            return None  # globals(), builtins.exec, sys.modules[__name__]...
        elif (set(HEADER) | DYNAMIC | {"*"}) & _binds(node):
            return None
    if certain and any(name in words and not bindings[name] for name in HEADER):
        return None  # written once, but not as a plain top-level assignment: unpacked, nested, in a string
    top = {id(target): node.value for node in tree.body
           for target in (node.targets if isinstance(node, ast.Assign) and len(node.targets) == 1 else
                          [node.target] if isinstance(node, ast.AnnAssign) else [])}
    header = {}
    for name, nodes in bindings.items():
        if len(nodes) > 1 or (nodes and id(nodes[0]) not in top):
            return None  # assigned twice, in a branch, by unpacking: let Python decide
        if nodes:
            try:
                header[name] = ast.literal_eval(top[id(nodes[0])])
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None  # a name bound above, an expression, a set of lists
    return header


def _top_level_names(tree: ast.Module):
    """The names assigned by the module's own top-level statements."""
    for node in tree.body:
        for target in node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]:
            if isinstance(target, ast.Name):
                yield target


def _binds(node: ast.AST) -> set[str]:
    """The names an import, a ``global``, an ``except ... as``, a def or a match pattern binds."""
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return set(node.names)
    if isinstance(node, ast.alias):
        return {node.asname or node.name.split(".")[0]}
    if isinstance(node, (ast.ExceptHandler, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.MatchAs,
                         ast.MatchStar, ast.MatchMapping)):
        return {getattr(node, "name", None), getattr(node, "rest", None)} - {None}
    return set()


def load_module(path: Path):
    """A migration file run as Alembic runs it; one that fails is a CommandError naming it."""
    from alembic.util import load_python_file

    try:
        return load_python_file(str(path.parent), path.name)
    except Exception as exc:
        raise CommandError(f"Migration file {path.name} does not import: {type(exc).__name__}: {exc}") from None


def _loaded_header(path: Path) -> dict:
    """The header as Alembic reads it: from the module, after running it."""
    module = load_module(path)
    return {name: getattr(module, name) for name in HEADER if hasattr(module, name)}


def _as_tuple(value) -> tuple:
    """Alembic's ``to_tuple``: None is nothing, a string is one, anything iterable its items."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, Iterable) else (value,)


def _checked(path: Path, header: dict) -> "Header":
    """The header as Alembic takes it, or Alembic's reason for refusing the file, in one line."""
    revision = header.get("revision")
    if "revision" not in header:
        legacy = LEGACY_FILE.match(path.name)
        if not legacy:
            raise CommandError(f"Could not determine revision id from filename {path.name}. Be sure the 'revision' "
                               "variable is declared inside the script.")
        revision = legacy.group(1)
    if "down_revision" not in header:
        raise CommandError(f"Migration file {path.name} does not set down_revision (None for a first migration), "
                           "without which Alembic cannot load it.")
    values = {name: _as_tuple(header.get(name)) for name in HEADER[1:]}
    for name, value in [("revision", (revision,)), *values.items()]:
        if not all(isinstance(item, str) for item in value):
            raise CommandError(f"Migration file {path.name} sets {name} to {header.get(name, revision)!r}: "
                               "revision ids are strings.")
    illegal = sorted(set(ILLEGAL_IN_REVISION) & set(revision))
    if illegal:
        raise CommandError(f"Character(s) '{', '.join(illegal)}' not allowed in revision identifier '{revision}' "
                           f"({path.name}).")
    if revision in values["down_revision"]:
        raise CommandError(f"Self-loop is detected in revisions ({revision}) ({path.name}).")
    return Header(revision, values["down_revision"], values["depends_on"], values["branch_labels"], values["replaces"])


@dataclass(frozen=True)
class Header:
    """What one file declares, before names in ``depends_on`` are resolved against the others."""
    revision: str
    down_revision: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    replaces: tuple[str, ...] = ()


def read_migrations(folders: list[Path], cache_dir: Path | None = None, sourceless: bool = False,
                    recursive: bool = False, app_label: str = APP_LABEL) -> list[Migration]:
    """Every migration in the folders, in Alembic's load order; two files with one revision id,
    a label used twice, or a name no file has are errors naming them.

    With ``cache_dir``, what each file declares, and its checksum, are kept in ``index.json``
    there, under the file's path, size, inode and change times: a file that was added, removed,
    edited or replaced is read again, so the cache never answers for a file that changed."""
    cached = cache.load(cache_dir, "index.json")
    fresh = {}
    headers = []
    seen: dict[str, str] = {}  # revision or branch label: file name
    for path in migration_files(folders, sourceless, recursive):
        stamp, entry = cache.stamp(path), cached.get(path)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and is_entry(entry):
            header = Header(entry["revision"], **{name: tuple(entry[name]) for name in HEADER[1:]})
        else:
            header = read_migration(Path(path))
            entry = {"stamp": stamp, "revision": header.revision, "checksum": checksum(path),
                     **{name: list(getattr(header, name)) for name in HEADER[1:]}}
        fresh[path] = entry
        name = os.path.basename(path)
        if header.revision in seen:
            raise CommandError(f"Revision '{header.revision}' is declared by two files: {seen[header.revision]} and {name}.")
        seen[header.revision] = name
        headers.append((header, path, entry["checksum"]))
    declares = {}  # branch label: the revision that declares it
    for header, _, _ in headers:
        for label in header.branch_labels:
            if label in declares or label in seen:
                raise CommandError(f"Branch name '{label}' in revision {header.revision} already used by revision "
                                   f"{declares.get(label, label)}.")
            declares[label] = header.revision
    migrations = []
    for header, path, digest in headers:
        for parent in header.down_revision + tuple(name for name in header.depends_on if name not in declares):
            if parent not in seen:
                raise CommandError(f"Migration {header.revision} depends on '{parent}', which no migration file has.")
        depends_on = tuple(dict.fromkeys(declares.get(name, name) for name in header.depends_on))
        migrations.append(Migration(header.revision, header.down_revision, path, depends_on, header.branch_labels,
                                    header.replaces, app_label, digest))
    no_cycles(migrations)
    if fresh != cached:
        cache.save(cache_dir, "index.json", fresh)
    return migrations


def no_cycles(migrations: list[Migration]) -> None:
    """Alembic's refusal of a history in which a migration comes, directly or not, before itself."""
    waiting = {m.revision: len(m.needs) for m in migrations}
    needed_by = {m.revision: [] for m in migrations}
    for m in migrations:
        for parent in m.needs:
            needed_by[parent].append(m.revision)
    ready = [revision for revision, count in waiting.items() if not count]
    while ready:
        for revision in needed_by[ready.pop()]:
            waiting[revision] -= 1
            if not waiting[revision]:
                ready.append(revision)
    looped = sorted(revision for revision, count in waiting.items() if count)
    if looped:
        raise CommandError(f"Cycle is detected in revisions ({', '.join(looped)}).")


def is_entry(entry) -> bool:
    """Whether a cached entry has the shape ``read_migrations`` writes (a cache file may hold anything)."""
    return (isinstance(entry, dict) and isinstance(entry.get("revision"), str) and isinstance(entry.get("stamp"), list)
            and isinstance(entry.get("checksum", 0), (str, type(None)))
            and all(isinstance(entry.get(name), list) and all(isinstance(item, str) for item in entry[name])
                    for name in HEADER[1:]))


def fingerprint(env_py: Path, files: list[str], salt: str = "") -> str:
    """A digest of everything that decides the schema at head: env.py and every migration file,
    and ``salt`` (say, the versions of the libraries that run them)."""
    digest = hashlib.sha256(salt.encode())
    for path in [env_py, *map(Path, files)]:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def checksum(path) -> str | None:
    """The sha256 of a migration file's source as recorded when it is applied (see
    ``recorder``), normalised so that line endings (CRLF, CR) and whitespace at the end of the
    file do not count: a checkout on Windows or an editor's final newline is not an edit. Nor
    is where the migration sits in the history (``POSITION``), which changes nothing it runs.
    None when the file cannot be read (gone since)."""
    try:
        source = Path(path).read_bytes()
    except OSError:
        return None
    source = POSITION.sub(b"", source.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    return hashlib.sha256(source.rstrip()).hexdigest()


def migrations_of(settings) -> list[Migration]:
    """The migrations of a project's ``Settings``, as Django's loader gives a project's graph."""
    return read_migrations(settings.migration_folders, settings.cache_dir, settings.sourceless,
                           settings.recursive_version_locations, settings.app_label)
