"""What makemigrations and check remember of the checks that found nothing, so that the next
one with the same inputs (``makemigrations --check`` in a pre-commit hook, ``check`` before a
push) gives the same answer without loading Alembic, reflecting the scratch database and
comparing, or importing every migration file: the answer the full check gives, at the cost of
importing the models. (A fresh checkout, as in CI, has files of new stamps: it always checks.)

An entry is stored only after a full check found nothing at all (a comparison with SQLite's
kept scratch database, every migration file imported), under a key of everything its answer
can depend on: the settings, the interpreter and its import path, the migration files' names
and, for a comparison, a canonical text of the models' MetaData as imported now (every table,
column, type and its state, default, computed and identity column, comment, constraint and
index, the naming convention, dialect options) and SQLite's version. With the entry go the
stamps of the files the check read (env.py, every migration file, the scratch database) and of
every module loaded by its end (what env.py and the migrations import, the modules of the
models' types, the libraries, this package, Python's own): any of them touched since, and the
check runs in full again. Nothing is remembered of a comparison whose answer may depend on
more: a MetaData with anything that has no stable text, env.py's hooks of its own (an
include_object may read anything), a warning shown.
"""
import hashlib
import sys

from manage_migrations import cache

NAME = "clean-checks.json"
KEPT = 16  # entries, the newest last: a few branches' worth


def key(settings, *parts: str) -> str | None:
    """The key of a check of ``parts`` (its kind, what it reads) under these settings; None
    without a cache."""
    if settings.cache_dir is None:
        return None
    digest = hashlib.sha256()
    # The interpreter and where it imports from (a venv, PYTHONPATH): another may find other modules.
    for part in (repr(settings), sys.version, sys.executable, sys.prefix, repr(sys.path), *parts):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def comparison_key(settings, metadata, migration_files: list[str]) -> str | None:
    """The key of makemigrations' comparison of ``metadata`` with what ``migration_files``
    build; None when there is none to give (a MetaData without a canonical text)."""
    import sqlite3  # the scratch database's SQLite, whose version decides what reflection reads

    text = schema_text(metadata) if metadata is not None else None
    return None if text is None else key(settings, "comparison", text, sqlite3.sqlite_version, *sorted(migration_files))


def known(settings, key: str | None) -> bool:
    """Whether the full check under ``key`` found nothing, and no file it read or loaded
    changed since."""
    entry = cache.load(settings.cache_dir, NAME).get(key) if key else None
    return isinstance(entry, dict) and bool(entry) and all(cache.stamp(path) == stamp for path, stamp in entry.items())


def remember(settings, key: str | None, read: list[str]) -> None:
    """After a full check that found nothing: its key, with the stamps of the files it
    ``read`` and of every module loaded by now."""
    if key is None:
        return
    stamps = {path: cache.stamp(path) for path in sorted(loaded_files() | set(read))}
    if None in stamps.values():  # a file gone already: nothing to vouch for
        return
    entries = cache.load(settings.cache_dir, NAME)
    entries.pop(key, None)
    entries[key] = stamps
    cache.save(settings.cache_dir, NAME, dict(list(entries.items())[-KEPT:]))


def loaded_files() -> set[str]:
    """The file of every module loaded now: the project's, its libraries', this package's and
    Python's own (which is where the libraries live outside a virtual environment)."""
    return {path for module in list(sys.modules.values())
            if isinstance(path := getattr(module, "__file__", None), str)}


def schema_text(metadata) -> str | None:
    """Every part of the MetaData that autogenerate can compare, the tables in name order;
    None when some part has no stable text (its ``repr`` names a memory address, or its SQL
    cannot be written with its values)."""
    try:
        text = "\n".join(schema_lines(metadata))
    except Exception:  # whatever cannot be described is compared in full
        return None
    return None if " at 0x" in text else text


