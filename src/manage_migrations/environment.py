"""What a project's ``env.py`` asks of the library, as Flask-Migrate's env.py asks the app: the
project's settings, its models, and a connection.

``manage.py`` hands env.py its open connection through ``config.attributes["connection"]`` (the
Alembic cookbook's recipe); pytest-alembic hands an Engine or an AsyncEngine the same way; run
by the plain ``alembic`` command, env.py connects with the project's settings.
"""
import asyncio
import logging

import sqlalchemy as sa

from manage_migrations import conf, database, graph, recorder
from manage_migrations.loader import migrations_of
from manage_migrations.output import Console
from manage_migrations.recorder import include_name  # noqa: F401  for env.py: manage.py's own tables left out


def settings(config, module_name: str) -> conf.Settings:
    """The settings manage.py hands in, else those of ``module_name`` (the plain alembic command)."""
    return config.attributes.get("settings") or conf.load_settings(module_name)


def target_metadata(config, settings: conf.Settings) -> sa.MetaData:
    """The models, which autogenerate compares with. manage.py says when it does not need them
    all (``config.attributes["models"]``), which spares importing every model on each migrate:
    then the declarative base alone, whose naming convention names what the operations create,
    so that manage.py and the plain alembic command make the same names."""
    everything = config.attributes.get("models", True)
    if everything:
        import alembic_postgresql_enum  # noqa: F401  enum types on PostgreSQL: created, altered, dropped

        # It warns on every other backend that it has nothing to do there.
        logging.getLogger("alembic.alembic_postgresql_enum").setLevel(logging.ERROR)
    return conf.load_models(settings, everything)


def database_url(settings: conf.Settings) -> sa.URL:
    return database.database_url(settings)


def run_online(config, settings: conf.Settings, run_migrations) -> None:
    """Call ``run_migrations(connection)`` with the connection handed in, or one of our own. A
    connection of our own gets the version table prepared first and is committed at the end;
    manage.py does both for the one it hands in."""
    handed = config.attributes.get("connection")
    if isinstance(handed, sa.Connection):  # manage.py's, or the cookbook's
        return run_migrations(handed)

    def own(connection):
        recorder.of(settings).ensure_version_table(connection)  # names longer than Alembic's 32 characters
        connection.commit()
        record_replaced(settings, connection)  # as manage.py migrate: a database at END of a squash is at it
        run_migrations(connection)
        connection.commit()

    if handed is None:
        database.run(database.database_url(settings), own)
    elif database.is_async(handed.url):  # an AsyncEngine
        asyncio.run(_run_async(handed, own))
    else:  # an Engine, as pytest-alembic's alembic_engine fixture gives
        with handed.connect() as connection:
            own(connection)


async def _run_async(engine, work) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(work)
    await engine.dispose()  # its pooled connections belong to this event loop, which ends here


def record_replaced(settings: conf.Settings, connection) -> None:
    """For the plain alembic command: a database at the last migration a squashed one replaces
    is recorded at the squashed one, as ``migrate`` does, before Alembic looks for its revision."""
    records = recorder.of(settings)
    records.record_squashed(connection, graph.squashed_in(records.current_state(connection), migrations_of(settings)),
                            Console(0))
