"""Alembic's environment for this project.

The database and the models come from the project, so ``python manage.py migrate`` and the
plain ``alembic`` command run the same migrations the same way. ``manage.py`` hands its open
connection in through ``config.attributes["connection"]`` (the Alembic cookbook's recipe);
pytest-alembic hands an Engine or an AsyncEngine in the same way; run on its own, this file
connects with the project's settings.
"""
import asyncio
import logging

import sqlalchemy as sa
from alembic import context

from project import database
from project.database import HISTORY
from project.deploy import UNFINISHED
from project.naming import NAMING_CONVENTION
from project.settings import load_settings

config = context.config
settings = config.attributes.get("settings") or load_settings()


def target_metadata():
    """The models, which autogenerate compares with: manage.py says when it does not need them,
    which spares importing the ORM and every model on each migrate. Their naming convention
    is given either way: Alembic names what the operations create by it (an unnamed primary
    key becomes pk_<table>), so manage.py and the plain alembic command make the same names."""
    if not config.attributes.get("models", True):
        return sa.MetaData(naming_convention=NAMING_CONVENTION)
    import alembic_postgresql_enum  # noqa: F401  enum types on PostgreSQL: created, altered, dropped
    from project.models import load_models

    # It warns on every other backend that it has nothing to do there.
    logging.getLogger("alembic.alembic_postgresql_enum").setLevel(logging.ERROR)

    return load_models()


options = dict(
    target_metadata=target_metadata(),
    # Batch operations run as plain ALTERs on PostgreSQL and rebuild the table on SQLite,
    # so a migration made against either database runs on both.
    render_as_batch=True,
    # A changed server default is a change to migrate, as a changed type is.
    compare_server_default=True,
    # One transaction per migration: a failure leaves the database at the one before.
    transaction_per_migration=True,
    # manage.py's own records (when each migration ran, which did not finish) are not models.
    include_name=lambda name, type_, parent_names: not (type_ == "table" and name in (HISTORY.name, UNFINISHED.name)),
)


def run_migrations(connection, own: bool = True) -> None:
    """Run on ``connection``. One that this file opened (``own``) gets the version table
    prepared and is committed here; manage.py does both for the one it hands in."""
    context.configure(connection=connection, **options)
    if own and not context.get_context().opts.get("dont_mutate"):
        database.ensure_version_table(connection)  # names longer than Alembic's 32 characters
        connection.commit()
        from project import squash  # as manage.py migrate: a database at END of a squash is at it

        squash.record_replaced(settings, connection)
    with context.begin_transaction():
        context.run_migrations()
    if own:
        connection.commit()


async def run_async_migrations(engine) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()  # its pooled connections belong to this event loop, which ends here


handed = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=database.database_url(settings), literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
elif isinstance(handed, sa.Connection):  # manage.py's, or the cookbook's
    run_migrations(handed, own=False)
elif handed is not None and database.is_async(handed.url):  # an AsyncEngine
    asyncio.run(run_async_migrations(handed))
elif handed is not None:  # an Engine, as pytest-alembic's alembic_engine fixture gives
    with handed.connect() as connection:
        run_migrations(connection)
else:
    database.run(database.database_url(settings), run_migrations)