def schema_lines(metadata) -> list[str]:
    lines = [f"convention {describe(sorted(metadata.naming_convention.items(), key=str))}",
             f"schema {metadata.schema!r}",
             f"sequences {sorted(metadata._sequences)!r}"]
    for name, table in sorted(metadata.tables.items()):
        lines.append(f"table {name} {table.comment!r} {options(table)}")
        for column in table.columns:
            lines.append(f"  column {column.key} {column.name} {type_text(column.type)} nullable={column.nullable} "
                         f"pk={column.primary_key} autoincrement={column.autoincrement!r} unique={column.unique} "
                         f"index={column.index} server_default={default_text(column.server_default)} "
                         f"server_onupdate={default_text(column.server_onupdate)} "
                         f"default={default_text(column.default)} computed={default_text(column.computed)} "
                         f"identity={default_text(column.identity)} comment={column.comment!r} {options(column)} "
                         f"{sorted(constraint_text(constraint) for constraint in column.constraints)}")
        lines += sorted(f"  constraint {constraint_text(constraint)}" for constraint in table.constraints)
        lines += sorted(f"  index {index_text(index)}" for index in table.indexes)
    return lines


def describe(value) -> str:
    """A value's stable text: a callable by its qualified name (its module's file is stamped),
    anything else by its ``repr``."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe(item) for item in value) + "]"
    return repr(value)


def options(item) -> str:
    """The dialect options (``postgresql_using=...``) of a table, column, constraint or index."""
    return describe(sorted(item.dialect_kwargs.items()))


def type_text(type_) -> str:
    """A type's class and its state: every public attribute (the length, the enum's values and
    name, a TypeDecorator's impl, a variant's types)."""
    state = {name: value for name, value in vars(type_).items()
             if name != "dispatch" and (not name.startswith("_") or name in ("_variant_mapping", "_enums_argument"))}
    parts = [f"{type(type_).__module__}.{type(type_).__qualname__}", repr(type_)]
    for name, value in sorted(state.items()):
        if hasattr(value, "_variant_mapping") or name == "impl":  # a type inside a type
            parts.append(f"{name}={type_text(value) if not isinstance(value, type) else describe(value)}")
        elif name == "_variant_mapping":
            parts.append(f"{name}={describe(sorted((k, type_text(v)) for k, v in value.items()))}")
        else:
            parts.append(f"{name}={describe(value)}")
    return "(" + " ".join(parts) + ")"


def default_text(default) -> str:
    """A server default, computed or identity column, or Python default, as its SQL or value."""
    if default is None:
        return "None"
    arg = getattr(default, "arg", getattr(default, "sqltext", None))
    state = {name: value for name, value in vars(default).items()
             if not name.startswith("_") and name not in ("arg", "sqltext", "column", "parent", "dispatch")}
    return f"{type(default).__name__}({sql_text(arg)} {describe(sorted(state.items()))})"


def sql_text(value) -> str:
    """A SQL expression as the default dialect writes it, its values in place; a plain value
    by its ``repr``."""
    if hasattr(value, "compile"):
        return f"sql:{value.compile(compile_kwargs={'literal_binds': True})}"
    return describe(value)


def constraint_text(constraint) -> str:
    """A constraint's kind, name, columns, and what its kind adds (the CHECK's SQL, the
    foreign key's targets and rules)."""
    parts = [type(constraint).__name__, str(constraint.name), describe([c.key for c in constraint.columns]),
             f"deferrable={constraint.deferrable!r}", f"initially={constraint.initially!r}",
             f"comment={getattr(constraint, 'comment', None)!r}", options(constraint)]
    if hasattr(constraint, "sqltext"):
        parts.append(sql_text(constraint.sqltext))
    if hasattr(constraint, "elements"):
        parts += [describe([(e.parent.key, e.target_fullname) for e in constraint.elements]),
                  f"ondelete={constraint.ondelete!r}", f"onupdate={constraint.onupdate!r}",
                  f"match={constraint.match!r}", f"use_alter={constraint.use_alter!r}"]
    return " ".join(parts)


def index_text(index) -> str:
    return " ".join([str(index.name), f"unique={index.unique}", describe([sql_text(e) for e in index.expressions]),
                     options(index)])
