"""``squashmigrations``: Django's squash, over Alembic.

A squashed migration is generated, not concatenated: a scratch database is migrated to END and
read back (types made generic, so a squash made on SQLite runs on PostgreSQL), a second one is
migrated to just before the range, and autogenerate compares the two, so the new migration
builds exactly what the replaced ones built. It records them in ``replaces``.

Alembic has no ``replaces``: a squashed migration beside the migrations it replaces would be a
second branch to the plain ``alembic`` command, which would run both. So the replaced files move
to ``migrations/replaced/``, which Alembic does not read, and what came after END now comes after
the squashed migration: to Alembic the history is a normal one. ``migrate`` applies Django's rule
(``graph.applied``): a database at END is at the squashed migration, which is recorded in END's
place; a database part-way through the range is migrated through the replaced files, read back
from ``migrations/replaced/`` (``replaced``), while they exist.
"""
import ast
import dataclasses
import itertools
import re
import shutil
import textwrap
import warnings
from pathlib import Path

import click

from manage_migrations import graph, loader, naming, source
from manage_migrations.conf import Settings, load_models
from manage_migrations.graph import Migration, app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.naming import new_file
from manage_migrations.output import CommandError, Console, display_path
from manage_migrations.portable import portable_default, portable_type
from manage_migrations.replaced import replaced_files, replaced_folder

# ``replaces`` goes in after the header the project's script.py.mako writes.
AFTER_HEADER = re.compile(r"^depends_on\b.*\n", re.MULTILINE)
UPGRADE = re.compile(r"^def upgrade\(.*\n", re.MULTILINE)


def squashmigrations(settings: Settings, console: Console, names: tuple[str, ...], squashed_name: str | None = None,
                     interactive: bool = True) -> None:
    """Squash the migrations of an app from START (by default its first) to END into one:
    ``names`` are Django's ``[APP] [START] END``."""
    from manage_migrations.questioner import Questioner

    migrations = migrations_of(settings)
    squash = Squash.of(settings, migrations, names, squashed_name)
    shown = 0 if interactive else 1  # as Django: the list goes with the question it asks
    console.line(click.style("Will squash the following migrations:", bold=True), level=shown)
    for migration in squash.replaced:
        console.line(f" - {migration.revision}", level=shown)
    if interactive and not Questioner(interactive).ask_proceed():
        console.line("Aborting squash.")
        return

    console.line(click.style("Optimizing...", bold=True))
    schema = schema_at(settings, console, migrations, squash.end)
    with Undo() as undo:
        phrases = write(settings, console, migrations, squash, schema, undo)
        before = sum(len(source.calls(m.path)) for m in squash.replaced)
        console.line(f"  Optimized from {before} operations to {len(phrases)} operations." if before != len(phrases)
                     else "  No optimizations possible.")
        move_replaced(settings, squash, undo)
        try_squashed(settings, squash, schema)

    folder = display_path(replaced_folder(settings))
    console.line(f"Created new squashed migration {display_path(squash.path)}")
    moved = f"the {len(squash.replaced)} migrations it replaces" if len(squash.replaced) > 1 else "the migration it replaces"
    pointed = ", ".join(m.revision for m in squash.followers)
    console.line(f"  Moved {moved} to {folder}, where Alembic does not look"
                 + (f", and pointed {pointed} at it." if pointed else "."))
    console.line("  You should commit this migration and the moved files; the new migration will be used for\n"
                 "  new installs, and migrate records it in place of the old ones where they were applied.\n"
                 "  Once you are sure all instances of the codebase have applied the migrations you\n"
                 f"  squashed, you can delete {folder}.")
    if squash.hand_written:
        console.line(click.style("Manual porting required", fg="yellow", bold=True))
        console.line("  Your migrations contained steps that must be manually copied over,\n"
                     "  as the squashed migration is built from the schema and runs none of them:")
        for name, steps in squash.hand_written.items():
            console.line(f"    {name}: {', '.join(steps)}")
        console.line("  See the comment at the top of the squashed migration's upgrade() for details.")


