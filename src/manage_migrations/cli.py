"""The command line of ``manage.py`` and ``manage-migrations``: Django's management commands as
a Click group.

Each command only parses its options and calls one function of its module in
``manage_migrations.commands``. Everything but Click is imported inside the functions that use
it, so that ``--help`` costs Python's start-up and Click alone; the project's settings are read
when a command first needs them.
"""
import os
import re
import sys
from pathlib import Path

import click

from manage_migrations.management import addon_commands, project_commands, settings


def remember(ctx: click.Context, param: click.Parameter, value):
    """Keep ``-v``/``--traceback`` wherever they were typed: before or after the command name."""
    if value is not None and value is not False:
        ctx.meta[param.name] = value


def remember_color(ctx: click.Context, param: click.Parameter, value: bool):
    """``--force-color`` and ``--no-color`` set Click's own colour switch, which click.echo reads."""
    if value:
        ctx.color = param.name == "force_color"


def only_default(ctx: click.Context, param: click.Parameter, value: str | None):
    """Django's ``--database ALIAS``: the project has one database, ``default``."""
    for alias in [value] if isinstance(value, str) else value or ():
        if alias != "default":
            from manage_migrations.output import CommandError

            raise CommandError(f"The connection '{alias}' doesn't exist: the only database is 'default'.")
    return value


def common_options(function):
    """The options every Django command takes, before or after the command's name."""
    for option in (
        click.option("--skip-checks", is_flag=True, expose_value=False,
                     help="Skip system checks (accepted as Django's; the commands run none)."),
        click.option("--force-color", is_flag=True, expose_value=False, callback=remember_color,
                     help="Force colorization of the command output."),
        click.option("--no-color", is_flag=True, expose_value=False, callback=remember_color,
                     help="Don't colorize the command output."),
        click.option("--traceback", is_flag=True, expose_value=False, callback=remember,
                     help="Raise on CommandError exceptions: show the full traceback."),
        click.option("-v", "--verbosity", type=click.IntRange(0, 3), expose_value=False, callback=remember,
                     help="Verbosity level; 0=minimal output, 1=normal output, 2=verbose output, 3=very verbose output."),
    ):
        function = option(function)
    return function


database_option = click.option(
    "--database", default="default", show_default=True, expose_value=False, callback=only_default,
    help="Nominates a database to work on; the project has one, 'default'.")


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of migration names, from the files (nothing is imported)."""
    from manage_migrations.loader import migrations_of
    from manage_migrations.output import CommandError

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


def split_app_label(app_label: str | None, target: str | None) -> dict:
    """Django's ``APP_LABEL MIGRATION_NAME``, or one word: an app label or a target."""
    return {"app": app_label, "target": target} if target is not None else {"app": None, "target": app_label}


