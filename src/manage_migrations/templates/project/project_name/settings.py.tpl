"""Settings of {{ project_name }}, as Django's settings.py: where its models, migrations and database are.

``manage.py`` names this module; the names it may set are those of ``manage_migrations.conf``.
"""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# The declarative base autogenerate compares with, and the package whose every module is
# imported first, so that a new model file needs no other edit.
MODELS = "{{ project_name }}.models.base:Base"
MODEL_PACKAGES = ["{{ project_name }}.models"]

# The project's other apps, as Django's INSTALLED_APPS ('python manage.py startapp NAME' writes
# one): the tables of each get a branch of migrations of their own, labelled with its name.
APPS = []

# The Alembic config, as the plain alembic command reads it (script_location = migrations/).
ALEMBIC_CONFIG = "alembic.ini"

# DATABASE_URL from the environment, then from .env beside manage.py; with neither, SQLite
# beside manage.py. Or read the URL from your app's own configuration instead:
# DATABASE_URL_FROM = "{{ project_name }}.config:settings.database_url"
DEFAULT_DATABASE_URL = "sqlite:///db.sqlite3"
