"""The record's names and rows, shared by its reads with SQLAlchemy (``recorder``) and without
(``direct``): Alembic's version table and manage.py's two beside it, a row of the history, and
which applied migrations' files changed since they ran."""
from datetime import datetime, timezone
from typing import NamedTuple

from manage_migrations import graph
from manage_migrations.loader import checksum

READ_LOCK_TIMEOUT = 5  # seconds a read of the version table waits behind another session's lock
VERSION_TABLE = "alembic_version"  # Alembic's default
CHECKSUM = "checksum"  # the history's column for each file's digest when it was applied (loader.checksum)


def record_tables(version_table: str = VERSION_TABLE) -> tuple[str, str]:
    """The names of manage.py's own two tables beside a version table: when each migration was
    applied (which the version table does not keep: Django's django_migrations), and the
    migrations started and not finished. Beside ``alembic_version`` they are
    ``manage_migrations`` and ``manage_migrations_unfinished``; beside a version table of a
    project's own, named after it, so that two projects in one database keep apart."""
    if version_table == VERSION_TABLE:
        return "manage_migrations", "manage_migrations_unfinished"
    return f"{version_table}_history", f"{version_table}_unfinished"


class Applied(NamedTuple):
    """A row of the history: when a migration ran (in UTC) and its file's checksum then."""
    at: datetime
    checksum: str | None


def in_utc(applied: datetime) -> datetime:
    """A history row's date in UTC, as Django shows them, whatever the session's time zone (a
    date without one, as SQLite and MariaDB keep them, was written in UTC)."""
    return applied.astimezone(timezone.utc) if applied.tzinfo else applied.replace(tzinfo=timezone.utc)


def changed_since_applied(migrations: list[graph.Migration], applied: set[str],
                          rows: dict[str, Applied]) -> dict[str, Applied]:
    """The applied migrations whose file is no longer the one that ran, with their row: an edit
    the database never saw (each file's checksum as the index keeps it, else read now). A row
    without a checksum (written before they were kept) or a file that cannot be read is never
    flagged."""
    return {m.revision: rows[m.revision] for m in migrations
            if m.revision in applied and m.revision in rows and rows[m.revision].checksum is not None
            and (m.checksum or checksum(m.path)) not in (None, rows[m.revision].checksum)}
