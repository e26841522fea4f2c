"""``check``: one command for CI that fails on what would fail a deploy."""
from manage_migrations import graph
from manage_migrations.commands.makemigrations import makemigrations
from manage_migrations.conf import Settings
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console

MODEL_CHANGES = ("Your models have changes that are not yet reflected in a migration: "
                 "run 'python manage.py makemigrations'.")


def check(settings: Settings, console: Console, with_database: bool = False) -> None:
    """One command for CI: the migration files agree, every one imports, the models have no
    change without a migration, and (with ``with_database``) the database is at head."""
    from manage_migrations.migrations import AlembicCommandError, explain, import_errors
    from manage_migrations.questioner import Quit

    problems = []
    try:
        migrations = migrations_of(settings)
        heads = graph.single_head(migrations)
    except CommandError as exc:
        problems.append(exc.message)
    else:
        problems += import_errors([m.path for m in migrations])
        try:
            if not problems and makemigrations(settings, Console(0), check=True, interactive=False):
                problems.append(MODEL_CHANGES)
        except Quit:  # a NOT NULL column with no default: a change all the same
            problems.append(MODEL_CHANGES)
        except (CommandError, AlembicCommandError) as exc:  # e.g. a models module that does not import
            problems.append(explain(exc))
        if not problems and with_database:
            from manage_migrations import database, recorder

            state = database.run(database.database_url(settings), recorder.of(settings).current_state)
            missing = graph.plan(migrations, state, heads)
            if missing:
                problems.append(f"The database is not at the latest migration: {len(missing)} to run "
                                f"({', '.join(revision for revision, _ in missing)}).")
    if problems:  # the verdict is what check exists to give: at every verbosity, as Django's
        for problem in problems:
            console.line(problem, level=0)
        raise CommandError(f"System check identified {len(problems)} issue{'s' if len(problems) > 1 else ''}.")
    console.line("System check identified no issues.", level=0)
