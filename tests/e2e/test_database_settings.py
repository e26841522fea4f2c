"""Where ``python manage.py`` finds its database: DATABASE_URL from the environment, else from
``.env`` beside manage.py (or ``--env-file``), else ``db.sqlite3`` beside manage.py."""
from sqlalchemy.engine import make_url


def test_no_database_url_means_db_sqlite3_beside_manage_py(project_copy, run_manage, tmp_path, succeeded,
                                                           revision):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lines = succeeded(run_manage(project_copy, "migrate", "0001", cwd=elsewhere))  # no DATABASE_URL at all
    assert lines[-1] == "  Applying 0001_create_table_hotels... OK"
    assert (project_copy / "db.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []
    assert revision(f"sqlite:///{project_copy / 'db.sqlite3'}") == "0001_create_table_hotels"


def test_dotenv_environment_and_env_file(project_copy, run_manage, tmp_path, succeeded, revision, together):
    """Three runs side by side, each on a database of its own, with a .env beside manage.py:
    without DATABASE_URL in the environment (.env is read), with it (the environment wins),
    and with --env-file naming another file (read instead of .env)."""
    dotenv_db, environ_db = tmp_path / "dotenv.sqlite3", tmp_path / "environ.sqlite3"
    (project_copy / ".env").write_text(f"DATABASE_URL=sqlite:///{dotenv_db}\n")
    # Run from tmp_path: --env-file is a path from the current folder, while the relative SQLite
    # path in it is beside manage.py, as .env.example says.
    (tmp_path / "other.env").write_text("DATABASE_URL=sqlite:///other.sqlite3\n")

    from_dotenv, from_environ, from_env_file = together(
        lambda: run_manage(project_copy, "migrate", "0001"),
        lambda: run_manage(project_copy, "migrate", "0002", database_url=f"sqlite:///{environ_db}"),
        lambda: run_manage(project_copy, "--env-file", "other.env", "migrate", "0003", cwd=tmp_path),
    )
    for result in (from_dotenv, from_environ, from_env_file):
        succeeded(result)
    assert revision(f"sqlite:///{dotenv_db}") == "0001_create_table_hotels"
    assert revision(f"sqlite:///{environ_db}") == "0002_create_table_rooms"
    assert revision(f"sqlite:///{project_copy / 'other.sqlite3'}") == "0003_add_users"
    assert not (tmp_path / "other.sqlite3").exists()
    assert not (project_copy / "db.sqlite3").exists()


def test_password_with_percent_in_a_plain_postgresql_url(project_copy, run_manage, postgres_url, succeeded,
                                                          app_tables, revision):
    """``postgresql://user:p%25ss@host/name`` as a user writes it: no driver named, and a ``%``
    in the password (the server trusts local users, so any password gets in)."""
    database = make_url(postgres_url)
    url = f"postgresql://{database.username}:p%25ss@{database.host}:{database.port}/{database.database}"

    lines = succeeded(run_manage(project_copy, "migrate", "0002", database_url=url))
    assert lines[-2:] == ["  Applying 0001_create_table_hotels... OK", "  Applying 0002_create_table_rooms... OK"]
    assert app_tables(postgres_url) == {"hotels", "rooms"}
    assert revision(postgres_url) == "0002_create_table_rooms"

    assert succeeded(run_manage(project_copy, "makemigrations", "--check", database_url=url)) == [
        "No changes detected"]
    assert revision(postgres_url) == "0002_create_table_rooms"