@dataclasses.dataclass(frozen=True)
class Squash:
    """A squash, decided before anything is written: the migration it writes and where, the
    migrations it replaces (oldest first), what it needs, and the migrations outside the range
    that followed END, which will follow it."""
    revision: str
    path: Path
    replaced: tuple[Migration, ...]
    replaces: tuple[str, ...]  # the replaced, and what squashed migrations among them replaced
    parents: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    followers: tuple[Migration, ...]
    hand_written: dict  # revision: what its upgrade() does that the schema does not say

    @property
    def end(self) -> str:
        return self.replaced[-1].revision

    @classmethod
    def of(cls, settings: Settings, migrations: list[Migration], names: tuple[str, ...],
           squashed_name: str | None) -> "Squash":
        """Django's ``[APP] [START] END``, where two words are APP END when the first is an
        app's label, else START END; refused in one line where the result could not work."""
        labels = set(graph.apps(migrations).values())
        app, start, end = (names[0], None, names[1]) if len(names) == 2 and names[0] in labels else \
            (None, None, *names)[-3:]
        app, _ = app_and_target(migrations, app, None, settings.app_labels)
        end = graph.find(end, migrations, app)
        replaced = graph.squash_range(migrations, end, graph.find(start, migrations, app) if start else None)
        by_id, folder = {m.revision: m for m in migrations}, replaced_folder(settings)
        if any(folder.resolve() == location.resolve() or settings.recursive_version_locations
               and folder.resolve().is_relative_to(location.resolve()) for location in settings.migration_folders):
            raise CommandError(f"Alembic reads every folder under the version locations (recursive_version_locations), "
                               f"so the replaced files cannot be kept from it in {folder}.")
        kept = {Path(path).stem for path in replaced_files(settings)}
        for revision in replaced:
            if kept & set(by_id[revision].replaces):
                raise CommandError(f"You cannot squash squashed migrations! Please transition {revision} to a normal "
                                   f"migration first: delete the files it replaces from {display_path(folder)}.")
        revision = squashed_id(replaced[0], end, squashed_name)
        path = new_file(settings, Path(by_id[end].path).parent, revision)
        if revision in by_id or path.exists():
            raise CommandError(f"Migration {revision} already exists. Use a different name.")
        hand_written = {name: source.hand_written(by_id[name].path) for name in replaced}
        return cls(revision, path, tuple(by_id[name] for name in replaced),
                   # What an earlier squash in the range replaced is replaced too: a database still
                   # at its END is recognised.
                   tuple(name for revision in replaced for name in (*by_id[revision].replaces, revision)),
                   *graph.squash_needs(migrations, replaced),
                   tuple(label for name in replaced for label in by_id[name].branch_labels),
                   tuple(followers(migrations, replaced)),
                   {name: steps for name, steps in hand_written.items() if steps})


def squashed_id(start: str, end: str, squashed_name: str | None) -> str:
    """Django's name: ``<start>_squashed_<end>``, or ``<start's number>_<name>`` with --squashed-name."""
    if squashed_name is None:
        return f"{start}_squashed_{end}"
    slug = naming.slugify(squashed_name)
    if not slug:
        raise CommandError(f"The migration name '{squashed_name}' has no letters or digits to use.")
    number = naming.number_of(start)
    return naming.revision_id(number, slug) if number else slug


def followers(migrations: list[Migration], replaced: list[str]) -> list[Migration]:
    """The migrations outside the range that need one in it, which must need END alone: they
    will need the squashed migration instead."""
    inside, end = set(replaced), replaced[-1]
    followers = []
    for m in migrations:
        needed = [r for r in m.needs if r in inside]
        if m.revision in inside or not needed:
            continue
        if needed != [end]:
            raise CommandError(f"Cannot squash {replaced[0]} to {end}: {m.revision} needs {needed[0]}, which the "
                               "squashed migration would replace. Squash up to that migration, or from after it.")
        if loader.literal_header(Path(m.path)) is None:
            raise CommandError(f"Cannot squash: {Path(m.path).name}, which needs {end}, sets its header in a way "
                               "only running it can read, so it cannot be pointed at the squashed migration.")
        followers.append(m)
    return followers


def schema_at(settings: Settings, console: Console, migrations: list[Migration], end: str):
    """The schema the migrations build up to ``end``, read from a scratch database (``reflected``)."""
    from manage_migrations import database, scratch

    with scratch.scratch_database(database.database_url(settings), console) as at_end:
        if at_end is None:
            raise CommandError("squashmigrations builds the squashed migration on a scratch database: allow this "
                               "user to create databases.")
        return database.run(at_end, lambda connection: reflected(settings, connection, migrations, (end,)))


