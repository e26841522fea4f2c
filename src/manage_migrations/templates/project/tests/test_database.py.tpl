"""Tests on the test database: test_<name> of the configured database (test_db.sqlite3 beside
db.sqlite3), built by the migrations once per run and dropped at its end (--reuse-db keeps it).
Each test's work in db_session is rolled back at its end, session.commit() included:

    def test_titles_are_unique(db_session):
        db_session.add(Note(title="Groceries"))
        db_session.commit()
        ...
"""
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

PROJECT = Path(__file__).resolve().parent.parent


def test_the_test_database_is_at_the_latest_migration(db_session):
    latest = ScriptDirectory.from_config(Config(str(PROJECT / "alembic.ini"))).get_heads()
    assert set(MigrationContext.configure(db_session.connection()).get_current_heads()) == set(latest)
    assert db_session.scalar(sa.select(1)) == 1
