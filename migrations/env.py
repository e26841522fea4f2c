"""Alembic's environment for this project.

The models and the database come from the project's settings (``project/settings.py``), so
``python manage.py migrate`` and the plain ``alembic`` command run the same migrations the same
way: manage.py hands its open connection in (the Alembic cookbook's connection sharing); run by
the plain alembic command, this file connects to the database the settings name.
"""
from alembic import context

from manage_migrations import environment

config = context.config
settings = environment.settings(config, "project.settings")

options = dict(
    target_metadata=environment.target_metadata(config, settings),
    # Batch operations run as plain ALTERs on PostgreSQL and rebuild the table on SQLite,
    # so a migration made against either database runs on both.
    render_as_batch=True,
    # A changed server default is a change to migrate, as a changed type is.
    compare_server_default=True,
    # One transaction per migration: a failure leaves the database at the one before.
    transaction_per_migration=True,
    # manage.py's own records (when each migration ran, which did not finish) are not models.
    include_name=environment.include_name,
)


def run_migrations(connection) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=environment.database_url(settings), literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    environment.run_online(config, settings, run_migrations)
