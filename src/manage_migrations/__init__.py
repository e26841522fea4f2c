"""A Django-style ``manage.py`` over Alembic, with a sample hotel booking app."""
