"""project.settings.load_settings and project.database's URL handling.

The process environment is only ever changed through monkeypatch, which restores it."""
import os
from pathlib import Path

import pytest

from project import database
from project.output import CommandError
from project.settings import Settings, load_settings


@pytest.fixture
def no_database_url(monkeypatch):
    """Whatever the shell running the tests has set, these tests start without DATABASE_URL."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


# load_settings


def test_default_is_db_sqlite3_beside_manage_py(tmp_path, no_database_url):
    settings = load_settings(base_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert settings.base_dir == tmp_path


def test_default_when_the_env_file_has_no_database_url(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("SOMETHING_ELSE=1\n")
    assert load_settings(base_dir=tmp_path).database_url == f"sqlite:///{tmp_path / 'db.sqlite3'}"


def test_reads_database_url_from_dot_env_in_base_dir(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("# the hotel database\nDATABASE_URL=postgresql://app@db/hotels\n")
    assert load_settings(base_dir=tmp_path).database_url == "postgresql://app@db/hotels"


def test_reads_a_quoted_value(tmp_path, no_database_url):
    (tmp_path / ".env").write_text('DATABASE_URL="postgresql://app:p#ss@db/hotels"\n')
    assert load_settings(base_dir=tmp_path).database_url == "postgresql://app:p#ss@db/hotels"


def test_reads_the_env_file_given_instead_of_dot_env(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from_dot_env.sqlite3\n")
    other = tmp_path / "elsewhere" / "staging.env"
    other.parent.mkdir()
    other.write_text("DATABASE_URL=postgresql://app@staging/hotels\n")
    settings = load_settings(env_file=other, base_dir=tmp_path)
    assert settings.database_url == "postgresql://app@staging/hotels"
    assert settings.base_dir == tmp_path


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://app@from-file/hotels\n")
    env_file = tmp_path / "given.env"
    env_file.write_text("DATABASE_URL=postgresql://app@from-given-file/hotels\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@from-environment/hotels")
    assert load_settings(base_dir=tmp_path).database_url == "postgresql://app@from-environment/hotels"
    assert load_settings(env_file=env_file, base_dir=tmp_path).database_url == (
        "postgresql://app@from-environment/hotels"
    )


def test_environment_wins_over_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////somewhere/else.sqlite3")
    assert load_settings(base_dir=tmp_path).database_url == "sqlite:////somewhere/else.sqlite3"


def test_load_settings_does_not_write_into_os_environ(tmp_path, no_database_url, monkeypatch):
    monkeypatch.delenv("HOTELS_ONLY_IN_FILE", raising=False)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://app@db/hotels\nHOTELS_ONLY_IN_FILE=yes\n")
    before = dict(os.environ)
    settings = load_settings(base_dir=tmp_path)
    assert settings.database_url == "postgresql://app@db/hotels"
    assert "DATABASE_URL" not in os.environ
    assert "HOTELS_ONLY_IN_FILE" not in os.environ
    assert dict(os.environ) == before


def test_migrations_folders_are_beside_manage_py(tmp_path):
    settings = Settings(base_dir=tmp_path, database_url="sqlite://")
    assert settings.migrations_dir == tmp_path / "migrations"
    assert settings.versions_dir == tmp_path / "migrations" / "versions"


# database.database_url


def test_relative_sqlite_path_resolves_against_base_dir(tmp_path):
    url = database.database_url(Settings(base_dir=tmp_path, database_url="sqlite:///data/hotels.sqlite3"))
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database) == tmp_path / "data" / "hotels.sqlite3"


def test_absolute_sqlite_path_is_kept(tmp_path):
    where_it_is = tmp_path / "elsewhere" / "hotels.sqlite3"
    url = database.database_url(Settings(base_dir=tmp_path / "project", database_url=f"sqlite:///{where_it_is}"))
    assert Path(url.database) == where_it_is


@pytest.mark.parametrize("raw", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_kept(tmp_path, raw):
    url = database.database_url(Settings(base_dir=tmp_path, database_url=raw))
    assert url.database in (None, "", ":memory:")


@pytest.mark.parametrize(
    "raw, secret",
    [
        ("postgresql://bob:s3cret@db.example.com:5432/hotels", "s3cret"),
        ("postgresql://bob:p%40ss%25w0rd@db.example.com/hotels", "p@ss%w0rd"),
        ("mysql://bob:hunter2@db.example.com/hotels", "hunter2"),
    ],
)
def test_where_never_shows_the_password(tmp_path, raw, secret):
    text = database.where(database.database_url(Settings(base_dir=tmp_path, database_url=raw)))
    assert secret not in text
    assert "p%40ss" not in text
    assert "bob" in text and "db.example.com" in text and "hotels" in text


@pytest.mark.parametrize("raw", ["not a url", "", "://nothing", "hotels.sqlite3"])
def test_malformed_url_is_a_one_line_command_error(tmp_path, raw):
    with pytest.raises(CommandError) as excinfo:
        database.database_url(Settings(base_dir=tmp_path, database_url=raw))
    text = excinfo.value.format_message()
    assert text.startswith("DATABASE_URL is not a database URL")
    assert "\n" not in text


def test_malformed_port_is_a_one_line_command_error_without_the_password(tmp_path):
    """SQLAlchemy's make_url raises ValueError, not ArgumentError, for a port that is not a
    number; that must still be a CommandError, not a traceback."""
    raw = "postgresql://bob:s3cret@db.example.com:abc/hotels"
    with pytest.raises(CommandError) as excinfo:
        database.database_url(Settings(base_dir=tmp_path, database_url=raw))
    text = excinfo.value.format_message()
    assert "\n" not in text
    assert "s3cret" not in text


def test_a_user_with_no_home_directory_has_no_cache(monkeypatch, tmp_path):
    """``docker run -u 12345``: no HOME and no passwd entry, so Path.home() raises. The commands
    then run with no cache instead of failing."""
    from project.settings import user_cache_dir

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert user_cache_dir(tmp_path, environ={}) is None
    assert user_cache_dir(tmp_path, environ={"XDG_CACHE_HOME": str(tmp_path)}).parent == tmp_path / "manage-migrations"


def test_the_table_lock_timeout_comes_from_the_environment_or_dot_env(tmp_path, no_database_url, monkeypatch):
    monkeypatch.delenv("MIGRATE_TABLE_LOCK_TIMEOUT", raising=False)
    assert load_settings(base_dir=tmp_path).table_lock_timeout == 10
    (tmp_path / ".env").write_text("MIGRATE_TABLE_LOCK_TIMEOUT=2.5\n")
    assert load_settings(base_dir=tmp_path).table_lock_timeout == 2.5
    monkeypatch.setenv("MIGRATE_TABLE_LOCK_TIMEOUT", "4")
    assert load_settings(base_dir=tmp_path).table_lock_timeout == 4


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf", "nan"])
def test_a_table_lock_timeout_that_is_not_a_positive_number_is_an_error(tmp_path, no_database_url, monkeypatch, value):
    monkeypatch.setenv("MIGRATE_TABLE_LOCK_TIMEOUT", value)
    with pytest.raises(CommandError, match="MIGRATE_TABLE_LOCK_TIMEOUT must be a number of seconds above 0"):
        load_settings(base_dir=tmp_path)
