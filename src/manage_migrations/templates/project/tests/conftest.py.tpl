"""pytest-alembic's set-up: its built-in tests run the migrations on a SQLite database of each
test's own, through migrations/env.py as manage.py runs them. They need
``pip install 'manage-migrations[pytest]'`` (pytest and pytest-alembic)."""
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def alembic_config():
    return Config(str(PROJECT / "alembic.ini"))


@pytest.fixture
def alembic_engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    yield engine
    engine.dispose()
