"""manage_migrations.conf's settings and manage_migrations.database's URL handling.

The process environment is only ever changed through monkeypatch, which restores it."""
import os
import types
from pathlib import Path

import pytest

from manage_migrations import conf, database
from manage_migrations.output import CommandError
from manage_migrations.conf import Settings


@pytest.fixture
def no_database_url(monkeypatch):
    """Whatever the shell running the tests has set, these tests start without DATABASE_URL."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


def load_settings(base_dir: Path, env_file: Path | None = None, **names) -> Settings:
    """The settings of a project in ``base_dir`` whose settings module sets ``names`` (by
    default what startproject writes: SQLite beside manage.py), read as manage.py reads them."""
    if not (base_dir / "pyproject.toml").exists():
        (base_dir / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "migrations"\n')
    module = types.SimpleNamespace(__name__="site.settings", BASE_DIR=base_dir,
                                   **{"DEFAULT_DATABASE_URL": "sqlite:///db.sqlite3", **names})
    return conf.settings_from(module, env_file)


def sqlite_file(settings: Settings) -> str:
    return database.database_url(settings).database


# load_settings


def test_default_is_db_sqlite3_beside_manage_py(tmp_path, no_database_url):
    settings = load_settings(tmp_path)
    assert sqlite_file(settings) == str(tmp_path / "db.sqlite3")
    assert settings.base_dir == tmp_path


def test_default_when_the_env_file_has_no_database_url(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("SOMETHING_ELSE=1\n")
    assert sqlite_file(load_settings(tmp_path)) == str(tmp_path / "db.sqlite3")


def test_reads_database_url_from_dot_env_in_base_dir(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("# the hotel database\nDATABASE_URL=postgresql://app@db/hotels\n")
    assert load_settings(tmp_path).database_url == "postgresql://app@db/hotels"


def test_reads_a_quoted_value(tmp_path, no_database_url):
    (tmp_path / ".env").write_text('DATABASE_URL="postgresql://app:p#ss@db/hotels"\n')
    assert load_settings(tmp_path).database_url == "postgresql://app:p#ss@db/hotels"


def test_reads_the_env_file_given_instead_of_dot_env(tmp_path, no_database_url):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from_dot_env.sqlite3\n")
    other = tmp_path / "elsewhere" / "staging.env"
    other.parent.mkdir()
    other.write_text("DATABASE_URL=postgresql://app@staging/hotels\n")
    settings = load_settings(tmp_path, other)
    assert settings.database_url == "postgresql://app@staging/hotels"
    assert settings.base_dir == tmp_path


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://app@from-file/hotels\n")
    env_file = tmp_path / "given.env"
    env_file.write_text("DATABASE_URL=postgresql://app@from-given-file/hotels\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@from-environment/hotels")
    assert load_settings(tmp_path).database_url == "postgresql://app@from-environment/hotels"
    assert load_settings(tmp_path, env_file).database_url == (
        "postgresql://app@from-environment/hotels"
    )


def test_environment_wins_over_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////somewhere/else.sqlite3")
    assert load_settings(tmp_path).database_url == "sqlite:////somewhere/else.sqlite3"


def test_load_settings_does_not_write_into_os_environ(tmp_path, no_database_url, monkeypatch):
    monkeypatch.delenv("HOTELS_ONLY_IN_FILE", raising=False)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://app@db/hotels\nHOTELS_ONLY_IN_FILE=yes\n")
    before = dict(os.environ)
    settings = load_settings(tmp_path)
    assert settings.database_url == "postgresql://app@db/hotels"
    assert "DATABASE_URL" not in os.environ
    assert "HOTELS_ONLY_IN_FILE" not in os.environ
    assert dict(os.environ) == before


def test_the_migrations_are_where_the_alembic_config_says(tmp_path, no_database_url):
    settings = load_settings(tmp_path)
    assert settings.migrations_dir == tmp_path / "migrations"
    assert settings.versions_dir == tmp_path / "migrations" / "versions"
    assert settings.config_file == tmp_path / "pyproject.toml"


def test_an_alembic_ini_comes_first_and_is_read_as_alembic_reads_it(tmp_path, no_database_url):
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/src/migration\npath_separator = os\n"
        f"version_locations = src/migration/versions{os.pathsep}src/migration/other\n"
        "file_template = %%(year)d_%%(rev)s_%%(slug)s\nprepend_sys_path = .\n")
    settings = load_settings(tmp_path)
    assert settings.config_file == tmp_path / "alembic.ini"
    assert settings.migrations_dir == tmp_path / "src" / "migration"
    assert settings.migration_folders == [tmp_path / "src/migration/versions", tmp_path / "src/migration/other"]
    assert settings.file_template == "%(year)d_%(rev)s_%(slug)s"
    assert settings.prepend_sys_path == (tmp_path,)


def test_a_config_with_no_script_location_is_an_error(tmp_path, no_database_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "site"\n')
    (tmp_path / "alembic.ini").write_text("[alembic]\nsqlalchemy.url = sqlite://\n")
    with pytest.raises(CommandError, match="sets no script_location"):
        load_settings(tmp_path)


def test_without_a_default_no_database_url_is_an_error_naming_where_to_set_one(tmp_path, no_database_url):
    with pytest.raises(CommandError, match="No database: set DATABASE_URL in the environment or in"):
        load_settings(tmp_path, DEFAULT_DATABASE_URL=None)


def test_database_url_from_the_apps_own_configuration(tmp_path, monkeypatch):
    """DATABASE_URL_FROM names the app's configuration; it wins over DATABASE_URL, which a team
    that configures its app otherwise never sets for this project."""
    monkeypatch.setenv("DATABASE_URL", "sqlite:///not-this-one.sqlite3")
    app = types.ModuleType("fake_app_config")
    app.settings = types.SimpleNamespace(DB_URL="postgresql://app@db/hotels", EMPTY="")
    app.get_url = lambda: "postgresql://app@db/from_a_function"
    monkeypatch.setitem(__import__("sys").modules, "fake_app_config", app)
    assert load_settings(tmp_path, DATABASE_URL_FROM="fake_app_config:settings.DB_URL").database_url == \
        "postgresql://app@db/hotels"
    assert load_settings(tmp_path, DATABASE_URL_FROM="fake_app_config:get_url").database_url == \
        "postgresql://app@db/from_a_function"
    with pytest.raises(CommandError, match="DATABASE_URL_FROM names fake_app_config:settings.EMPTY, which gives no"):
        load_settings(tmp_path, DATABASE_URL_FROM="fake_app_config:settings.EMPTY")
    with pytest.raises(CommandError, match="DATABASE_URL_FROM: cannot load fake_app_config:settings.NOPE"):
        load_settings(tmp_path, DATABASE_URL_FROM="fake_app_config:settings.NOPE")


# database.database_url


def test_relative_sqlite_path_resolves_against_base_dir(tmp_path):
    url = database.database_url(Settings(base_dir=tmp_path, database_url="sqlite:///data/hotels.sqlite3", migrations_dir=tmp_path))
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database) == tmp_path / "data" / "hotels.sqlite3"


def test_absolute_sqlite_path_is_kept(tmp_path):
    where_it_is = tmp_path / "elsewhere" / "hotels.sqlite3"
    url = database.database_url(Settings(base_dir=tmp_path / "project", database_url=f"sqlite:///{where_it_is}", migrations_dir=tmp_path / "project"))
    assert Path(url.database) == where_it_is


@pytest.mark.parametrize("raw", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_kept(tmp_path, raw):
    url = database.database_url(Settings(base_dir=tmp_path, database_url=raw, migrations_dir=tmp_path))
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
    text = database.where(database.database_url(Settings(base_dir=tmp_path, database_url=raw, migrations_dir=tmp_path)))
    assert secret not in text
    assert "p%40ss" not in text
    assert "bob" in text and "db.example.com" in text and "hotels" in text


@pytest.mark.parametrize("raw", ["not a url", "", "://nothing", "hotels.sqlite3"])
def test_malformed_url_is_a_one_line_command_error(tmp_path, raw):
    with pytest.raises(CommandError) as excinfo:
        database.database_url(Settings(base_dir=tmp_path, database_url=raw, migrations_dir=tmp_path))
    text = excinfo.value.format_message()
    assert text.startswith("DATABASE_URL is not a database URL")
    assert "\n" not in text


def test_malformed_port_is_a_one_line_command_error_without_the_password(tmp_path):
    """SQLAlchemy's make_url raises ValueError, not ArgumentError, for a port that is not a
    number; that must still be a CommandError, not a traceback."""
    raw = "postgresql://bob:s3cret@db.example.com:abc/hotels"
    with pytest.raises(CommandError) as excinfo:
        database.database_url(Settings(base_dir=tmp_path, database_url=raw, migrations_dir=tmp_path))
    text = excinfo.value.format_message()
    assert "\n" not in text
    assert "s3cret" not in text


def test_a_user_with_no_home_directory_has_no_cache(monkeypatch, tmp_path):
    """``docker run -u 12345``: no HOME and no passwd entry, so Path.home() raises. The commands
    then run with no cache instead of failing."""
    from manage_migrations.conf import user_cache_dir

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert user_cache_dir(tmp_path, environ={}) is None
    assert user_cache_dir(tmp_path, environ={"XDG_CACHE_HOME": str(tmp_path)}).parent == tmp_path / "manage-migrations"


def test_the_table_lock_timeout_comes_from_the_environment_or_dot_env(tmp_path, no_database_url, monkeypatch):
    monkeypatch.delenv("MIGRATE_TABLE_LOCK_TIMEOUT", raising=False)
    assert load_settings(tmp_path).table_lock_timeout == 10
    (tmp_path / ".env").write_text("MIGRATE_TABLE_LOCK_TIMEOUT=2.5\n")
    assert load_settings(tmp_path).table_lock_timeout == 2.5
    monkeypatch.setenv("MIGRATE_TABLE_LOCK_TIMEOUT", "4")
    assert load_settings(tmp_path).table_lock_timeout == 4


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf", "nan"])
def test_a_table_lock_timeout_that_is_not_a_positive_number_is_an_error(tmp_path, no_database_url, monkeypatch, value):
    monkeypatch.setenv("MIGRATE_TABLE_LOCK_TIMEOUT", value)
    with pytest.raises(CommandError, match="MIGRATE_TABLE_LOCK_TIMEOUT must be a number of seconds above 0"):
        load_settings(tmp_path)
