"""The sample app's settings, as Django's settings.py: where its models, migrations and database are.

``manage.py`` names this module; ``manage_migrations.conf`` says what each name means.
"""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# The declarative base autogenerate compares with, and the package whose every module is
# imported first, so that a new model file needs no other edit.
MODELS = "project.models.base:Base"
MODEL_PACKAGES = ["project.models"]

# The Alembic config: [tool.alembic] in pyproject.toml (script_location = migrations/).
ALEMBIC_CONFIG = "pyproject.toml"

# DATABASE_URL from the environment, then from .env beside manage.py; with neither, SQLite
# beside manage.py, as Django's startproject sets it.
DEFAULT_DATABASE_URL = "sqlite:///db.sqlite3"
