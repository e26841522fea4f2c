"""A project's own commands, as Django's ``APP/management/commands/NAME.py``, and what a command
is handed: the project's settings, an Engine and a Session on its database.

A module ``closeroom.py`` in ``management/commands/`` of the project's package (the settings'
package) or of an app's (each of ``APPS``, and the package above each of ``MODEL_PACKAGES``)
that defines a Click command named ``command`` is ``python manage.py closeroom``. An installed distribution adds
commands through the entry point group ``manage_migrations.commands``, as Flask's
``flask.commands`` (not in place of one of manage.py's own). Modules are imported only when
their command runs or help lists it.

In a command::

    from manage_migrations.management import CommandError, session

    @click.command()
    @click.argument("number")
    def command(number):
        with session() as db:
            ...
"""
import importlib
import importlib.util
import os
import pkgutil
from typing import NamedTuple

import click

from manage_migrations.output import CommandError

ENTRY_POINTS = "manage_migrations.commands"
__all__ = ["CommandError", "engine", "session", "settings"]


def settings(ctx: click.Context | None = None):
    """The project's settings, read when a command first needs them (so ``--help`` does not).
    Tests and scripts may hand in their own as the root context's ``obj``."""
    root = (ctx or click.get_current_context()).find_root()
    if root.obj is None:
        from manage_migrations.conf import load_settings

        given = root.params  # parsed already when a command, or shell completion, asks
        config = given.get("config")
        root.obj = load_settings(given.get("settings_module"), given.get("env_file"), config and config.resolve(),
                                 given.get("x_arguments", ()))
    return root.obj


def engine(project_settings=None):
    """An Engine on the project's database, as manage.py makes them (no pool, a connect timeout);
    an asyncio URL's through its blocking driver, so that a plain Session works on it."""
    from manage_migrations import database

    return database.create_engine(database.blocking(database.database_url(project_settings or settings())))


def session(project_settings=None):
    """A Session on the project's database: ``with session() as db: ...``; commit it yourself."""
    from sqlalchemy.orm import Session

    return Session(engine(project_settings))


class Found(NamedTuple):
    """A command found: where it comes from (an app's package, or a distribution), and how to load it."""
    origin: str
    load: object  # () -> the Click command


def project_commands(settings_module: str | None) -> dict[str, Found]:
    """The commands of the project's and the apps' ``management/commands/``, by name, in the
    order of the apps, without importing one."""
    found = {}
    for package in app_packages(settings_module):
        try:
            spec = importlib.util.find_spec(f"{package}.management.commands")
        except ImportError:
            continue  # no management package there
        for module in pkgutil.iter_modules(spec.submodule_search_locations if spec else []):
            if not module.name.startswith("_"):
                name = f"{package}.management.commands.{module.name}"
                found.setdefault(module.name, Found(package, lambda name=name: command_of(name)))
    return found


def addon_commands() -> dict[str, Found]:
    """The commands installed distributions add through the entry point group (read only when
    a name is not one of manage.py's own, or help lists them: reading it costs a deploy time)."""
    from importlib.metadata import entry_points

    return {point.name: Found(point.dist.name if point.dist else point.module, point.load)
            for point in entry_points(group=ENTRY_POINTS)}


def app_packages(settings_module: str | None) -> list[str]:
    """The project's package (the settings'), each app's (above its models package), and ``APPS``."""
    settings_module = settings_module or os.environ.get("MANAGE_MIGRATIONS_SETTINGS")
    if not settings_module:
        return []
    from manage_migrations.conf import as_tuple, import_settings

    try:
        module = import_settings(settings_module)
    except CommandError:
        return []  # the command itself says what is wrong with the settings
    packages = [settings_module.rpartition(".")[0]]
    packages += [name.rpartition(".")[0] for name in as_tuple(getattr(module, "MODEL_PACKAGES", ()))]
    packages += as_tuple(getattr(module, "APPS", ()))
    return [package for package in dict.fromkeys(packages) if package]


def command_of(module_name: str) -> click.Command:
    """The Click command named ``command`` of a project's command module."""
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise CommandError(f"Cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    command = getattr(module, "command", None)
    if not isinstance(command, click.Command):
        raise CommandError(f"{module_name} defines no Click command named 'command'.")
    command.replaces = getattr(module, "REPLACES", False)
    return command
