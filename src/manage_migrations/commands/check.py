"""``check``: one command for CI that fails on what would fail a deploy."""
from pathlib import Path
from typing import NamedTuple

from manage_migrations import graph
from manage_migrations.commands.makemigrations import makemigrations
from manage_migrations.conf import Settings
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console, display_path

MODEL_CHANGES = ("Your models have changes that are not yet reflected in a migration: "
                 "run 'python manage.py makemigrations'.")


class Problem(NamedTuple):
    """A problem's line, with its kind (``check --format json``), the file (and line) it names,
    if any, and the lines printed under it (a drift's operations and what to do)."""
    message: str
    kind: str
    file: str | None = None
    line: int | None = None
    details: tuple[str, ...] = ()


def check(settings: Settings, console: Console, with_database: bool = False, output_format: str = "text") -> None:
    """One command for CI: the migration files agree, every one imports, the models have no
    change without a migration, and (with ``with_database``) the database is at head and has
    not drifted from what its applied migrations build."""
    from manage_migrations.questioner import Quit

    problems, drifted = [], []
    try:
        migrations = migrations_of(settings)
        heads = graph.single_head(migrations)
    except CommandError as exc:
        problems.append(Problem(exc.message, "migrations"))
    else:
        problems += import_problems(settings, migrations)
        files_load = not problems
        try:
            if not problems and makemigrations(settings, Console(0), check=True, interactive=False):
                problems.append(Problem(MODEL_CHANGES, "models"))
        except Quit:  # a NOT NULL column with no default: a change all the same
            problems.append(Problem(MODEL_CHANGES, "models"))
        except Exception as exc:  # e.g. a models module that does not import; Alembic's errors
            # are named only here, as importing Alembic is what a remembered clean check spares
            from manage_migrations.migrations import AlembicCommandError, explain

            if not isinstance(exc, (CommandError, AlembicCommandError)):
                raise
            problems.append(Problem(explain(exc), "models"))
        if files_load and with_database:
            from manage_migrations import database, drift, recorder

            records = recorder.of(settings)
            try:
                state, rows = database.run(database.database_url(settings), lambda connection: (
                    records.current_state(connection), records.history_rows(connection)))
                missing = graph.plan(migrations, state, heads)
                if missing:
                    problems.append(Problem(f"The database is not at the latest migration: {len(missing)} to run "
                                            f"({', '.join(revision for revision, _ in missing)}).", "unapplied"))
                problems += changed_since_applied(migrations, state, rows)
                drifted = drift.differences(settings, migrations, state)
                if drifted:
                    problems.append(Problem(drift.summary(state, drifted), "drift", details=drift.details(drifted)))
            except CommandError as exc:  # one it cannot connect to, or cannot build a scratch database for
                problems.append(Problem(exc.message, "database"))
    verdict(console, problems, drifted, output_format)


def import_problems(settings: Settings, migrations: list[graph.Migration]) -> list[Problem]:
    """Each migration file that does not import, as Alembic imports it. That all do is
    remembered (``clean_checks``): the next check with the same files, and the same modules
    they load, imports none of them."""
    from manage_migrations import clean_checks

    paths = [m.path for m in migrations]
    imports_key = clean_checks.key(settings, "imports", *paths)
    if clean_checks.known(settings, imports_key):
        return []
    from manage_migrations.migrations import import_errors

    problems = [Problem(error, "migration_file", display_path(Path(m.path)))
                for m in migrations for error in import_errors([m.path])]
    if not problems:
        clean_checks.remember(settings, imports_key, paths)
    return problems


def verdict(console: Console, problems: list[Problem], drifted: list, output_format: str) -> None:
    """What check exists to give, at every verbosity, as Django's: each problem (the drift's
    operations after its line), or the JSON document; and under GitHub Actions each problem also
    as an annotation (with the lines under it), on stderr beside the JSON so that stdout stays
    one document."""
    from manage_migrations import machine

    for problem in problems:  # under GitHub Actions only
        message = " ".join([problem.message, *(line.strip() for line in problem.details)])
        machine.annotation("error", machine.repository_path(problem.file), problem.line, message,
                           err=output_format == "json")
    if output_format == "json":
        machine.dump("check", {"ok": not problems, "problems": [
            {"kind": problem.kind, "message": problem.message, **({"file": problem.file} if problem.file else {})}
            for problem in problems], "drift": [found._asdict() for found in drifted]})
    else:
        for problem in problems:
            console.line(problem.message, level=0)
            for line in problem.details:
                console.line(line, level=0)
    if problems:
        raise CommandError(f"System check identified {len(problems)} issue{'s' if len(problems) > 1 else ''}.")
    if output_format != "json":
        console.line("System check identified no issues.", level=0)


def changed_since_applied(migrations: list[graph.Migration], state: tuple[str, ...], rows: dict) -> list[Problem]:
    """The applied migrations whose file was edited after it ran (their checksums, in the
    history ``rows``): the database ran another text than the repository's. Each names its
    file, and is annotated on line 1."""
    from manage_migrations import recorder, tables

    paths = {m.revision: display_path(Path(m.path)) for m in migrations}
    return [Problem(recorder.changed_message(revision, paths[revision], row.at), "changed_since_applied",
                    paths[revision], line=1)
            for revision, row in tables.changed_since_applied(migrations, graph.applied(state, migrations),
                                                              rows).items()]
