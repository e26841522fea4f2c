"""The ``manage.py`` command line: Django's migration commands as a Click group.

Each command only parses its options and calls one function of ``project.commands`` (or
``project.database``). Everything but Click is imported inside the functions that use it, so
that ``--help`` costs Python's start-up and Click alone.
"""
import re
from pathlib import Path

import click


def remember(ctx: click.Context, param: click.Parameter, value):
    """Keep ``-v``/``--traceback`` wherever they were typed: before or after the command name."""
    if value is not None and value is not False:
        ctx.meta[param.name] = value


def common_options(function):
    function = click.option(
        "--traceback", is_flag=True, expose_value=False, callback=remember,
        help="Raise on CommandError exceptions: show the full traceback.",
    )(function)
    return click.option(
        "-v", "--verbosity", type=click.IntRange(0, 3), expose_value=False, callback=remember,
        help="Verbosity level; 0=minimal output, 1=normal output, 2=verbose output, 3=very verbose output.",
    )(function)


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of migration names, from the files (nothing is imported)."""
    from project.commands import migrations_of
    from project.output import CommandError

    try:
        names = [m.revision for m in migrations_of(settings(ctx))]
    except CommandError:
        return []  # completion must never print an error into the user's shell
    return [name for name in names + ["zero", "head"] if name.startswith(incomplete)]


app_label_argument = click.argument("app_label", required=False, shell_complete=complete_target)
target_argument = click.argument("target", required=False, shell_complete=complete_target)


def name_after_app_label(name: str):
    """The second of ``[APP_LABEL] NAME``, which the first argument's metavar already shows."""
    return click.argument(name, required=False, shell_complete=complete_target, metavar="")


def app_and_target(app_label: str | None, target: str | None) -> dict:
    """Django's ``APP_LABEL MIGRATION_NAME``, or one word: an app label or a target."""
    return {"app": app_label, "target": target} if target is not None else {"app": None, "target": app_label}
noinput_option = click.option("--noinput", "--no-input", "interactive", flag_value=False, default=True,
                              help="Tells Django-style commands to NOT prompt the user for input of any kind.")
lock_timeout_option = click.option(
    "--lock-timeout", type=click.FloatRange(min=0), default=300, show_default=True, metavar="SECONDS",
    help="How long to wait for another migrate holding the deploy lock.",
)
table_lock_timeout_option = click.option(
    "--table-lock-timeout", type=click.FloatRange(min=0, min_open=True, max=86400), metavar="SECONDS",
    help="How long one migration waits for a table lock another session holds before it is rolled back "
         "and tried again [default: MIGRATE_TABLE_LOCK_TIMEOUT, else 10].",
)


class ManageGroup(click.Group):
    """One error path for every command, as Django's ``BaseCommand.run_from_argv``."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            if ctx.meta.get("traceback"):
                import traceback

                traceback.print_exc()
            raise
        except KeyboardInterrupt as exc:
            import signal

            if ctx.meta.get("traceback"):
                raise
            click.echo(getattr(exc, "message", "Interrupted."), err=True)
            raise click.exceptions.Exit(128 + getattr(exc, "signum", signal.SIGINT)) from None
        except Exception as exc:
            if ctx.meta.get("traceback") or type(exc).__module__.split(".")[0] not in ("sqlalchemy", "alembic"):
                raise
            from project.migrations import explain
            from project.output import CommandError

            raise CommandError(explain(exc)) from exc


class TargetCommand(click.Command):
    """A command whose target may be a relative move back, ``-1``, which Click would otherwise
    read as an option: such a word is passed after ``--``, as Alembic's argparse allows."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        moves = [arg for arg in args if re.fullmatch(r"-\d+", arg)]
        if moves and "--" not in args:
            args = [arg for arg in args if arg not in moves] + ["--", *moves]
        return super().parse_args(ctx, args)


def console():
    from project.output import Console

    return Console(click.get_current_context().meta.get("verbosity", 1))


def with_table_lock_timeout(seconds: float | None):
    """The settings, with ``--table-lock-timeout`` over the environment's when given."""
    import dataclasses

    return settings() if seconds is None else dataclasses.replace(settings(), table_lock_timeout=seconds)


def settings(ctx: click.Context | None = None):
    """The project's settings, read when a command first needs them (so ``--help`` does not).
    Tests and scripts may hand in their own as ``obj``."""
    root = (ctx or click.get_current_context()).find_root()
    if root.obj is None:
        from project.settings import load_settings

        root.obj = load_settings(root.meta.get("env_file"))
    return root.obj


@click.group(cls=ManageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env-file", type=click.Path(path_type=Path),
              help="Read settings from this file instead of .env beside manage.py.")
@common_options
@click.pass_context
def cli(ctx: click.Context, env_file: Path | None):
    """Django-style database migrations for this project, run by Alembic."""
    ctx.meta["env_file"] = env_file


