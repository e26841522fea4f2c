"""Settings that cannot be trusted are errors, secrets stay hidden, and the ways out an error
advises work as written. Through ``python manage.py`` in a subprocess; nothing is touched."""
import pytest
import sqlalchemy as sa

NAMES = ["0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique"]


def one_error(result) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("CommandError: "), result.stderr
    return result.stderr.rstrip("\n")


def succeeded(result) -> list[str]:
    assert (result.returncode, result.stderr) == (0, ""), (result.returncode, result.stdout, result.stderr)
    return result.stdout.splitlines()


def revision(url: str) -> list[str]:
    return execute(url, "SELECT version_num FROM alembic_version")


def execute(url: str, statement: str, **params):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement), params)
            return result.scalars().all() if result.returns_rows else None
    finally:
        engine.dispose()


@pytest.mark.parametrize("dotenv, expected", [
    ("DATABASE_URL=\n", "DATABASE_URL in {env} is set but empty: give it a database URL, or unset it to use DEFAULT_DATABASE_URL."),
    ("DATABASE_URL='   '\n", "DATABASE_URL in {env} is set but empty: give it a database URL, or unset it to use DEFAULT_DATABASE_URL."),
    ("# settings\nDEBUG=1\nthis line is not a setting\n", "{env}, line 3: python-dotenv cannot parse this line."),
    ("DATABSE_URL=postgresql://app@db/hotels\n", "{env} sets DATABSE_URL, not DATABASE_URL: correct the name, or remove it to use DEFAULT_DATABASE_URL."),
    (b"\xff\xfe\x00binary", "Cannot read {env}: it is not UTF-8 text."),
], ids=["empty", "blank", "unparsable line", "misspelt name", "binary"])
def test_a_dotenv_that_cannot_be_trusted_is_an_error(project_copy, run_manage, dotenv, expected):
    env = project_copy / ".env"
    env.write_bytes(dotenv if isinstance(dotenv, bytes) else dotenv.encode())

    result = run_manage(project_copy, "migrate")

    assert one_error(result) == "CommandError: " + expected.format(env=env)
    assert not (project_copy / "db.sqlite3").exists()


def test_a_dotenv_that_cannot_be_read_is_an_error(project_copy, run_manage):
    (project_copy / ".env").mkdir()
    assert one_error(run_manage(project_copy, "migrate")) == f"CommandError: Cannot read {project_copy / '.env'}: Is a directory."


def test_an_empty_database_url_in_the_environment_is_an_error(project_copy, run_manage):
    """A CI secret that is missing arrives as a variable set to nothing."""
    for value in ("", "  "):
        result = run_manage(project_copy, "migrate", env={"DATABASE_URL": value})
        assert one_error(result) == ("CommandError: DATABASE_URL in the environment is set but empty: "
                                     "give it a database URL, or unset it to use DEFAULT_DATABASE_URL.")
    assert not (project_copy / "db.sqlite3").exists()


def test_an_unknown_scheme_names_the_supported_ones(project_copy, run_manage):
    result = run_manage(project_copy, "migrate", database_url="ftp://files.example.com/hotels")
    assert one_error(result) == ("CommandError: Unknown database driver 'ftp' in DATABASE_URL: use one of "
                                 "mariadb://, mysql://, postgres://, postgresql://, sqlite://.")


def test_passwords_are_hidden_in_the_query_and_a_raw_at_sign_is_refused(project_copy, run_manage):
    result = run_manage(project_copy, "migrate",
                        database_url="postgresql://app@127.0.0.1:1/hotels?password=s3cret&sslpassword=k3y")
    error = one_error(result)
    assert "s3cret" not in error and "k3y" not in error
    assert "password=***" in error and "sslpassword=***" in error

    for raw in ("p@ss", "p@ss:w0rd"):  # with a ':' too, which the URL parser takes for a port
        result = run_manage(project_copy, "migrate", database_url=f"postgresql://app:{raw}@127.0.0.1:1/hotels")
        error = one_error(result)
        assert "p@ss" not in error and "ss@127" not in error and "w0rd" not in error
        assert error == ("CommandError: The password in DATABASE_URL holds a raw '@': URL-encode it (%40), "
                         "and a ':' as %3A.")


def test_an_empty_target_is_an_error(project_copy, run_manage, sqlite_url):
    result = run_manage(project_copy, "migrate", "", database_url=sqlite_url)
    assert one_error(result) == "CommandError: The migration target is empty: name a migration, or zero to unapply them all."
    assert not sa.inspect(sa.create_engine(sqlite_url)).has_table("alembic_version")


def test_fake_works_from_a_revision_no_file_has_as_the_error_advises(project_copy, run_manage, database_url):
    succeeded(run_manage(project_copy, "migrate", database_url=database_url))
    execute(database_url, "UPDATE alembic_version SET version_num = '0099_gone'")
    refused = one_error(run_manage(project_copy, "migrate", database_url=database_url))
    assert "'0099_gone'" in refused and "'fake'" in refused

    faked = succeeded(run_manage(project_copy, "fake", "0004", database_url=database_url))

    assert faked[:3] == ["Operations to perform:", "  Apply all migrations: project",
                         "Running migrations:"]
    assert faked[3] == "  Forgetting 0099_gone, which no migration file has."
    assert revision(database_url) == ["0004_make_email_unique"]
    assert succeeded(run_manage(project_copy, "migrate", database_url=database_url))[-1] == "  No migrations to apply."


def test_migrate_prune_forgets_migrations_whose_files_are_gone(project_copy, run_manage, sqlite_url):
    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    execute(sqlite_url, "INSERT INTO manage_migrations (revision, applied) VALUES ('0003_old_name', '2026-01-01')")

    assert succeeded(run_manage(project_copy, "migrate", "--prune", database_url=sqlite_url)) == [
        "Pruning migrations:", "  Pruning project.0003_old_name OK"]
    assert sorted(execute(sqlite_url, "SELECT revision FROM manage_migrations")) == NAMES
    assert succeeded(run_manage(project_copy, "migrate", "--prune", database_url=sqlite_url)) == [
        "Pruning migrations:", "  No migrations to prune."]


def test_the_mariadb_deploy_lock_is_per_database(project_copy, run_manage, mariadb_url):
    """A migrate holding the deploy lock of another database on the same server (here the
    server's own ``mysql`` database) does not hold up this one's."""
    from manage_migrations import lock
    from manage_migrations.output import Console

    other = sa.create_engine(mariadb_url.rsplit("/", 1)[0] + "/mysql", poolclass=sa.pool.NullPool)
    with other.connect() as connection, lock.deploy_lock(connection, 1, Console(0)):
        result = run_manage(project_copy, "migrate", "--lock-timeout", "1", database_url=mariadb_url)
    other.dispose()
    assert succeeded(result)[-1] == "  Applying 0004_make_email_unique... OK"


def test_a_migration_file_that_does_not_import_is_one_line_naming_it(project_copy, run_manage, sqlite_url):
    """It parses (so the index reads it), but importing it fails: one line, not a traceback."""
    from migration_file import write_migration

    write_migration(project_copy, "0005_broken", "0004_make_email_unique", head="import no_such_module_here")

    result = run_manage(project_copy, "migrate", database_url=sqlite_url)

    assert one_error(result) == ("CommandError: Migration file 0005_broken.py does not import: "
                                 "ModuleNotFoundError: No module named 'no_such_module_here'")
