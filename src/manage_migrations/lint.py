"""lintmigrations' rules: what in a migration breaks a rolling deploy, on every backend
(django-migration-linter's set, read from the migration's source), and on PostgreSQL what
takes a lock that stops the site (squawk's rules, run over the SQL sqlmigrate renders).

Each finding names the migration, the step and its line, the rule, why, and the safer way (as
strong_migrations words it). The backend-neutral rules carry squawk's names for the same
hazards, so that one comment, ``# lint: ignore[RULE]`` on a step's line (or alone on the line
above it), ignores a rule for that step on every backend.
"""
import ast
import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from manage_migrations import source
from manage_migrations.output import CommandError, Console

# The backend-neutral rules: why each breaks the code still running during a deploy, and the
# safer way.
RULES = {
    "ban-drop-column": ("the running code may still read or write the column",
                        "deploy code that no longer uses it (the model without it) first, and drop the column "
                        "in a later release"),
    "ban-drop-table": ("the running code may still read or write the table",
                       "deploy code that no longer uses it (without its model) first, and drop the table in a "
                       "later release"),
    "renaming-column": ("the running code still uses the old name",
                        "add a column with the new name, write both, backfill, move the reads to it, and drop "
                        "the old one in a later release"),
    "renaming-table": ("the running code still uses the old name",
                       "create the new table, write both, backfill, move the reads to it, and drop the old one "
                       "in a later release"),
    "adding-required-field": ("a NOT NULL column without a server default: the running code's inserts fail",
                              "add it nullable (or with a server_default), and make it NOT NULL in a later release"),
    "adding-not-nullable-field": ("the running code may still write NULL into it, and the check scans the table "
                                  "under an exclusive lock",
                                  "set NOT NULL in a release after every running version writes the column; on "
                                  "PostgreSQL add a CHECK (column IS NOT NULL) with postgresql_not_valid=True, "
                                  "validate it in another migration, then set NOT NULL"),
    "changing-column-type": ("the running code reads and writes the old type, and the table is rewritten "
                             "under an exclusive lock",
                             "add a column of the new type, write both, backfill, move the reads to it, and drop "
                             "the old one in a later release (widening a VARCHAR is safe)"),
}
# squawk's rules on PostgreSQL, worded for Alembic (otherwise squawk's own message and help).
LOCKS = {
    "adding-foreign-key-constraint": ("the foreign key is checked against every row, blocking writes to both "
                                      "tables", "create it with postgresql_not_valid=True, and VALIDATE CONSTRAINT "
                                      "in another migration"),
    "constraint-missing-not-valid": ("the constraint is checked against every row, blocking writes",
                                     "create a CHECK or a foreign key with postgresql_not_valid=True, and VALIDATE "
                                     "CONSTRAINT in another migration (a UNIQUE constraint: see "
                                     "disallowed-unique-constraint)"),
    "require-concurrent-index-creation": ("building the index blocks writes to the table",
                                          "create_index(..., postgresql_concurrently=True) inside "
                                          "op.get_context().autocommit_block()"),
    "require-concurrent-index-deletion": ("dropping the index blocks reads and writes of the table",
                                          "drop_index(..., postgresql_concurrently=True) inside "
                                          "op.get_context().autocommit_block()"),
    "ban-concurrent-index-creation-in-transaction": ("CONCURRENTLY cannot run in a transaction",
                                                     "run it inside op.get_context().autocommit_block()"),
    "prefer-robust-stmts": ("the migration commits part-way (an autocommit_block), so run again after a failure "
                            "it meets what its first run did", "pass if_not_exists=True (or if_exists=True) to the "
                            "operation, or give the autocommit_block a migration of its own"),
    "disallowed-unique-constraint": ("building the unique index blocks reads and writes of the table",
                                     "create a unique index with postgresql_concurrently=True first, then add the "
                                     "constraint USING INDEX"),
}
# squawk's rules left out: the timeouts, which migrate sets for every migration (lock_timeout,
# retried; see executor.recorded), and those judging the models' column types rather than how a
# migration runs (they fire on nearly every String(n) and Integer column SQLAlchemy writes).
LEFT_OUT = {"require-lock-timeout", "require-statement-timeout", "require-timeout-settings",
            "prefer-text-field", "prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-identity",
            "prefer-timestamp-tz", "ban-char-field"}
IGNORE = re.compile(r"#\s*lint:\s*ignore\[([^\]]*)\]")
STRINGS = {"String", "VARCHAR", "Unicode", "NVARCHAR", "Text", "TEXT", "UnicodeText"}
# What kind of operation a statement of the rendered SQL comes from, to tell the steps of one
# batch block apart.
KINDS = [(re.compile(pattern, re.I), name) for pattern, name in [
    (r"\bCREATE\s+(UNIQUE\s+)?INDEX", "create_index"), (r"\bDROP\s+INDEX", "drop_index"),
    (r"\bADD\s+COLUMN", "add_column"), (r"\bDROP\s+COLUMN", "drop_column"), (r"\bRENAME\s+COLUMN", "rename_column"),
    (r"\bRENAME\s+TO", "rename_table"), (r"\bFOREIGN\s+KEY", "create_foreign_key"),
    (r"\bCHECK\b", "create_check_constraint"), (r"\bUNIQUE\b", "create_unique_constraint"),
    (r"\bPRIMARY\s+KEY", "create_primary_key"), (r"\bDROP\s+CONSTRAINT", "drop_constraint"),
    (r"\bALTER\s+COLUMN", "alter_column"), (r"\bCREATE\s+TABLE", "create_table"), (r"\bDROP\s+TABLE", "drop_table")]]


