"""The Alembic glue: the Config built in code, the scripts loaded, steps run, files written.

Everything here needs Alembic, which ``manage_migrations.commands`` imports only when a migration must
run or be written: the deploy hot path (``migrate`` with nothing to do) never loads it.
Steps run through Alembic's own ``EnvironmentContext``, on whatever ``env.py`` the project's
Alembic config names: what manage.py needs of it is given to its ``configure()`` call
(``project_environment``), so a team's env.py needs no edit beyond using the connection handed in.
"""
import logging
import os
import sys
import warnings
from contextlib import contextmanager, redirect_stdout
from argparse import Namespace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from alembic.autogenerate import render
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicCommandError
from alembic.script.revision import tuple_rev_as_scalar
from alembic.util import format_as_comma
from mako.template import Template

from manage_migrations import comparisons, conf, database, recorder, tables
from manage_migrations.loader import files_of, load_module
from manage_migrations.output import CommandError
from manage_migrations.conf import Settings


def alembic_config(settings: Settings, connection=None, models: bool = True) -> Config:
    """The project's own Alembic config (its alembic.ini or pyproject.toml, so its hooks,
    templates and options reach Alembic), with the folders made absolute as the settings read
    them, ``-x`` as the alembic command hands it, and the database as a connection (the
    cookbook's ``config.attributes["connection"]``), never through ConfigParser, so a ``%`` in
    a password needs no escaping. ``models`` tells env.py whether to load every model."""
    ini = toml = None
    if settings.config_file is not None:
        ini, toml = (None, settings.config_file) if settings.config_file.suffix == ".toml" else \
            (settings.config_file, settings.config_file.parent / "pyproject.toml")
    config = Config(file_=ini, toml_file=toml if toml and toml.exists() else None,
                    cmd_opts=Namespace(quiet=True, x=list(settings.x_arguments)))
    config.set_main_option("script_location", str(settings.migrations_dir).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(
        str(p).replace("%", "%%") for p in settings.migration_folders))
    config.set_main_option("sourceless", str(settings.sourceless).lower())
    config.set_main_option("recursive_version_locations", str(settings.recursive_version_locations).lower())
    config.attributes["settings"] = settings
    config.attributes["connection"] = connection
    config.attributes["models"] = models
    return config


# Alembic's own comparisons, its opt-in comparison of CHECK constraints by name (which the naming
# convention every project of ours has makes safe), and ours (CHECK expressions, collations).
AUTOGENERATE_PLUGINS = ["alembic.autogenerate.*", "alembic.ext.checkconstraint_byname", comparisons.PLUGIN]


def project_environment(config: Config, scripts: ScriptDirectory, prepare=None, **options) -> EnvironmentContext:
    """Alembic's ``EnvironmentContext``, whose ``configure()`` (which env.py calls) gets what
    manage.py needs where env.py does not say otherwise: batch mode and server default
    comparison, its own tables left out of autogenerate, and always one transaction per
    migration, which the record of each migration relies on. An env.py that configures a
    connection other than the one handed in (Alembic's own templates open one of their own) is
    refused before anything runs: it would run migrations on a database nobody named; so is one
    whose version table is not the one the settings read (``conf.version_table_of``). (The
    instance's ``configure`` is replaced, not the class's: Alembic's ``context`` module proxies
    the instance's attributes.) ``prepare(connection)`` runs once both checks have passed, before
    Alembic reads the version table."""
    environment = EnvironmentContext(config, scripts, **options)
    configure, handed = environment.configure, config.attributes.get("connection")

    def configure_for_manage_py(connection=None, **chosen):
        if handed is not None and connection is not handed:
            raise CommandError(f"{Path(scripts.dir) / 'env.py'} does not use the connection manage.py hands it, so "
                               "it would run on a database of its own: use config.attributes.get('connection') when "
                               "it is set (the Alembic cookbook's connection sharing; 'manage-migrations init' makes "
                               "the change).")
        settings = config.attributes["settings"]
        records = recorder.of(settings)
        table = ".".join(filter(None, (chosen.get("version_table_schema"), chosen.get("version_table",
                                                                                     tables.VERSION_TABLE))))
        if table != records.version_name:
            raise CommandError(f"{Path(scripts.dir) / 'env.py'} keeps Alembic's versions in {table}, and manage.py "
                               f"read {records.version_name}: set VERSION_TABLE and VERSION_TABLE_SCHEMA in the "
                               f"settings to what env.py gives configure(); nothing was run.")
        if prepare is not None:
            prepare(connection)
        config.attributes["hooks"] = their_hooks(chosen)
        theirs = chosen.get("include_name")
        return configure(connection=connection, **{
            "render_as_batch": True, "compare_server_default": True, "autogenerate_plugins": AUTOGENERATE_PLUGINS,
            **chosen, "transaction_per_migration": True,
            "include_name": records.include_name if theirs is None else
            lambda *names: records.include_name(*names) and theirs(*names)})

    environment.configure = configure_for_manage_py
    return environment


