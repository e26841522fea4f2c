"""Django's management commands for SQLAlchemy projects, with Alembic underneath.

A project's ``manage.py`` names its settings (``manage_migrations.conf``) and calls
``manage_migrations.cli.execute_from_command_line``; ``manage-migrations startproject`` writes a
new project and ``manage-migrations init`` adds manage.py to an existing Alembic one.
"""
