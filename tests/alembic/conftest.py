"""pytest-alembic's fixtures on a database of the test's own: each test runs on SQLite and on
PostgreSQL (``database_url``), handed to env.py as an Engine and as an AsyncEngine, on the
repository's migrations/ without an alembic.ini and without reading os.environ or .env."""
from pathlib import Path

import pytest
from alembic.config import Config

from manage_migrations import database

REPO = Path(__file__).resolve().parents[2]
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


@pytest.fixture
def alembic_config(make_settings, database_url) -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO / "migrations"))
    config.set_main_option("path_separator", "os")
    # env.py takes its settings from here, not from load_settings (the environment, .env).
    config.attributes["settings"] = make_settings(REPO, database_url)
    return config


@pytest.fixture(params=["Engine", "AsyncEngine"])
def alembic_engine(request, alembic_config):
    """What pytest-alembic hands env.py, made as manage.py makes its own engines."""
    url = database.database_url(alembic_config.attributes["settings"])
    if request.param == "AsyncEngine":
        url = url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()])
    engine = database.create_engine(url)
    yield engine
    getattr(engine, "sync_engine", engine).dispose()