def write(settings: Settings, console: Console, migrations: list[Migration], squash: Squash, schema,
          undo: "Undo") -> list[str]:
    """Generate the squashed migration (what takes a scratch database at its parents to
    ``schema``) and write it; what it does, in phrases."""
    from manage_migrations import database, scratch
    from manage_migrations import migrations as alembic

    paths = [m.path for m in squash.replaced]
    questioner = AsReplaced(replaced_renames(paths), replaced_fills(paths))
    with scratch.scratch_database(database.database_url(settings), console) as before:
        def compare(connection):
            scratch.migrate_to(settings, connection, migrations, squash.parents + squash.depends_on)
            return alembic.autogenerate(settings, connection, questioner, lambda: source.NO_ENUM_TYPES, metadata=schema)

        found = database.run(before, compare)
    changes, rendered = (found[0].changes, found[0].rendered) if found else (None, {})
    text = alembic.migration_text(settings, squash.revision, squash.parents,
                                  f"squashed {squash.replaced[0].revision} to {squash.end}", rendered,
                                  branch_labels=squash.branch_labels, depends_on=squash.depends_on)
    text, found = AFTER_HEADER.subn(lambda line: f"{line.group(0)}replaces = {squash.replaces!r}\n", text, count=1)
    if not found:  # without it, no database at what it replaces would be recognised
        raise CommandError(f"{settings.migrations_dir / 'script.py.mako'} writes no depends_on line, after which "
                           "squashmigrations writes replaces.")
    comments = ported([m for m in squash.replaced if m.revision in squash.hand_written])
    if comments:
        text = UPGRADE.sub(lambda line: line.group(0) + comments, text, count=1)
    alembic.write_migration(settings, squash.path, text)
    undo.append(lambda: squash.path.unlink(missing_ok=True))
    return changes.phrases if changes else []


def replaced_renames(paths: list[str]) -> set[tuple[str | None, str, str]]:
    """What the migrations (oldest first) rename, as ``(table, old, new)`` for a column
    (``alter_column(new_column_name=...)``, in a batch or not) and ``(None, old, new)`` for a
    table (``rename_table``); a rename of a rename counts as a rename of the first name, and
    a column keeps its renames under its table's later names."""
    found = []

    def visit(nodes, table=None):
        for node in nodes:
            batch = node.items[0].context_expr if isinstance(node, ast.With) else None
            if isinstance(batch, ast.Call) and getattr(batch.func, "attr", None) == "batch_alter_table" \
                    and _strings(batch):
                visit(node.body, _strings(batch)[0])
                continue
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    found.extend(_rename(call, table))

    for path in paths:
        function = source.defined(ast.parse(Path(path).read_bytes()), "upgrade")
        visit(function.body if function else [])
    renames = set(found)
    while True:
        chained = {(table, old, newest) for table, old, new in renames for on, then, newest in renames
                   if on == table and then == new and old != newest}
        moved = {(newer, old, new) for table, old, new in renames for on, was, newer in renames
                 if on is None and table == was}
        if chained | moved <= renames:
            return renames
        renames |= chained | moved


def _strings(call: ast.Call) -> list[str]:
    return [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]


def _rename(call: ast.Call, table: str | None) -> list[tuple[str | None, str, str]]:
    """The rename one call makes: ``op.rename_table('a', 'b')``, ``op.alter_column('t', 'a',
    new_column_name='b')`` or, in a batch of table ``t``, ``batch_op.alter_column('a', ...)``."""
    strings = _strings(call)
    new = next((kw.value.value for kw in call.keywords if kw.arg == "new_column_name"
                and isinstance(kw.value, ast.Constant)), None)
    if call.func.attr == "rename_table" and len(strings) >= 2:
        return [(None, strings[0], strings[1])]
    if call.func.attr == "alter_column" and new and strings:
        return [(table, strings[0], new)] if table and len(strings) == 1 else [(strings[0], strings[-1], new)]
    return []


def replaced_fills(paths: list[str]) -> dict[tuple[str, str], object]:
    """The one-off defaults makemigrations wrote into the migrations (oldest first), by the
    ``(table, column)`` they filled. A column's first fill is what the rows that were there
    before it hold (a later one finds them filled); a column or table dropped since takes its
    fill with it."""
    fills = {}
    for path in paths:
        for step in source.steps(path):
            if step.name == "fill":
                fills.setdefault((step.on, step.subject), step.value)
            elif step.name == "drop_column":
                fills.pop((step.on, step.subject), None)
            elif step.name == "drop_table":
                fills = {(table, column): value for (table, column), value in fills.items() if table != step.subject}
    return fills