@cli.command()
@click.argument("app_label", required=False)
@click.option("-n", "--name", help="Use this name for migration file(s).")
@click.option("--empty", is_flag=True, help="Create an empty migration.")
@click.option("--dry-run", is_flag=True, help="Just show what migrations would be made; don't actually write them.")
@click.option("--check", is_flag=True, help="Exit with a non-zero status if model changes are missing migrations and don't actually write them.")
@click.option("--merge", is_flag=True, help="Enable fixing of migration conflicts.")
@noinput_option
@common_options
def makemigrations(app_label, name, empty, dry_run, check, merge, interactive):
    """Creates a new migration from the changes to the models, continuing APP_LABEL (a branch
    label; by default the one app, or `migrations`)."""
    from project import commands

    if merge:
        commands.merge(settings(), console(), name=name, interactive=interactive)
    elif commands.makemigrations(settings(), console(), name=name, empty=empty, dry_run=dry_run, check=check,
                                 interactive=interactive, app=app_label) and check:
        raise SystemExit(1)


@cli.command(cls=TargetCommand)
@app_label_argument
@target_argument
@click.option("--fake", is_flag=True, help="Mark migrations as run without actually running them.")
@click.option("--fake-initial", is_flag=True, help="Detect if tables already exist and fake-apply initial migrations if so. Make sure that the current database schema matches your initial migration before using this flag. Only the tables and columns it creates are checked.")
@click.option("--plan", is_flag=True, help="Shows a list of the migration actions that will be performed.")
@click.option("--check", "check_unapplied", is_flag=True, help="Exits with a non-zero status if unapplied migrations exist and does not actually apply migrations.")
@click.option("--prune", is_flag=True, help="Delete nonexistent migrations from the manage_migrations table.")
@noinput_option
@lock_timeout_option
@table_lock_timeout_option
@common_options
def migrate(app_label, target, fake, fake_initial, plan, check_unapplied, prune, interactive, lock_timeout,
            table_lock_timeout):
    """Updates the database schema to TARGET: all migrations when omitted, `zero` for none.

    As in Django, APP_LABEL alone migrates one app (a branch label; `migrations` for the
    migrations without one), and APP_LABEL TARGET brings it to TARGET. TARGET is a migration
    name or a unique prefix of it (0002), or one of Alembic's: heads, head, base, a relative
    move (+1, -1, 0003-1, base+3), label@head, label@base, label@0002, label@-1, 0002@head.
    """
    from project import commands

    if prune:
        return commands.prune(settings(), console())
    pending = commands.migrate(with_table_lock_timeout(table_lock_timeout), console(), fake=fake,
                               fake_initial=fake_initial, lock_timeout=lock_timeout, plan=plan, check=check_unapplied,
                               **app_and_target(app_label, target))
    if check_unapplied and pending:
        raise SystemExit(1)


@cli.command()
@click.argument("app_labels", nargs=-1)
@click.option("--plan", "-p", "plan", is_flag=True, help="Shows all migrations in the order they will be applied, with their dependencies.")
@common_options
def showmigrations(app_labels, plan):
    """Shows the migrations of each app (of APP_LABELS, when given) and whether they are applied
    ([X]) or not ([ ]); -v 2 adds when."""
    from project import commands

    commands.showmigrations(settings(), console(), plan=plan, apps=app_labels)


@cli.command(cls=TargetCommand)
@click.argument("app_label", shell_complete=complete_target, metavar="[APP_LABEL] TARGET")
@name_after_app_label("target")
@lock_timeout_option
@common_options
def fake(app_label, target, lock_timeout):
    """Marks the database as being at TARGET without running any migration (Alembic's stamp)."""
    from project import commands

    commands.migrate(settings(), console(), fake=True, lock_timeout=lock_timeout, **app_and_target(app_label, target))


@cli.command()
@click.argument("app_label", shell_complete=complete_target, metavar="[APP_LABEL] MIGRATION_NAME")
@name_after_app_label("migration_name")
@click.option("--backwards", is_flag=True, help="Creates SQL to unapply the migration, rather than to apply it.")
@common_options
def sqlmigrate(app_label, migration_name, backwards):
    """Prints the SQL statements for the named migration, for the configured database."""
    from project import commands

    names = app_and_target(app_label, migration_name)
    commands.sqlmigrate(settings(), console(), names["target"], backwards=backwards, app=names["app"])


@cli.command()
@common_options
def dbshell():
    """Runs the command-line client for the configured database (psql, sqlite3, mysql)."""
    from project import database

    raise SystemExit(database.dbshell(database.database_url(settings())))


@cli.command()
@click.option("--database", "with_database", is_flag=True, help="Also fail when the database is not at the latest migration.")
@common_options
def check(with_database):
    """Checks the migration files and models for problems, for CI: exits 1 when there are any."""
    from project import commands

    commands.check(settings(), console(), with_database=with_database)


def main():
    """``manage.py``: SIGINT and SIGTERM both stop a command the way Ctrl-C does (exit 130, 143)."""
    from project import signals

    signals.install()
    cli(prog_name=None)
