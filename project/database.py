"""Connections to the configured database, and the one-line errors when they fail.

Only commands that touch the database import this module (it imports SQLAlchemy).
"""
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from project.output import CommandError
from project.settings import Settings


def database_url(settings: Settings) -> URL:
    """The settings' URL as SQLAlchemy's URL; a relative SQLite path is relative to the project."""
    try:
        url = make_url(settings.database_url)
    except sa.exc.ArgumentError:
        raise CommandError("DATABASE_URL is not a database URL of the form dialect://user@host/name.") from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_absolute():
            url = url.set(database=str(settings.base_dir / url.database))
    return url


def where(url: URL) -> str:
    """The database named for a person: never with its password."""
    return url.render_as_string(hide_password=True)


def one_line(exc: BaseException) -> str:
    """The first line of an error: a database's own message without SQLAlchemy's statement and
    link, any other error with its type."""
    if isinstance(exc, sa.exc.DBAPIError):
        message = str(exc.orig).strip()
    else:
        message = f"{type(exc).__name__}: {exc}".strip()
    return message.splitlines()[0] if message else type(exc).__name__


def create_engine(url: URL) -> sa.Engine:
    return sa.create_engine(url, poolclass=NullPool)


@contextmanager
def connect(url: URL):
    """One connection for the whole command, closed afterwards."""
    engine = create_engine(url)
    try:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise CommandError(f"Cannot connect to {where(url)}: {one_line(exc)}") from exc
        with connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def scratch_database(url: URL):
    """An empty database of the same kind as ``url``, thrown away afterwards: what
    ``makemigrations`` brings to head to learn the schema the migrations produce."""
    if url.get_backend_name() != "sqlite":
        raise CommandError(f"makemigrations cannot make a scratch database for {url.get_backend_name()} yet.")
    with tempfile.TemporaryDirectory(prefix="makemigrations-") as folder:
        with connect(url.set(database=str(Path(folder) / "scratch.sqlite3"))) as connection:
            yield connection