class AsReplaced:
    """The questioner of a squash, answered as the replaced migrations answered makemigrations:
    a rename is one when they made it; a column the squashed migration adds NOT NULL to a table
    it does not create (or makes NOT NULL) gets the one-off default they filled its rows with,
    so that a database at START with rows in that table migrates as it did through them. A
    table the squash creates has no rows to fill: no question, no fill."""

    def __init__(self, renames: set[tuple[str | None, str, str]] = frozenset(),
                 fills: dict[tuple[str, str], object] | None = None):
        self.renames, self.fills = renames, fills or {}

    def ask_rename(self, table: str, old: str, new: str, type_name: str) -> bool:
        return (table, old, new) in self.renames

    def ask_rename_table(self, old: str, new: str) -> bool:
        return (None, old, new) in self.renames

    def ask_not_null_addition(self, column: str, table: str):
        """The value the replaced migrations filled the column with, under whatever names they
        later gave it; None (no fill, as they left it) when they filled none."""
        return next((value for (on, name), value in self.fills.items()
                     if (on == table or (None, on, table) in self.renames)
                     and (name == column or {(on, name, column), (table, name, column)} & self.renames)), None)

    ask_not_null_alteration = ask_not_null_addition


def ported(hand_written: list[Migration]) -> str:
    """The upgrade() bodies of migrations with hand-written steps, as comments to carry over."""
    lines = ["# Hand-written steps of the replaced migrations, which this migration does not run.",
             "# Carry over what a new database needs (seed rows, say); what only changed existing",
             "# rows can go.", "#"]
    for migration in hand_written:
        text = Path(migration.path).read_text()
        function = source.defined(ast.parse(text), "upgrade")
        body = "\n".join(text.splitlines()[function.body[0].lineno - 1:function.end_lineno])
        lines += [f"# From {migration.revision}:"] + [f"#   {line}".rstrip() for line in textwrap.dedent(body).splitlines()]
    return "".join(f"    {line}\n" for line in lines) if hand_written else ""


def move_replaced(settings: Settings, squash: Squash, undo: "Undo") -> None:
    """Move the replaced files out of Alembic's sight and point what followed END at the
    squashed migration."""
    folder = replaced_folder(settings)
    if not folder.exists():
        folder.mkdir()
        undo.append(folder.rmdir)
    for migration in squash.replaced:
        source, target = Path(migration.path), folder / Path(migration.path).name
        if target.exists():
            raise CommandError(f"Cannot move {source.name}: {target} exists.")
        shutil.move(source, target)
        undo.append(lambda source=source, target=target: shutil.move(target, source))
    for migration in squash.followers:
        path = Path(migration.path)
        text = path.read_text()
        path.write_text(repointed(text, squash.end, squash.revision))
        undo.append(lambda path=path, text=text: path.write_text(text))


def repointed(source: str, old: str, new: str) -> str:
    """A migration file's source with ``old`` replaced by ``new`` in its ``down_revision`` and
    ``depends_on`` (top-level literal assignments, as ``outside_needs`` checked)."""
    lines = source.splitlines(keepends=True)
    starts = list(itertools.accumulate((len(line) for line in lines), initial=0))
    edits = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if getattr(node, "value", None) is None or not any(isinstance(t, ast.Name) and t.id in ("down_revision", "depends_on")
                                         for t in targets):
            continue
        value = ast.literal_eval(node.value)
        if value == old:
            value = new
        elif isinstance(value, (tuple, list)) and old in value:
            value = type(value)(new if item == old else item for item in value)
        else:
            continue
        edits.append((starts[node.value.lineno - 1] + node.value.col_offset,
                      starts[node.value.end_lineno - 1] + node.value.end_col_offset, repr(value)))
    for begin, finish, text in sorted(edits, reverse=True):
        source = source[:begin] + text + source[finish:]
    # Alembic's template says it in the docstring too: "Revises: 0025_seed_tags".
    return re.sub(rf"^(Revises:.*)\b{re.escape(old)}\b", lambda found: found.group(1) + new, source, count=1,
                  flags=re.MULTILINE)


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


def try_squashed(settings: Settings, squash: Squash, schema) -> None:
    """Run the squashed migration up, down and up on a scratch database at what it needs, then
    check that it built the schema the replaced migrations build."""
    from manage_migrations import database, executor, scratch
    from manage_migrations import migrations as alembic

    def attempt(connection):
        scratch.migrate_to(settings, connection, migrations_of(settings), squash.parents + squash.depends_on)
        executor.try_migration(settings, connection, squash.revision, afterwards="Nothing was changed.")
        return alembic.autogenerate(settings, connection, AsReplaced(), lambda: source.NO_ENUM_TYPES, metadata=schema)

    with scratch.scratch_database(database.database_url(settings), Console(0)) as trial:
        differences = database.run(trial, attempt)
    if differences:
        raise CommandError(f"The squashed migration {squash.revision} does not build what the migrations it replaces "
                           f"build ({'; '.join(differences[0].changes.phrases)}); nothing was changed.")


class Undo(list):
    """What a squash did so far, undone in reverse when it fails: nothing is left half-done."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None:
            for action in reversed(self):
                action()


# migrate


