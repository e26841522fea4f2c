"""Drift: what a database has that its applied migrations did not make, or lacks of what they made.

``check --database default`` builds a scratch database at the database's recorded revision,
reads it back, and compares the database with it through the same comparison ``makemigrations``
uses. Each difference is the operation that would make the database like its migrations. The
user's database is only read.
"""
from typing import NamedTuple

from manage_migrations import graph
from manage_migrations.conf import Settings
from manage_migrations.output import SYMBOLS, CommandError, Console

# Where the database stands against its migrations, from the first word of the operation that
# would make it like them: it lacks what "Add" adds, has what "Drop" drops, differs where "Alter"s.
STANDING = {"+": "behind", "-": "ahead", "~": "differs"}
ADVICE = {
    "ahead": "The database has what its migrations lack (-): if the models have it too, run "
             "'python manage.py makemigrations' to write its migration, then 'python manage.py fake NEW_MIGRATION' "
             "on this database, which has it already; if not, undo it by hand.",
    "behind": "The database lacks what its migrations made (+): make it by hand as the line says (the migration's "
              "own SQL: 'python manage.py sqlmigrate NAME'); if it is gone for good, take it out of the models, run "
              "'python manage.py makemigrations', then 'python manage.py fake NEW_MIGRATION' on this database.",
    "differs": "The database differs from what its migrations made (~): change it by hand as the line says, or "
               "change the models to match it, run 'python manage.py makemigrations', then 'python manage.py fake "
               "NEW_MIGRATION' on this database.",
}


class Difference(NamedTuple):
    """One operation that would make the database like its migrations, and what it says of the
    database: ``behind`` (it lacks something), ``ahead`` (it has more) or ``differs``."""
    operation: str
    database: str


class NoQuestions:
    """The comparison's questioner: the database is only read, so nothing is a rename and no
    column is filled; a drop and an add are two differences."""

    def ask_rename(self, *names) -> bool:
        return False

    def ask_rename_table(self, *names) -> bool:
        return False

    def ask_not_null_addition(self, column: str, table: str):
        return None

    ask_not_null_alteration = ask_not_null_addition


def differences(settings: Settings, migrations: list[graph.Migration], state: tuple[str, ...]) -> list[Difference]:
    """How the database's schema differs from the one its applied migrations (``state``, the
    revision it records) build on a scratch database (none when they agree)."""
    from manage_migrations import database, scratch, source
    from manage_migrations import migrations as alembic

    url = database.database_url(settings)
    with scratch.scratch_database(url, Console(0)) as scratch_url:
        if scratch_url is None:
            raise CommandError(f"Cannot compare {database.where(url)} with its migrations: this user cannot create "
                               "a scratch database to build them on.")
        expected = database.run(scratch_url, lambda connection: built(settings, connection, migrations, state))
    parts = database.run(url, lambda connection: alembic.autogenerate(
        settings, connection, NoQuestions(), lambda: source.enum_types([m.path for m in graph.in_order(migrations)]),
        scratch=False, metadata=expected))
    phrases = [phrase for part in parts for phrase in part.changes.phrases]
    return [Difference(phrase, STANDING.get(SYMBOLS.get(phrase.split()[0]), "differs")) for phrase in phrases]


def built(settings: Settings, connection, migrations: list[graph.Migration], state: tuple[str, ...]):
    """The schema the migrations build up to ``state``, read back from the scratch database on
    ``connection`` as it is (no portable types: it is compared with a database of its kind),
    manage.py's own tables left out."""
    import sqlalchemy as sa

    from manage_migrations import recorder, scratch

    scratch.migrate_to(settings, connection, migrations, state)
    metadata = sa.MetaData()
    own = recorder.of(settings).own_tables | recorder.DEFAULT_TABLES
    metadata.reflect(connection, only=lambda name, _: name not in own)
    connection.rollback()
    return metadata


def summary(state: tuple[str, ...], found: list[Difference]) -> str:
    """The problem in one line; ``details`` are printed under it."""
    return (f"The database differs from the schema its migrations build (at {', '.join(state) or 'no migration'}): "
            f"{len(found)} difference{'s' if len(found) > 1 else ''}, each the operation that would make it like them:")


def details(found: list[Difference]) -> tuple[str, ...]:
    """Each operation, then what to do about each kind of difference. Never a reset: the
    database is the user's, with its rows."""
    operations = [f"    {SYMBOLS.get(difference.operation.split()[0], '*')} {difference.operation}" for difference in found]
    return (*operations, *(f"  {ADVICE[standing]}" for standing in dict.fromkeys(d.database for d in found)))