class Finding(NamedTuple):
    migration: str
    app: str
    file: str
    line: int
    step: str  # "Remove column phone from users", as migrate --plan words it
    rule: str
    message: str
    safer: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.step} (line {self.line}): {self.rule}: {self.message}. Safer: {self.safer}."


def lint(migration, app: str, file: str, postgresql: bool = False, settings=None) -> list[Finding]:
    """The findings of one migration's ``upgrade()`` (a ``graph.Migration`` of ``app``), ``file``
    being its path as shown; with ``postgresql``, squawk's too, over the SQL rendered with ``settings``.
    Those its comments ignore are left out. A compiled file alone (sourceless) has nothing to read."""
    if not str(migration.path).endswith(".py"):
        return []
    steps = source.steps(migration.path)
    phrases = [phrase for phrase, _ in source.operations(migration.path)]
    found = [(step.line, rule, *RULES[rule]) for step in steps for rule in incompatible(migration.path, step)]
    if postgresql:  # squawk's findings of our rules stand on SQL written by hand (op.execute) only
        judged = {step.line for step in steps if step.name != "execute"}
        found += [hit for hit in lock_hazards(settings, migration, steps)
                  if hit[1] not in RULES or hit[0] not in judged]
    ignored = ignores(migration.path)
    phrase_at = {step.line: phrase for step, phrase in zip(steps, phrases)}
    return sorted((Finding(migration.revision, app, file, line, phrase_at.get(line, "upgrade()"),
                           rule, message, safer)
                   for line, rule, message, safer in found if rule not in ignored.get(line, ())),
                  key=lambda finding: finding.line)


def marked(path: str, forward: bool = True) -> list[tuple[str, bool, list[str]]]:
    """``source.operations``, each with the backend-neutral rules its step breaks going forward,
    ignores left out: what migrate --plan marks."""
    ignored, operations = ignores(path), source.operations(path, forward)
    rules = [[rule for rule in incompatible(path, step) if rule not in ignored.get(step.line, ())]
             for step in source.steps(path)] if forward else [[] for _ in operations]
    return [(phrase, destroys, broken) for (phrase, destroys), broken in zip(operations, rules)]


def incompatible(path: str, step: source.Step) -> list[str]:
    """The backend-neutral rules one step breaks (django-migration-linter's set)."""
    named = {"drop_column": "ban-drop-column", "drop_table": "ban-drop-table", "rename_column": "renaming-column",
             "rename_table": "renaming-table"}
    if step.name in named:
        return [named[step.name]]
    if step.name not in ("add_column", "alter_column"):
        return []
    call = _call_at(path, step)
    keywords = {kw.arg: kw.value for kw in call.keywords} if call else {}
    if step.name == "add_column":
        column = next((arg for arg in call.args if source._called(arg) == "Column"), None) if call else None
        options = {kw.arg: kw.value for kw in column.keywords} if column else {}
        required = _is(options.get("nullable"), False) or _is(options.get("primary_key"), True) \
            and "nullable" not in options
        return ["adding-required-field"] if required and "server_default" not in options else []
    rules = []
    if _is(keywords.get("nullable"), False) and not _is(keywords.get("existing_nullable"), False):
        rules.append("adding-not-nullable-field")
    if "type_" in keywords and not widened(keywords.get("existing_type"), keywords["type_"]):
        rules.append("changing-column-type")
    return rules


def widened(before: ast.expr | None, after: ast.expr) -> bool:
    """Whether a string column only gets longer (``VARCHAR(20)`` to ``String(50)`` or ``Text``),
    which neither breaks the running code nor rewrites the table."""
    def string(node):
        """``(length,)`` of a string type (``(None,)``: unbounded), None for another type or an unknown length."""
        if source._called(node) not in STRINGS:
            return None
        length = next((kw.value for kw in node.keywords if kw.arg == "length"), node.args[0] if node.args else None)
        return (source._constant(length),) if length is None or isinstance(source._constant(length), int) else None

    old, new = string(before), string(after)
    return old is not None and new is not None and old[0] is not None and (new[0] is None or new[0] >= old[0])


def ignores(path: str) -> dict[int, set[str]]:
    """The rules ignored at each line: ``# lint: ignore[RULE, ...]`` on the line, or on a line
    of its own just above it."""
    lines, found = Path(path).read_text().splitlines(), {}
    for number, text in enumerate(lines, 1):
        for match in IGNORE.finditer(text):
            rules = {rule.strip() for rule in match.group(1).split(",")}
            found.setdefault(number, set()).update(rules)
            if text.lstrip().startswith("#"):
                found.setdefault(number + 1, set()).update(rules)
    return found