def their_hooks(options: dict) -> list[str]:
    """The options env.py gives configure() that are code of the project's own (include_object,
    compare_type, process_revision_directives...): what a comparison's answer may depend on
    besides the models and the files, such as an environment variable the hook reads."""
    ours = ("manage_migrations", "alembic", "sqlalchemy")
    return sorted(name for name, value in options.items()
                  if callable(value) and not getattr(value, "__module__", "").startswith(ours))


@contextmanager
def alembic_logs(verbosity: int = 1):
    """Alembic's INFO lines held back below -v 3: an env.py that calls ``fileConfig`` (Alembic's
    own templates do) would print them beside Django's lines. Warnings still show."""
    if verbosity >= 3:
        yield
        return
    before = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(before)


def explain(exc: BaseException) -> str:
    """One line for an error from us, Alembic or the database."""
    if isinstance(exc, CommandError):
        return exc.message
    return str(exc) if isinstance(exc, AlembicCommandError) else database.one_line(exc)


def load_scripts(settings: Settings) -> ScriptDirectory:
    """Alembic's full load, which imports every migration file: now, so that a file that does
    not load is not reported as the failure of the first migration to run, but in one line
    naming it."""
    scripts = ScriptDirectory.from_config(alembic_config(settings))
    try:
        scripts.revision_map.heads
    except AlembicCommandError:
        raise
    except Exception as exc:
        problems = import_errors(files_of(settings))
        raise CommandError(problems[0] if problems else explain(exc)) from exc
    return scripts


class Part(NamedTuple):
    """The migration one app needs (``app`` None when the project's apps are not told apart):
    its ``autodetector.Changes``, and its upgrade, downgrade and imports rendered as Python for
    ``script.py.mako``."""
    app: str | None
    changes: object
    rendered: dict
    needs: tuple[str, ...] = ()  # the other apps whose tables its foreign keys refer to


def autogenerate(settings: Settings, connection, questioner, enums, scratch: bool = True,
                 metadata: sa.MetaData | None = None, unwritten: list[str] | None = None,
                 created_by: tuple[dict[str, str], dict[str, str]] | None = None,
                 uncertain: list[str] | None = None) -> list[Part]:
    """Compare the models (or ``metadata``) with the database on ``connection``: the migration
    that would take one to the other, none when they agree. With ``created_by`` (which app's
    migrations made each table, and each enum type), one for each app that changed
    (``conf.apps_of_tables``). Into
    ``unwritten`` go the differences Alembic saw and could not compare or write, which it only
    warns of (a computed column's changed expression, an expression index it cannot read back);
    into ``uncertain``, what the answer depends on besides the models and the files (env.py's
    hooks of its own, see ``their_hooks``, and any other warning shown), for ``clean_checks``.

    The comparison runs through env.py without loading the migration files, which Alembic's
    own ``revision --autogenerate`` would import all of."""
    from manage_migrations.autodetector import detect

    config = alembic_config(settings, connection, models=metadata is None)
    scripts = ScriptDirectory.from_config(config)
    found = []

    def compare(heads, context):
        target = metadata or context.opts["target_metadata"]
        changes = detect(context, target, questioner, enums, scratch)
        if changes is None:
            return []
        tables = {}
        if created_by is None:
            parts = {None: changes}
        else:
            tables, types_of_apps = owners(settings, target, created_by)
            parts = changes.by_app(tables, types_of_apps, settings.app_label)
        for app, part in parts.items():
            rendered = {}
            autogen = AutogenContext(context, opts={**context.opts, "render_item": render_boolean_default})
            render._render_python_into_templatevars(autogen, part.script(), rendered)
            needs = {tables.get(table) for table in part.references()} - {app, None} if app else ()
            found.append(Part(app, part, rendered, tuple(sorted(needs))))
        return []

    with project_environment(config, scripts, fn=compare, dont_mutate=True), alembic_logs(), \
            warnings.catch_warnings(record=unwritten is not None) as warned:
        scripts.run_env()
    for warning in warned or ():
        if warning.category is comparisons.Unwritten or warning.category is UserWarning and \
                f"{os.sep}alembic{os.sep}" in warning.filename:
            unwritten.append(str(warning.message))
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
            if uncertain is not None:
                uncertain.append(f"a warning: {warning.message}")
    if uncertain is not None:
        uncertain += [f"env.py's {name}" for name in config.attributes.get("hooks", ())]
    return found


