"""Test databases, as Django's ``creation.py``: the project's database with ``test_`` before its
name (``test_<file name>`` beside a SQLite file), built by the project's own migrations as
``migrate`` runs them (its env.py, its history records), for the pytest plugin
(``pytest_plugin``) and ``manage.py test``.

Migrating takes longer the longer the history, so the migrated database is kept where a copy of
it is cheap, keyed by a digest of what decides its schema (``digest``):

- PostgreSQL: a template database ``test_<name>_tpl_<digest>`` on the same server, built once
  under an advisory lock (pytest-xdist's workers start together: one builds, the others wait);
  each test database is ``CREATE DATABASE ... TEMPLATE`` of it, a copy whose time does not
  depend on how many migrations made it.
- SQLite: a template file in the user's cache for the project, copied.
- MariaDB has no templates: each test database is migrated.

A template of another digest is dropped when a new one is built. Beside the cache, a file
says which digest each test database was built from, so that ``--reuse-db`` never reuses one
whose migrations changed.
"""
import dataclasses
import fcntl
import hashlib
import os
import re
import shutil
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from manage_migrations import database, loader
from manage_migrations.conf import Settings
from manage_migrations.output import CommandError, Console
from manage_migrations.scratch import on_server

POSTGRES_NAME_LENGTH = 63


def create_test_db(settings: Settings, suffix: str = "", keepdb: bool = False) -> URL:
    """The URL of a test database at the migrations' head, made now (replacing any of that
    name); with ``keepdb``, the one the last run left is used again when it was built from the
    same migrations. ``suffix`` tells apart pytest-xdist's workers (``_gw0``)."""
    url, key = url_for_tests(settings, suffix), digest(settings)
    marker = _marker(settings, url)
    if keepdb and marker is not None and marker.exists() and marker.read_text() == key and _exists(url):
        return url
    if marker is not None:
        marker.unlink(missing_ok=True)
    backend = url.get_backend_name()
    if backend == "sqlite":
        _copy_file(settings, url, key)
    elif backend == "postgresql":
        _copy_template(settings, url, key)
    else:
        with on_server(url) as sql:
            _drop(sql, url, url.database)
            sql(f"CREATE DATABASE {_quoted(url, url.database)}")
        _migrate(settings, url)
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(key)
    return url


def destroy_test_db(settings: Settings, url: URL) -> None:
    """Drop a test database (templates stay: they are the cache)."""
    marker = _marker(settings, url)
    if marker is not None:
        marker.unlink(missing_ok=True)
    if url.get_backend_name() == "sqlite":
        _remove_file(Path(url.database))
        return
    with on_server(url) as sql:
        _drop(sql, url, url.database)


def drop_templates(settings: Settings) -> None:
    """Drop the project's templates, whatever their digest (``--create-db``: migrate again even
    when the digest is the same, as after a change to code a migration imports)."""
    url = url_for_tests(settings)
    if url.get_backend_name() == "postgresql":
        with on_server(url) as sql:
            for name in _templates(sql, settings):
                _drop(sql, url, name)
    elif url.get_backend_name() == "sqlite" and settings.cache_dir is not None:
        for old in settings.cache_dir.glob("test-template-*.sqlite3"):
            old.unlink(missing_ok=True)


def url_for_tests(settings: Settings, suffix: str = "") -> URL:
    """Django's name for the test database: ``test_`` and the configured database's name."""
    url = database.database_url(settings)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise CommandError("The test database is a copy of a SQLite file built by the migrations: set "
                               "DATABASE_URL to a file, not to an in-memory database.")
        path = Path(url.database)
        return url.set(database=str(path.with_name(f"test_{path.stem}{suffix}{path.suffix}")))
    if not url.database:
        raise CommandError(f"DATABASE_URL names no database ({database.where(url)}): the test database's "
                           "name is test_ and its name.")
    return url.set(database=f"test_{url.database}{suffix}")


def digest(settings: Settings) -> str:
    """What decides the schema at head: env.py, every migration file (its path and content),
    the -x arguments, and the versions of manage-migrations, Alembic and SQLAlchemy."""
    from importlib.metadata import version

    import alembic

    salt = f"{version('manage-migrations')}:{alembic.__version__}:{sa.__version__}:{settings.x_arguments}"
    return loader.fingerprint(settings.migrations_dir / "env.py", loader.files_of(settings), salt)


def _migrate(settings: Settings, url: URL) -> None:
    """``manage.py migrate`` on ``url``, silently."""
    from manage_migrations.commands.migrate import migrate

    try:
        migrate(dataclasses.replace(settings, database_url=url.render_as_string(hide_password=False)), Console(0))
    except CommandError as exc:
        raise CommandError(f"While migrating the test database {database.where(url)}: {exc}") from exc