@functools.lru_cache(maxsize=8)
def parsed(path: str) -> ast.Module:
    """A migration file's syntax tree, parsed once per run however many of its steps ask."""
    return ast.parse(Path(path).read_bytes())


def _call_at(path: str, step: source.Step) -> ast.Call | None:
    method = "alter_column" if step.name == "rename_column" else step.name
    tree = parsed(path)
    return next((node for node in ast.walk(tree) if isinstance(node, ast.Call) and node.lineno == step.line
                 and getattr(node.func, "attr", None) == method), None)


def _is(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


# PostgreSQL: squawk over the rendered SQL

def squawk_binary() -> str:
    """squawk-cli's binary: beside this Python (the same virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / ("squawk.exe" if os.name == "nt" else "squawk")
    found = str(beside) if beside.exists() else shutil.which("squawk")
    if found is None:
        raise CommandError("squawk is not installed, and lintmigrations runs it on PostgreSQL: "
                           "python -m pip install squawk-cli")
    return found


def lock_hazards(settings, migration, steps: list[source.Step]) -> list[tuple[int, str, str, str]]:
    """squawk's findings over the migration's SQL, as sqlmigrate renders it, each at the line of
    the step that wrote its statement; those of ``LEFT_OUT`` and of Alembic's own statements
    (the version table) left out."""
    sql, origins = rendered(settings, migration)
    run = subprocess.run([squawk_binary(), "--reporter", "json", "--stdin-filepath", f"{migration.revision}.sql"],
                         input=sql, capture_output=True, text=True)
    try:
        reported = json.loads(run.stdout)
    except ValueError:
        raise CommandError(f"squawk failed on the SQL of {migration.revision}: "
                           f"{(run.stderr.strip() or run.stdout.strip()).splitlines()[0]}") from None
    lines, found = sql.splitlines(), []
    for hit in reported:
        origin = origins.get(hit["line"])
        if hit["rule_name"] in LEFT_OUT or origin is None:
            continue
        statement = statement_at(lines, hit["line"], hit.get("line_end", hit["line"]))
        why, safer = {**LOCKS, **RULES}.get(hit["rule_name"], (hit["message"].rstrip("."), (
            hit.get("help") or f"see squawk's documentation of {hit['rule_name']}").rstrip(".")))
        found.append((step_line(migration.path, steps, origin, statement), hit["rule_name"], why, safer))
    return found


def rendered(settings, migration) -> tuple[str, dict[int, int | None]]:
    """The migration's upgrade SQL as sqlmigrate prints it on PostgreSQL (Alembic's offline
    mode, which opens no database), and for each of its lines the line of the migration file
    that was running when it was written (None for Alembic's own statements)."""
    from manage_migrations.executor import run_steps

    written = Written(migration.path)
    with contextlib.redirect_stdout(written):  # Alembic's offline mode writes to sys.stdout
        run_steps(settings, None, [(migration.revision, True)], Console(0), sql=True)
    return written.getvalue(), written.origins


class Written(io.StringIO):
    """Alembic's SQL output, which notes for each line the line of the migration file running."""

    def __init__(self, path: str):
        super().__init__()
        self.path, self.origins, self.lines = os.path.realpath(path), {}, 0

    def write(self, text: str) -> int:
        frame, origin = sys._getframe(1), None
        while frame is not None and origin is None:
            if os.path.realpath(frame.f_code.co_filename) == self.path:
                origin = frame.f_lineno
            frame = frame.f_back
        for number, part in enumerate(text.split("\n"), self.lines):
            if part.strip():  # a line belongs to what wrote its first words
                self.origins.setdefault(number, origin)
        self.lines += text.count("\n")
        return super().write(text)


def statement_at(lines: list[str], first: int, last: int) -> str:
    """The statement around lines ``first`` to ``last`` of the SQL (statements end with ``;``)."""
    start = first
    while start > 0 and not lines[start - 1].rstrip().endswith(";") and lines[start - 1].strip():
        start -= 1
    return "\n".join(lines[start:last + 1])


def step_line(path: str, steps: list[source.Step], origin: int, statement: str) -> int:
    """The line of the step that wrote a statement: the step at the line that was running, or
    in a batch block (whose statements are written at its end) the block's step that the
    statement is about; else the line that was running."""
    candidates = [step for step in steps if step.line == origin]
    if not candidates:
        blocks = [node for node in ast.walk(parsed(path)) if isinstance(node, ast.With)
                  and node.lineno <= origin <= node.end_lineno]
        candidates = [step for step in steps for block in blocks[-1:] if block.lineno <= step.line <= block.end_lineno]
    kinds = {name for pattern, name in KINDS if pattern.search(statement)}
    words = set(re.findall(r"\w+", statement.lower()))

    def score(step):
        return (4 * (step.name in kinds) + 2 * (str(step.subject).lower() in words)
                + (str(step.on).lower() in words))

    return max(candidates, key=score).line if candidates else origin
