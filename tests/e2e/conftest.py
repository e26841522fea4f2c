"""Helpers for the end-to-end tests: they look at what ``python manage.py ...`` really did, in
the database (tables, the ``alembic_version`` row) and in ``migrations/versions``.

The fixtures that make databases, project copies and subprocesses are in ``tests/conftest.py``.
"""
import ast
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

APP_TABLES = {"hotels", "rooms", "users", "bookings"}

BOOKINGS_MODEL = '''\
from datetime import date

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from project.models.base import Base


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    check_in: Mapped[date]
'''


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _table_names(url: str) -> set[str]:
    engine = _engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    """The one row of ``alembic_version``, or None when the table is missing or empty."""
    engine = _engine(url)
    try:
        if "alembic_version" not in sa.inspect(engine).get_table_names():
            return None
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        assert len(rows) <= 1, f"alembic_version has several rows: {rows}"
        return rows[0] if rows else None
    finally:
        engine.dispose()


def _server_admin_url(url: str) -> sa.URL:
    return make_url(url).set(database="postgres")


def _database_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database).exists()
    engine = _engine(_server_admin_url(url))
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": parsed.database}).first()
        return found is not None
    finally:
        engine.dispose()


def _succeeded(result) -> list[str]:
    assert result.returncode == 0, (
        f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert result.stderr == "", f"stderr of a successful run:\n{result.stderr}"
    return result.stdout.splitlines()


@pytest.fixture
def together():
    """``together(f, g, ...)``: call each function in a thread of its own, two at a time (this is
    a 2-core machine), and return their results in order. For independent runs of manage.py
    (say two read-only commands, or two chains of commands on two databases), which are
    otherwise a second each of waiting on Python's start-up."""

    def run(*functions):
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(function) for function in functions]
            return [future.result() for future in futures]

    return run


@pytest.fixture
def succeeded():
    """``succeeded(result)``: asserts exit status 0 and an empty stderr; returns stdout's lines."""
    return _succeeded


@pytest.fixture
def tables():
    """``tables(url)``: the set of every table name in that database, bookkeeping ones too."""
    return _table_names


@pytest.fixture
def app_tables():
    """``app_tables(url)``: which of the sample app's tables (hotels, rooms, users, and the
    bookings the tests add) are in that database; bookkeeping tables are left out."""
    return lambda url: _table_names(url) & APP_TABLES


@pytest.fixture
def revision():
    """``revision(url)``: the revision recorded in ``alembic_version``, None for none."""
    return _revision


@pytest.fixture
def database_exists():
    """``database_exists(url)``: whether the SQLite file or the PostgreSQL database exists."""
    return _database_exists


@pytest.fixture
def absent_database_url(database_url, tmp_path):
    """A URL of the same kind as ``database_url`` for a database that does not exist (yet).
    On PostgreSQL it is dropped afterwards in case the command under test created it."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'never_created.sqlite3'}"
        return
    absent = parsed.set(database=f"{parsed.database}_absent")
    try:
        yield absent.render_as_string(hide_password=False)
    finally:
        admin = sa.create_engine(_server_admin_url(database_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{absent.database}" WITH (FORCE)')
        finally:
            admin.dispose()


@pytest.fixture
def add_bookings_model():
    """``add_bookings_model(folder)``: the issue's new model file, with no other edit."""

    def add(folder: Path) -> None:
        (folder / "project" / "models" / "bookings.py").write_text(BOOKINGS_MODEL)

    return add


@pytest.fixture
def versions():
    """``versions(folder)``: the migration file names (without .py) in migrations/versions."""

    def names(folder: Path) -> list[str]:
        return sorted(path.stem for path in (folder / "migrations" / "versions").glob("*.py"))

    return names


@pytest.fixture
def migration_header():
    """``migration_header(path)``: the module-level ``revision``/``down_revision``/... values of
    a migration file, read without importing it."""

    def read(path: Path) -> dict:
        values = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
        return values

    return read
