"""``startapp NAME [DIRECTORY]``: a new app, as Django's startapp writes one: a package whose
``models.py`` defines tables on the project's declarative base (or MetaData). Listed in the
settings' ``APPS``, the app's tables get a branch of migrations of their own, labelled NAME,
on the next ``makemigrations``.
"""
from pathlib import Path

from manage_migrations.commands.startproject import check_name, render
from manage_migrations.conf import Settings, resolve
from manage_migrations.output import CommandError, Console, display_path

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "app"
DECLARATIVE_EXAMPLE = '''\
# from decimal import Decimal
#
# import sqlalchemy as sa
# from sqlalchemy.orm import Mapped, mapped_column
#
#
# class Invoice({base}):
#     __tablename__ = "invoices"
#
#     id: Mapped[int] = mapped_column(primary_key=True)
#     total: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))'''
TABLE_EXAMPLE = '''\
# import sqlalchemy as sa
#
# invoices = sa.Table(
#     "invoices", {base},
#     sa.Column("id", sa.Integer, primary_key=True),
#     sa.Column("total", sa.Numeric(10, 2)),
# )'''

def startapp(settings: Settings, console: Console, name: str, directory: Path | None = None) -> Path:
    """Write the app ``name`` into ``directory`` (by default a new folder ``name`` beside
    manage.py, where it is importable as ``name``), never over a file that is there."""
    check_name(name, "app")
    if directory is None:
        directory = settings.base_dir / name
        if directory.exists():
            raise CommandError(f"'{directory}' already exists")
    elif not directory.is_dir():
        raise CommandError(f"Destination directory '{directory.resolve()}' does not exist, please create it first.")
    files = {directory / source.name.removesuffix(".tpl"): source for source in sorted(TEMPLATE.glob("*.tpl"))}
    clashes = [path for path in files if path.exists()]
    if clashes:
        raise CommandError(f"{clashes[0]} already exists. Overlaying an app into an existing directory won't "
                           "replace conflicting files.")
    values = models_template_values(settings)
    directory.mkdir(exist_ok=True)
    for path, source in files.items():
        path.write_text(render(source, app_name=name, **values))
    console.line(f"Created app {name} in {display_path(directory)}: add \"{name}\" to APPS in the settings, then run "
                 f"'python manage.py makemigrations {name}'.")
    return directory


def models_template_values(settings: Settings) -> dict[str, str]:
    """The imports and example of a new app's models.py, on what the settings' ``MODELS`` names:
    a declarative base's class, or a table on a MetaData."""
    if not settings.models:
        raise CommandError("The settings name no MODELS ('module:attribute' of a declarative base or a MetaData), "
                           "on which the app's models would be defined.")
    module, _, attributes = settings.models.partition(":")
    base = attributes.split(".")[0]
    declarative = hasattr(resolve(f"{module}:{base}", "MODELS"), "registry")
    example = DECLARATIVE_EXAMPLE.format(base=base) if declarative else TABLE_EXAMPLE.format(base=attributes)
    return {"imports": f"from {module} import {base}  # noqa: F401  the models below are defined on it",
            "example": example}