# Output for machines (manage_migrations.machine): the shapes are in the README's "CI and deploys".
format_option = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="json: one JSON document on stdout, of the shape the README "
                                                     "documents (format 1), for scripts and CI.")
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
    """One error path for every command, as Django's ``BaseCommand.run_from_argv``; the
    project's own commands and installed add-ons' beside the built-in ones (see
    ``manage_migrations.management``), each taking the options every command takes."""

    def found(self, ctx: click.Context, addons: bool = True) -> dict:
        """The project's commands, and (with ``addons``) installed distributions', read once a run."""
        meta = ctx.find_root().meta
        if "project_commands" not in meta:
            meta["project_commands"] = project_commands(ctx.find_root().params.get("settings_module"))
        if addons and "addon_commands" not in meta:
            meta["addon_commands"] = addon_commands()
        return {**meta.get("addon_commands", {}), **meta["project_commands"]} if addons else meta["project_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.found(ctx)))

    def get_command(self, ctx: click.Context, name: str):
        own = super().get_command(ctx, name)
        found = self.found(ctx, addons=own is None).get(name)  # an add-on does not replace a built-in command
        if found is None:
            return own
        command = found.load()
        if own is not None and not getattr(command, "replaces", False):
            from manage_migrations.output import CommandError

            raise CommandError(f"{found.origin} has a command '{name}', which is one of manage.py's own: rename "
                               "it, or set REPLACES = True in its module to replace manage.py's.")
        if not getattr(command, "takes_common_options", False):
            common_options(command)
            command.takes_common_options = True
        return command

    def format_commands(self, ctx: click.Context, formatter) -> None:
        """Django's ``help``: the built-in commands, then each app's and add-on's under its name."""
        found, own = self.found(ctx), self.found(ctx, addons=False)
        sections = {"Commands": [name for name in super().list_commands(ctx) if name not in own]}
        for name, where in sorted(found.items()):
            if name in own or name not in sections["Commands"]:  # an add-on's of a built-in name is not used
                sections.setdefault(f"Commands of {where.origin}", []).append(name)
        limit = formatter.width - 6 - max(map(len, self.list_commands(ctx)))  # as Click's own listing
        for title, names in sections.items():
            commands = [(name, self.get_command(ctx, name)) for name in sorted(names)]
            rows = [(name, command.get_short_help_str(limit))
                    for name, command in commands if command is not None and not command.hidden]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

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
            from manage_migrations.migrations import explain
            from manage_migrations.output import CommandError

            raise CommandError(explain(exc)) from exc


class TargetCommand(click.Command):
    """A command whose target may be a relative move back, ``-1``, which Click would otherwise
    read as an option: such a word is passed after ``--``, as Alembic's argparse allows."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        moves = [arg for arg in args if re.fullmatch(r"-\d+", arg)]
        if moves and "--" not in args:
            args = [arg for arg in args if arg not in moves] + ["--", *moves]
        return super().parse_args(ctx, args)


def console(scriptable: bool = False):
    from manage_migrations.output import Console

    meta = click.get_current_context().meta
    return Console(meta.get("verbosity", 1), scriptable)


def with_table_lock_timeout(seconds: float | None):
    """The settings, with ``--table-lock-timeout`` over the environment's when given."""
    import dataclasses

    return settings() if seconds is None else dataclasses.replace(settings(), table_lock_timeout=seconds)


def add_pythonpath(ctx: click.Context, param: click.Parameter, value: str | None):
    """Django's ``--pythonpath``: a folder to import the settings and the app from."""
    if value:
        sys.path.insert(0, os.path.abspath(value))
    return value


@click.group(cls=ManageGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--settings", "settings_module", metavar="MODULE",
              help="The project's settings module, as 'mysite.settings' (else MANAGE_MIGRATIONS_SETTINGS, "
                   "which manage.py sets).")
@click.option("--pythonpath", metavar="FOLDER", callback=add_pythonpath, expose_value=False,
              help="A folder to add to the Python path, as 'src'.")
@click.option("-c", "--config", type=click.Path(path_type=Path),
              help="The Alembic config to use, as alembic --config: an alembic.ini or a pyproject.toml "
                   "[default: ALEMBIC_CONFIG of the settings].")
@click.option("-x", "x_arguments", multiple=True, metavar="KEY=VALUE",
              help="Additional arguments for env.py, as alembic -x (context.get_x_argument()).")
@click.option("--env-file", type=click.Path(path_type=Path),
              help="Read settings from this file instead of .env beside manage.py.")
@click.version_option(package_name="manage-migrations", message="%(version)s",
                      help="Show the version and exit.")
@common_options
@click.pass_context
def cli(ctx: click.Context, settings_module: str | None, config: Path | None, x_arguments: tuple[str, ...],
        env_file: Path | None):
    """Django-style database migrations for this project, run by Alembic."""
    if ctx.invoked_subcommand is None:  # as Django's manage.py: the help, and exit 0
        click.echo(ctx.get_help())


@cli.command(name="help")
@click.argument("command_name", required=False)
@click.pass_context
def help_command(ctx: click.Context, command_name: str | None):
    """Shows the help of manage.py, or of one command (as COMMAND --help)."""
    group = ctx.find_root()
    if command_name is None:
        return click.echo(group.get_help())
    command = group.command.get_command(group, command_name)
    if command is None:
        from manage_migrations.output import CommandError

        raise CommandError(f"Unknown command: '{command_name}'. Type 'manage.py help' for usage.")
    with click.Context(command, info_name=command_name, parent=group) as sub:
        click.echo(command.get_help(sub))


@cli.command()
@click.argument("app_label", required=False)
@click.option("-n", "--name", help="Use this name for migration file(s).")
@click.option("--empty", is_flag=True, help="Create an empty migration.")
@click.option("--dry-run", is_flag=True, help="Just show what migrations would be made; don't actually write them.")
@click.option("--check", is_flag=True, help="Exit with a non-zero status if model changes are missing migrations and don't actually write them.")
@click.option("--merge", is_flag=True, help="Enable fixing of migration conflicts.")
@click.option("--update", is_flag=True, help="Merge model changes into the latest migration (when it is applied "
                                             "nowhere this project knows).")
@click.option("--scriptable", is_flag=True, help="Divert log output and input prompts to stderr, writing only "
                                                 "paths of generated migration files to stdout.")
@noinput_option
@common_options
def makemigrations(app_label, name, empty, dry_run, check, merge, update, scriptable, interactive):
    """Creates a new migration from the changes to the models, continuing APP_LABEL (a branch
    label; by default the project's own app)."""
    from manage_migrations.commands import makemigrations as command

    out = console(scriptable)
    if merge:
        command.merge(settings(), out, name=name, interactive=interactive)
    elif command.makemigrations(settings(), out, name=name, empty=empty, dry_run=dry_run, check=check,
                                 interactive=interactive, app=app_label, update=update) and check:
        raise SystemExit(1)


@cli.command(cls=TargetCommand)
@app_label_argument
@target_argument
@click.option("--fake", is_flag=True, help="Mark migrations as run without actually running them.")
@click.option("--fake-initial", is_flag=True, help="Detect if tables already exist and fake-apply initial migrations if so. Make sure that the current database schema matches your initial migration before using this flag. Only the tables and columns it creates are checked.")
@click.option("--plan", is_flag=True, help="Shows a list of the migration actions that will be performed.")
@click.option("--check", "check_unapplied", is_flag=True, help="Exits with a non-zero status if unapplied migrations exist and does not actually apply migrations.")
@click.option("--prune", is_flag=True, help="Delete nonexistent migrations from the manage_migrations table.")
@format_option
@noinput_option
@lock_timeout_option
@table_lock_timeout_option
@database_option
@common_options
def migrate(app_label, target, fake, fake_initial, plan, check_unapplied, prune, output_format, interactive,
            lock_timeout, table_lock_timeout):
    """Updates the database schema to TARGET: all migrations when omitted, `zero` for none.

    As in Django, APP_LABEL alone migrates one app (a branch label, or the project's app label
    for the migrations without one), and APP_LABEL TARGET brings it to TARGET. TARGET is a migration
    name or a unique prefix of it (0002), or one of Alembic's: heads, head, base, a relative
    move (+1, -1, 0003-1, base+3), label@head, label@base, label@0002, label@-1, 0002@head.
    """
    from manage_migrations.commands import migrate as command

    if output_format == "json" and not plan:
        raise click.UsageError("--format json is for --plan: a migration run says what it did in words.")
    if prune:
        return command.prune(settings(), console())
    pending = command.migrate(with_table_lock_timeout(table_lock_timeout), console(), fake=fake,
                               fake_initial=fake_initial, lock_timeout=lock_timeout, plan=plan, check=check_unapplied,
                               output_format=output_format, **split_app_label(app_label, target))
    if check_unapplied and pending:
        raise SystemExit(1)
    if not (pending or plan or check_unapplied or fake) and sys.stdout.isatty():  # a developer, not a deploy
        from manage_migrations.commands.makemigrations import notice_model_changes

        notice_model_changes(settings(), console())


@cli.command()
@click.argument("names", nargs=-1, required=True, shell_complete=complete_target,
                metavar="[APP_LABEL] [START_MIGRATION_NAME] MIGRATION_NAME")
@click.option("--squashed-name", help="Sets the name of the new squashed migration.")
@noinput_option
@common_options
def squashmigrations(names, squashed_name, interactive):
    """Squashes the migrations of an app from START_MIGRATION_NAME (by default its first) up to
    MIGRATION_NAME into one; the replaced files move to migrations/replaced/."""
    from manage_migrations.commands.squashmigrations import squashmigrations

    if len(names) > 3:
        raise click.UsageError(f"Got unexpected extra argument ({names[3]})")
    squashmigrations(settings(), console(), names, squashed_name, interactive)


@cli.command()
@click.argument("app_labels", nargs=-1)
@click.option("--list", "-l", "plan", flag_value=False, default=False,
              help="Shows a list of all migrations and which are applied (the default).")
@click.option("--plan", "-p", "plan", flag_value=True, help="Shows all migrations in the order they will be applied, with their dependencies.")
@format_option
@database_option
@common_options
def showmigrations(app_labels, plan, output_format):
    """Shows the migrations of each app (of APP_LABELS, when given) and whether they are applied
    ([X]) or not ([ ]), and those whose file changed since they were applied; -v 2 adds when."""
    from manage_migrations.commands.showmigrations import showmigrations

    showmigrations(settings(), console(), plan=plan, apps=app_labels, output_format=output_format)


@cli.command(cls=TargetCommand)
@click.argument("app_label", shell_complete=complete_target, metavar="[APP_LABEL] TARGET")
@name_after_app_label("target")
@lock_timeout_option
@database_option
@common_options
def fake(app_label, target, lock_timeout):
    """Marks the database as being at TARGET without running any migration (Alembic's stamp)."""
    from manage_migrations.commands.migrate import migrate

    migrate(settings(), console(), fake=True, lock_timeout=lock_timeout, **split_app_label(app_label, target))


@cli.command()
@click.argument("migration_names", nargs=-1, shell_complete=complete_target)
@lock_timeout_option
@database_option
@common_options
def repair(migration_names, lock_timeout):
    """Records the applied migrations' files as they are now (of MIGRATION_NAMES, when given), once
    an edit to an applied migration has been reviewed: showmigrations, migrate and check then stop
    flagging it (Flyway's repair)."""
    from manage_migrations.commands.repair import repair as record

    record(settings(), console(), migration_names, lock_timeout)


@cli.command()
@click.argument("app_label", shell_complete=complete_target, metavar="[APP_LABEL] MIGRATION_NAME [TO]")
@name_after_app_label("migration_name")
@name_after_app_label("to")
@click.option("--backwards", is_flag=True, help="Creates SQL to unapply the migration, rather than to apply it.")
@click.option("--single-transaction", is_flag=True,
              help="With a range (APP_LABEL FROM TO): no BEGIN and COMMIT of each migration, for psql -1.")
@database_option
@common_options
def sqlmigrate(app_label, migration_name, to, backwards, single_transaction):
    """Prints the SQL statements for the named migration, for the configured database; given
    APP_LABEL FROM TO, those of the migrations after FROM up to TO, as migrate runs them."""
    from manage_migrations.commands.sqlmigrate import sqlmigrate, sqlmigrate_range

    if to is not None:
        sqlmigrate_range(settings(), app_label, migration_name, to, backwards=backwards,
                         single_transaction=single_transaction)
        return
    if single_transaction:
        raise click.UsageError("--single-transaction is for a range: APP_LABEL FROM TO.")
    names = split_app_label(app_label, migration_name)
    sqlmigrate(settings(), console(), names["target"], backwards=backwards, app=names["app"])


@cli.command()
@click.argument("app_label", required=False, shell_complete=complete_target, metavar="[APP_LABEL] [MIGRATION_NAME]")
@name_after_app_label("migration_name")
@format_option
@database_option
@common_options
def lintmigrations(app_label, migration_name, output_format):
    """Checks the migrations not yet applied to the configured database (of APP_LABEL), or
    MIGRATION_NAME, for steps that break a rolling deploy, and on PostgreSQL for lock hazards
    (squawk's rules): exits 1 when it finds any."""
    from manage_migrations.commands.lintmigrations import lintmigrations as lint

    lint(settings(), console(), output_format=output_format, **split_app_label(app_label, migration_name))


@cli.command()
@click.option("-i", "--interface", type=click.Choice(["ipython", "bpython", "python"]),
              help="Specify an interactive interpreter interface [default: the first installed of these].")
@click.option("-c", "--command", help="Instead of opening an interactive shell, run a command as Django and exit.")
@common_options
def shell(interface, command):
    """Runs a Python interactive interpreter with every model, a Session on the configured
    database (session) and SQLAlchemy (sa, select) imported; -c, or what is piped in, runs instead."""
    from manage_migrations.commands.shell import shell as run

    run(settings(), console(), interface, command)


@cli.command(name="test", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--keepdb", is_flag=True, help="Preserves the test database between runs (pytest's --reuse-db).")
@common_options
@click.pass_context
def test_command(ctx, pytest_args, keepdb):
    """Runs the tests with pytest, PYTEST_ARGS passed on (paths, -k, -n 4, --create-db...), on a test
    database the migrations built, each test's work rolled back (fixtures db_session, db_engine)."""
    from manage_migrations.commands.test import run_tests

    raise SystemExit(run_tests(settings(), list(pytest_args), keepdb, ctx.meta.get("verbosity"), ctx.color))


@cli.command()
@click.argument("tables", nargs=-1)
@database_option
@common_options
def inspectdb(tables):
    """Prints models for the tables of the configured database (of TABLES, when given), on the
    project's declarative base, as sqlacodegen writes them."""
    from manage_migrations.commands.inspectdb import inspectdb as inspect

    inspect(settings(), console(), tables)


@cli.command()
@click.argument("tables", nargs=-1)
@click.option("-e", "--exclude", multiple=True, metavar="TABLE", help="A table to leave out (may be repeated).")
@click.option("--indent", type=int, help="Specifies the indent level to use when pretty-printing output.")
@click.option("--format", "output_format", type=click.Choice(["json", "jsonl"]), default="json", show_default=True,
              help="Specifies the output serialization format for fixtures.")
@click.option("-o", "--output", metavar="FILE", help="Specifies file to which the output is written ('-': stdout).")
@database_option
@common_options
def dumpdata(tables, exclude, indent, output_format, output):
    """Outputs the rows of the models' tables (of TABLES, when given) as a fixture: Django's JSON,
    with table names as model labels."""
    from manage_migrations.commands.fixtures import dumpdata as dump

    dump(settings(), console(), tables, exclude, indent, output, lines=output_format == "jsonl")


@cli.command()
@click.argument("fixtures", nargs=-1, required=True, metavar="FIXTURE...")
@database_option
@common_options
def loaddata(fixtures):
    """Installs the rows of the FIXTURE files (JSON, or JSON lines; '-' reads standard input) in
    one transaction, parents before children."""
    from manage_migrations.commands.fixtures import loaddata as load

    load(settings(), console(), fixtures)


@cli.command()
@noinput_option
@database_option
@common_options
def flush(interactive):
    """Removes every row from the models' tables; the record of which migrations ran stays."""
    from manage_migrations.commands.fixtures import flush as empty

    empty(settings(), console(), interactive)


@cli.command()
@database_option
@common_options
def sqlflush():
    """Prints the SQL statements flush would run."""
    from manage_migrations.commands.fixtures import sqlflush as statements

    statements(settings(), console())


@cli.command()
@database_option
@common_options
def dbshell():
    """Runs the command-line client for the configured database (psql, sqlite3, mysql)."""
    from manage_migrations import database
    from manage_migrations.commands.dbshell import dbshell

    raise SystemExit(dbshell(database.database_url(settings())))


@cli.command()
@click.option("--database", "databases", multiple=True, callback=only_default, metavar="ALIAS",
              help="Also check the database (Django's: 'default'): fail when it is not at the latest migration, "
                   "or differs from the schema its applied migrations build (drift).")
@format_option
@common_options
def check(databases, output_format):
    """Checks the migration files and models for problems, for CI: exits 1 when there are any."""
    from manage_migrations.commands.check import check

    check(settings(), console(), with_database=bool(databases), output_format=output_format)


@cli.command()
@click.argument("name")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@common_options
def startproject(name, directory):
    """Creates a project NAME in DIRECTORY (by default a new folder NAME here): manage.py, NAME/ with
    the settings and models, migrations/, alembic.ini, .env.example and tests/."""
    from manage_migrations.commands.startproject import startproject as start

    start(console(), name, directory)


@cli.command()
@click.argument("name")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@common_options
def startapp(name, directory):
    """Creates an app NAME in DIRECTORY (by default a new folder NAME beside manage.py): a package
    whose models.py defines tables on the project's base. Listed in the settings' APPS, its
    tables get a branch of migrations of their own, labelled NAME."""
    from manage_migrations.commands.startapp import startapp as start

    start(settings(), console(), name, directory)


@cli.command(name="init")
@click.option("-c", "--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="The project's Alembic config, as alembic --config [default: alembic.ini here, else "
                   "[tool.alembic] in pyproject.toml].")
@click.option("--models", metavar="MODULE:ATTR",
              help="The declarative base or MetaData, where env.py does not say it plainly.")
@click.option("--database-url", metavar="MODULE:ATTR",
              help="Where the app's configuration keeps the database URL, where env.py does not say it plainly.")
@common_options
@click.pass_context
def init_command(ctx, config_file, models, database_url):
    """Adds manage.py to the existing Alembic project in this folder: writes manage.py and
    manage_settings.py from what its Alembic config and env.py say, and makes env.py use the
    connection manage.py hands it (showing the change)."""
    from manage_migrations.commands.init import init

    config_file = config_file or ctx.find_root().params.get("config")
    init(console(), Path.cwd(), config_file and config_file.resolve(), models, database_url)


def execute_from_command_line(argv: list[str] | None = None) -> None:
    """What a project's ``manage.py`` calls, as Django's: SIGINT and SIGTERM both stop a command
    the way Ctrl-C does (exit 130, 143)."""
    from manage_migrations import signals

    argv = sys.argv if argv is None else argv
    signals.install()
    cli(args=argv[1:], prog_name=os.path.basename(argv[0]) if argv else None)


def main() -> None:
    """The ``manage-migrations`` command, as ``django-admin``."""
    execute_from_command_line()
