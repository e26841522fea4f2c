"""``inspectdb``: models written from an existing database, as Django's, through sqlacodegen,
on the project's own declarative base (so its naming convention names what they declare).
This module is imported only when the command runs."""
import sqlalchemy as sa
from sqlacodegen.generators import Base, DeclarativeGenerator, LiteralImport

from manage_migrations import database, recorder
from manage_migrations.conf import Settings, resolve
from manage_migrations.output import CommandError, Console


def inspectdb(settings: Settings, console: Console, tables: tuple[str, ...] = ()) -> None:
    """Print the models of ``tables`` (every table when none), less manage.py's records."""
    own = recorder.of(settings).own_tables | recorder.DEFAULT_TABLES
    base_module, _, base_name = (settings.models or "").partition(":")
    if not base_name or "." in base_name:
        raise CommandError("inspectdb writes models on the project's declarative base: MODELS must name it "
                           "('module:Base').")

    def read(connection) -> str:
        found = set(sa.inspect(connection).get_table_names())
        missing = [name for name in tables if name not in found]
        if missing:
            raise CommandError(f"No table {missing[0]} in {database.where(connection.engine.url)}.")
        metadata = sa.MetaData()
        metadata.reflect(connection, only=list(tables) or sorted(found - own))
        convention = getattr(resolve(settings.models, "MODELS"), "metadata", sa.MetaData()).naming_convention
        for table in metadata.tables.values():
            for constraint in table.constraints:
                constraint.name = convention_input(constraint, convention)
        return ProjectModels(metadata, connection, base_module, base_name).generate()

    console.line(database.run(database.database_url(settings), read), level=0, nl=False)


def convention_input(constraint: sa.Constraint, convention: dict):
    """The name to declare for a constraint the database names ``ck_users_adult``: where the
    naming convention builds its name from the declared one (``ck_%(table_name)s_%(constraint_name)s``),
    the part it fills in (``adult``), so that the convention does not apply twice."""
    template = convention.get({sa.CheckConstraint: "ck", sa.UniqueConstraint: "uq", sa.ForeignKeyConstraint: "fk",
                               sa.PrimaryKeyConstraint: "pk"}.get(type(constraint)))
    name = constraint.name
    if not isinstance(template, str) or not isinstance(name, str) or "%(constraint_name)s" not in template:
        return name
    before, _, after = template.partition("%(constraint_name)s")
    table = constraint.table.name
    before, after = (part.replace("%(table_name)s", table) for part in (before, after))
    if "%(" in before + after or not (name.startswith(before) and name.endswith(after)):
        return name
    return name[len(before):len(name) - len(after)] or name


class ProjectModels(DeclarativeGenerator):
    """sqlacodegen's declarative models, importing the project's base instead of making one."""

    def __init__(self, metadata: sa.MetaData, bind, base_module: str, base_name: str):
        super().__init__(metadata, bind, [], base_class_name=base_name)
        self.base_module = base_module

    def generate_base(self) -> None:
        self.base = Base(literal_imports=[LiteralImport(self.base_module, self.base_class_name)],
                         declarations=[], metadata_ref=f"{self.base_class_name}.metadata")