def _copy_template(settings: Settings, url: URL, key: str) -> None:
    """PostgreSQL: the test database as a copy of the template of ``key``, which the first
    session to need it builds while holding an advisory lock on its name. A template is marked
    as one (``IS_TEMPLATE``) once its migrations have run: one without the mark is what a
    build that failed or was killed left, and is built again."""
    template = f"{_template_prefix(settings)}_tpl_{key[:16]}"
    lock = int.from_bytes(hashlib.sha256(template.encode()).digest()[:8], "big", signed=True)
    with on_server(url) as sql:
        sql(f"SELECT pg_advisory_lock({lock})")
        try:
            if not _databases(sql).get(template):
                for name in _templates(sql, settings):  # older ones, and a build of this one left half-way
                    _drop(sql, url, name)
                sql(f"CREATE DATABASE {_quoted(url, template)}")
                _migrate(settings, url.set(database=template))
                sql(f"ALTER DATABASE {_quoted(url, template)} IS_TEMPLATE true")
        finally:
            sql(f"SELECT pg_advisory_unlock({lock})")
        _drop(sql, url, url.database)
        sql(f"CREATE DATABASE {_quoted(url, url.database)} TEMPLATE {_quoted(url, template)}")


def _template_prefix(settings: Settings) -> str:
    """``test_<name>`` (without a worker's suffix: the workers share the template), cut so that
    a template's name fits in PostgreSQL's 63 characters."""
    return url_for_tests(settings).database[:POSTGRES_NAME_LENGTH - len("_tpl_") - 16]


def _templates(sql, settings: Settings) -> list[str]:
    """The project's templates on the server, of every digest."""
    pattern = re.escape(_template_prefix(settings)) + "_tpl_[0-9a-f]{16}"
    return [name for name in _databases(sql) if re.fullmatch(pattern, name)]


def _databases(sql) -> dict[str, bool]:
    """PostgreSQL's databases, each with whether it is marked as a template."""
    return dict(sql("SELECT datname, datistemplate FROM pg_database").all())


def _copy_file(settings: Settings, url: URL, key: str) -> None:
    """SQLite: the test file as a copy of the template file of ``key`` in the user's cache,
    which the first session to need it builds while holding a lock on a file beside it. With
    no cache (a user with no home directory), the test file is migrated itself."""
    target = Path(url.database)
    _remove_file(target)
    if settings.cache_dir is None:
        return _migrate(settings, url)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    template = settings.cache_dir / f"test-template-{key}.sqlite3"
    with open(settings.cache_dir / "test-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            for old in settings.cache_dir.glob("test-template-*.sqlite3"):
                old.unlink()
            building = template.with_suffix(".building")
            _remove_file(building)
            _migrate(settings, url.set(database=str(building)))
            os.replace(building, template)
    shutil.copyfile(template, target)


def _remove_file(path: Path) -> None:
    """A SQLite file, with the journal files a killed run may have left beside it."""
    for name in (path, *(path.with_name(path.name + end) for end in ("-journal", "-wal", "-shm"))):
        name.unlink(missing_ok=True)


def _exists(url: URL) -> bool:
    if url.get_backend_name() == "sqlite":
        return Path(url.database).exists()
    with on_server(url) as sql:
        if url.get_backend_name() == "postgresql":
            return url.database in _databases(sql)
        return url.database in set(sql("SELECT schema_name FROM information_schema.schemata").scalars())


def _drop(sql, url: URL, name: str) -> None:
    """DROP DATABASE, on PostgreSQL 13 and later closing the connections to it that a pooler
    or a killed run left (the database is ours: a test database or a template)."""
    if url.get_backend_name() == "postgresql":
        if _databases(sql).get(name):
            sql(f"ALTER DATABASE {_quoted(url, name)} IS_TEMPLATE false")  # a template cannot be dropped
        force = int(sql("SHOW server_version_num").scalar()) >= 130000
        sql(f"DROP DATABASE IF EXISTS {_quoted(url, name)}{' WITH (FORCE)' if force else ''}")
    else:
        sql(f"DROP DATABASE IF EXISTS {_quoted(url, name)}")


def _quoted(url: URL, name: str) -> str:
    return url.get_dialect()().identifier_preparer.quote(name)


def _marker(settings: Settings, url: URL) -> Path | None:
    """The file, in the user's cache for the project, that holds the digest the test database
    ``url`` was built from; None without a cache (then a test database is never reused)."""
    if settings.cache_dir is None:
        return None
    return settings.cache_dir / "test-databases" / hashlib.sha256(database.where(url).encode()).hexdigest()[:16]