def owners(settings: Settings, metadata: sa.MetaData, created_by: tuple[dict, dict]) -> tuple[dict, dict]:
    """Whose each table and enum type is: a table the models have is the app's that defines
    it, an enum type the app's of the first table that uses it; one they no longer have, the
    app's whose migration created it."""
    tables = {**created_by[0], **conf.apps_of_tables(settings, metadata)}
    enums = {}
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.Enum) and column.type.name:
                enums.setdefault(column.type.name, tables[table.name])
    return tables, {**created_by[1], **enums}


def render_boolean_default(type_: str, item, autogen_context):
    """A server default of ``sa.false()`` or ``sa.true()`` written as such, not as the SQL of
    the database compared with (SQLite's ``0``, which PostgreSQL refuses for a boolean)."""
    if type_ == "server_default" and isinstance(getattr(item, "arg", None), (sa.sql.elements.False_,
                                                                               sa.sql.elements.True_)):
        return f"sa.{'true' if isinstance(item.arg, sa.sql.elements.True_) else 'false'}()"
    return False


def migration_text(settings: Settings, revision: str, parents: tuple[str, ...], message: str,
                   rendered: dict | None = None, branch_labels: tuple[str, ...] = (),
                   depends_on: tuple[str, ...] = ()) -> str:
    """A migration file from the project's ``script.py.mako``, as Alembic renders it. The
    parents are known from the loader, so no migration file is imported to find the head."""
    template = Template(filename=str(settings.migrations_dir / "script.py.mako"))
    return template.render_unicode(
        up_revision=revision, down_revision=tuple_rev_as_scalar(parents) if parents else None,
        branch_labels=tuple_rev_as_scalar(branch_labels) if branch_labels else None,
        depends_on=tuple_rev_as_scalar(depends_on) if depends_on else None, create_date=datetime.now(), comma=format_as_comma,
        message=message, config=alembic_config(settings), **{"upgrades": "", "downgrades": "", "imports": "",
                                                              **(rendered or {})})


def write_migration(settings: Settings, path: Path, text: str) -> None:
    """Write a new migration file, then run the project's ``post_write_hooks`` on it (black,
    ruff...), as ``alembic revision`` does. ``_run_hooks`` is Alembic's private runner of
    them: the one way to run them as Alembic does, with its options and token substitution."""
    from alembic.script import write_hooks

    path.parent.mkdir(parents=True, exist_ok=True)  # versions/ as git checks out a new project: absent
    path.write_text(text)
    hooks = alembic_config(settings).get_hooks_list()
    if hooks:
        with redirect_stdout(sys.stderr):  # Alembic's "Running post write hook" is not a path of ours
            write_hooks._run_hooks(path, hooks)


def import_errors(paths: list[str]) -> list[str]:
    """The migration files that fail to import, each with its error: Alembic would stop at the first."""
    errors = []
    for path in map(Path, paths):
        try:
            load_module(path)
        except CommandError as exc:
            errors.append(exc.message)
    return errors
