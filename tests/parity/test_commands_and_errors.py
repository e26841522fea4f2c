"""Django's smaller commands and options, and the errors a user meets, through
``python manage.py`` in a subprocess (a few in-process where the brief is about Click itself):
applied dates, verbosity, sqlmigrate, dbshell, check, --noinput, colour, shell completion,
bad input, and the Alembic cookbook and CLI on the same migrations."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from manage_migrations.cli import cli
from migration_file import write_migration

REPO = Path(__file__).resolve().parents[2]
NAMES = ["0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique"]
APP_TABLES = {"hotels", "rooms", "users"}
DATED = re.compile(r"^ \[X\] (?P<name>\S+) \(applied at (?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# helpers


def one_error(result, exit_code: int = 1) -> str:
    """Exactly one ``CommandError: ...`` line on stderr, no traceback; returns that line."""
    assert result.returncode == exit_code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("CommandError: "), result.stderr
    return result.stderr.rstrip("\n")


def succeeded(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def table_names(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def version(url: str) -> list[str]:
    engine = engine_for(url)
    try:
        if not sa.inspect(engine).has_table("alembic_version"):
            return []
        with engine.connect() as connection:
            return sorted(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    finally:
        engine.dispose()


def history(url: str) -> list[str]:
    """The revisions manage.py recorded a date for, in its own table."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.exec_driver_sql("SELECT revision FROM manage_migrations").scalars())
    finally:
        engine.dispose()


def now() -> datetime:
    """UTC, to the second, as showmigrations prints it."""
    return datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


def dates(stdout: str) -> dict[str, datetime]:
    found = {}
    for line in stdout.splitlines():
        match = DATED.match(line)
        if match:
            found[match["name"]] = datetime.strptime(match["when"], "%Y-%m-%d %H:%M:%S")
    return found


def with_password(url: str, password: str) -> str:
    """The same database with a password in the URL (trust authentication ignores it)."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


# 1. applied dates in showmigrations -v 2


def test_showmigrations_v2_dates_what_manage_py_applied_and_fake_records_dates_too(
        project_copy, run_manage, database_url):
    started = now()
    succeeded(run_manage(project_copy, "migrate", database_url=database_url))
    finished = now()
    succeeded(run_manage(project_copy, "migrate", "0002", database_url=database_url))

    shown = succeeded(run_manage(project_copy, "showmigrations", "-v", "2", database_url=database_url)).stdout

    lines = shown.splitlines()
    assert lines[0] == "project"
    assert [DATED.match(line)["name"] for line in lines[1:3]] == NAMES[:2]
    assert lines[3:] == [" [ ] 0003_add_users", " [ ] 0004_make_email_unique"]
    first = dates(shown)
    assert set(first) == set(NAMES[:2])
    assert all(started <= when <= finished for when in first.values()), (started, first, finished)
    # Unapplying forgets the date, as Django deletes the django_migrations row.
    assert history(database_url) == NAMES[:2]

    faked_from = now()
    succeeded(run_manage(project_copy, "fake", "head", database_url=database_url))
    faked_until = now()

    again = succeeded(run_manage(project_copy, "showmigrations", "-v", "2", database_url=database_url)).stdout
    second = dates(again)
    assert len(again.splitlines()) == 5 and set(second) == set(NAMES)
    assert {name: second[name] for name in NAMES[:2]} == first
    assert all(faked_from <= second[name] <= faked_until for name in NAMES[2:]), (faked_from, second, faked_until)
    assert history(database_url) == NAMES


def test_applied_dates_are_utc_whatever_the_postgresql_session_time_zone(project_copy, run_manage, postgres_url):
    # Django shows applied dates in UTC; SQLite here does too. A PostgreSQL session in another
    # zone (PGTZ, or the server's `timezone` setting) must not shift them.
    tokyo = {"PGTZ": "Asia/Tokyo"}
    started = now()
    succeeded(run_manage(project_copy, "migrate", "0001", database_url=postgres_url, env=tokyo))
    finished = now()

    shown = succeeded(run_manage(project_copy, "showmigrations", "-v", "2", database_url=postgres_url, env=tokyo))

    when = dates(shown.stdout)["0001_create_table_hotels"]
    assert started <= when <= finished, (started, shown.stdout, finished)


# 2. verbosity


def test_verbosity_0_silences_progress_on_success(project_copy, run_manage, sqlite_url):
    """As Django: nothing but the answer a command exists to give (showmigrations' list)."""
    for args, revision in [
        (["-v", "0", "migrate", "0002"], ["0002_create_table_rooms"]),
        (["migrate", "-v", "0"], ["0004_make_email_unique"]),
        (["migrate", "zero", "--fake", "--verbosity", "0"], []),
        (["makemigrations", "-v", "0"], []),
    ]:
        result = run_manage(project_copy, *args, database_url=sqlite_url)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), args
        assert version(sqlite_url) == revision, args
    listed = run_manage(project_copy, "showmigrations", "-v", "0", database_url=sqlite_url)
    assert (listed.returncode, listed.stdout.splitlines()) == (0, ["project", *(f" [ ] {n}" for n in NAMES)])
    assert table_names(sqlite_url) >= APP_TABLES  # fake zero kept the tables
    assert sorted(p.name for p in (project_copy / "migrations" / "versions").glob("*.py")) == [f"{n}.py" for n in NAMES]


def test_verbosity_2_times_each_step(project_copy, run_manage, sqlite_url):
    result = succeeded(run_manage(project_copy, "migrate", "-v", "2", database_url=sqlite_url))

    lines = result.stdout.splitlines()
    assert lines[:3] == ["Operations to perform:", "  Apply all migrations: project", "Running migrations:"]
    assert len(lines) == 7
    for line, name in zip(lines[3:], NAMES):
        assert re.fullmatch(rf"  Applying {name}\.\.\. OK \(\d+\.\d{{3}}s\)", line), line
    assert result.stderr == ""

    back = succeeded(run_manage(project_copy, "-v", "2", "fake", "0003", database_url=sqlite_url))
    assert re.fullmatch(r"  Unapplying 0004_make_email_unique\.\.\. FAKED \(\d+\.\d{3}s\)",
                        back.stdout.splitlines()[-1]), back.stdout


def test_verbosity_3_prints_the_sql_of_each_step(project_copy, run_manage, sqlite_url):
    result = succeeded(run_manage(project_copy, "migrate", "0001", "-v", "3", database_url=sqlite_url))

    lines = result.stdout.splitlines()
    applying = lines.index("  Applying 0001_create_table_hotels...")
    assert "    CREATE TABLE hotels (" in lines[applying:]
    assert re.fullmatch(r"    OK \(\d+\.\d{3}s\)", lines[-1]), lines[-1]
    assert version(sqlite_url) == ["0001_create_table_hotels"]


def test_verbosity_3_on_postgresql_never_shows_the_password(project_copy, run_manage, postgres_url):
    url = with_password(postgres_url, "pa55%word")
    assert "pa55%25word" in url

    outputs = []
    for args in (["migrate", "-v", "3"], ["showmigrations", "-v", "3"], ["sqlmigrate", "0001", "-v", "3"],
                 ["migrate", "nope", "-v", "3"]):
        result = run_manage(project_copy, *args, database_url=url)
        outputs.append(result.stdout + result.stderr)

    assert "CREATE TABLE hotels" in outputs[0]
    assert table_names(postgres_url) >= APP_TABLES
    for args, output in zip(("migrate", "showmigrations", "sqlmigrate", "migrate nope"), outputs):
        assert "pa55" not in output, (args, output)


# 3. sqlmigrate


def test_sqlmigrate_on_postgresql_prints_the_sql_and_changes_nothing(project_copy, run_manage, postgres_url):
    forward = succeeded(run_manage(project_copy, "sqlmigrate", "0004", database_url=postgres_url))
    backward = succeeded(run_manage(project_copy, "sqlmigrate", "0004_make_email_unique", "--backwards",
                                    database_url=postgres_url))

    assert [line for line in forward.stdout.splitlines() if line] == [
        "BEGIN;",
        "-- Running upgrade 0003_add_users -> 0004_make_email_unique",
        "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE (email);",
        "UPDATE alembic_version SET version_num='0004_make_email_unique' "
        "WHERE alembic_version.version_num = '0003_add_users';",
        "COMMIT;",
    ]
    assert [line for line in backward.stdout.splitlines() if line] == [
        "BEGIN;",
        "-- Running downgrade 0004_make_email_unique -> 0003_add_users",
        "ALTER TABLE users DROP CONSTRAINT uq_users_email;",
        "UPDATE alembic_version SET version_num='0003_add_users' "
        "WHERE alembic_version.version_num = '0004_make_email_unique';",
        "COMMIT;",
    ]
    assert forward.stderr == backward.stderr == ""
    assert table_names(postgres_url) == set()


def test_sqlmigrate_on_sqlite(project_copy, run_manage, sqlite_url):
    first = succeeded(run_manage(project_copy, "sqlmigrate", "0001", database_url=sqlite_url))
    lines = first.stdout.splitlines()
    assert "-- Running upgrade  -> 0001_create_table_hotels" in lines
    assert lines[lines.index("CREATE TABLE hotels (") + 1:][:4] == [
        "    id INTEGER NOT NULL, ",
        "    name VARCHAR(200) NOT NULL, ",
        "    city VARCHAR(100) NOT NULL, ",
        "    CONSTRAINT pk_hotels PRIMARY KEY (id)",
    ]

    # Batch mode on SQLite rebuilds the table, read from a scratch database at 0003.
    batch = succeeded(run_manage(project_copy, "sqlmigrate", "0004", database_url=sqlite_url)).stdout
    assert "-- Running upgrade 0003_add_users -> 0004_make_email_unique" in batch.splitlines()
    assert "ALTER TABLE _alembic_tmp_users RENAME TO users;" in batch

    unknown = run_manage(project_copy, "sqlmigrate", "nope", database_url=sqlite_url)
    assert one_error(unknown) == "CommandError: Cannot find a migration matching 'nope'."

    assert table_names(sqlite_url) == set()


# 4. dbshell


def fake_client(folder: Path, name: str, exit_code: int) -> Path:
    """A stand-in for psql or sqlite3 that records its argv and PGPASSWORD, then exits."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf '%s\\n' "$@" > '{folder / f"{name}.argv"}'
        printf '%s' "${{PGPASSWORD-(unset)}}" > '{folder / f"{name}.pgpassword"}'
        exit {exit_code}
        """))
    script.chmod(0o755)
    return folder


def test_dbshell_runs_psql_with_the_password_in_its_environment_only(project_copy, run_manage, postgres_url, tmp_path):
    bin_dir = fake_client(tmp_path / "bin", "psql", 3)
    url = with_password(postgres_url, "s3cret")

    result = run_manage(project_copy, "dbshell", database_url=url, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})

    assert result.returncode == 3, result.stderr  # the client's own exit status
    argv = (bin_dir / "psql.argv").read_text().splitlines()
    assert argv == ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", make_url(postgres_url).database]
    assert not any("s3cret" in arg for arg in argv)
    assert (bin_dir / "psql.pgpassword").read_text() == "s3cret"
    assert "s3cret" not in result.stdout + result.stderr


def test_dbshell_runs_sqlite3_on_the_database_file(project_copy, run_manage, sqlite_url, tmp_path):
    bin_dir = fake_client(tmp_path / "bin", "sqlite3", 0)

    result = run_manage(project_copy, "dbshell", database_url=sqlite_url, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})

    assert (result.returncode, result.stderr) == (0, "")
    assert (bin_dir / "sqlite3.argv").read_text().splitlines() == [make_url(sqlite_url).database]


def test_ctrl_c_in_dbshell_belongs_to_the_client(project_copy, run_manage, sqlite_url, tmp_path):
    """Ctrl-C reaches the whole foreground process group: manage.py must not die of it while
    the client runs (the client uses it to cancel a query), as Django's dbshell."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    client = bin_dir / "sqlite3"
    client.write_text("#!/bin/sh\nkill -INT $PPID\nsleep 0.5\nexit 7\n")
    client.chmod(0o755)

    result = run_manage(project_copy, "dbshell", database_url=sqlite_url, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})

    assert (result.returncode, result.stderr) == (7, "")  # the client's own exit status, no "Interrupted."


@pytest.mark.parametrize("client", ["psql", "sqlite3"])
def test_dbshell_without_the_client_on_the_path(project_copy, run_manage, sqlite_url, tmp_path, client):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    url = sqlite_url if client == "sqlite3" else "postgresql://postgres:s3cret@127.0.0.1:5432/postgres"

    result = run_manage(project_copy, "dbshell", database_url=url, env={"PATH": str(empty)})

    assert one_error(result) == f"CommandError: You appear not to have the '{client}' program installed or on your path."


# 5. check


def test_check_passes_on_the_repository_as_it_is(project_copy, run_manage, sqlite_url):
    result = run_manage(project_copy, "check", database_url=sqlite_url)

    assert (result.returncode, result.stdout, result.stderr) == (0, "System check identified no issues.\n", "")


def two_heads(project):
    write_migration(project, "0005_add_phone", "0004_make_email_unique")
    write_migration(project, "0005_add_rating", "0004_make_email_unique")
    return [
        "Conflicting migrations detected; multiple leaf nodes in the migration graph: (0005_add_phone, 0005_add_rating in project).",
        "To fix them run 'python manage.py makemigrations --merge'",
    ]


def duplicate_id(project):
    write_migration(project, "0005_add_phone", "0004_make_email_unique")
    write_migration(project, "0005_add_phone", "0004_make_email_unique", filename="0005_add_phone_again.py")
    return ["Revision '0005_add_phone' is declared by two files: 0005_add_phone.py and 0005_add_phone_again.py."]


def import_error(project):
    write_migration(project, "0005_needs_a_module", "0004_make_email_unique", head="import nonexistent_module")
    return ["Migration file 0005_needs_a_module.py does not import: "
            "ModuleNotFoundError: No module named 'nonexistent_module'"]


def model_change(project):
    hotels = project / "project" / "models" / "hotels.py"
    hotels.write_text(hotels.read_text() + "    stars: Mapped[int | None] = mapped_column()\n")
    return ["Your models have changes that are not yet reflected in a migration: run 'python manage.py makemigrations'."]


@pytest.mark.parametrize("break_it", [two_heads, duplicate_id, import_error, model_change])
def test_check_fails_on(project_copy, run_manage, sqlite_url, break_it):
    expected = break_it(project_copy)
    versions = sorted((project_copy / "migrations" / "versions").glob("*.py"))

    result = run_manage(project_copy, "check", database_url=sqlite_url)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == expected
    assert one_error(result) == "CommandError: System check identified 1 issue."
    assert sorted((project_copy / "migrations" / "versions").glob("*.py")) == versions  # nothing written


def test_check_database_fails_while_the_database_is_behind(project_copy, run_manage, sqlite_url):
    behind = run_manage(project_copy, "check", "--database", "default", database_url=sqlite_url)

    assert behind.stdout.splitlines() == [
        "The database is not at the latest migration: 4 to run "
        "(0001_create_table_hotels, 0002_create_table_rooms, 0003_add_users, 0004_make_email_unique)."
    ]
    assert one_error(behind) == "CommandError: System check identified 1 issue."
    assert table_names(sqlite_url) <= {"alembic_version"}  # check applied nothing

    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    current = run_manage(project_copy, "check", "--database", "default", database_url=sqlite_url)
    assert (current.returncode, current.stdout, current.stderr) == (0, "System check identified no issues.\n", "")


# 6. --noinput / --no-input


def test_noinput_and_no_input_are_accepted(project_copy, run_manage, sqlite_url):
    made = succeeded(run_manage(project_copy, "makemigrations", "--noinput", database_url=sqlite_url))
    assert made.stdout == "No changes detected\n"
    merged = succeeded(run_manage(project_copy, "makemigrations", "--merge", "--no-input", database_url=sqlite_url))
    assert merged.stdout == "No conflicts detected to merge.\n"

    migrated = succeeded(run_manage(project_copy, "migrate", "0003", "--noinput", database_url=sqlite_url))
    assert migrated.stdout.splitlines()[-1] == "  Applying 0003_add_users... OK"
    rest = succeeded(run_manage(project_copy, "migrate", "--no-input", database_url=sqlite_url))
    assert rest.stdout.splitlines()[-1] == "  Applying 0004_make_email_unique... OK"
    assert version(sqlite_url) == ["0004_make_email_unique"]


# 7. colour


def test_output_through_a_pipe_has_no_colour(project_copy, run_manage, sqlite_url):
    migrated = succeeded(run_manage(project_copy, "migrate", "0001", database_url=sqlite_url))
    failed = run_manage(project_copy, "migrate", "nope", database_url=sqlite_url)

    assert migrated.stdout.splitlines()[-1] == "  Applying 0001_create_table_hotels... OK"
    assert "\x1b" not in migrated.stdout + migrated.stderr
    assert one_error(failed) == "CommandError: Cannot find a migration matching 'nope'."
    assert "\x1b" not in failed.stdout


def test_a_terminal_gets_a_green_ok_and_a_red_error(settings):
    result = CliRunner().invoke(cli, ["migrate", "0001"], obj=settings, color=True)
    failed = CliRunner().invoke(cli, ["migrate", "nope"], obj=settings, color=True)

    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert "\x1b[32m" in last and last.index("\x1b[32m") < last.index(" OK")
    assert ANSI.sub("", last) == "  Applying 0001_create_table_hotels... OK"
    assert failed.exit_code == 1
    assert failed.stderr.startswith("\x1b[31m")
    assert ANSI.sub("", failed.stderr) == "CommandError: Cannot find a migration matching 'nope'.\n"


def test_no_color_turns_colour_off_even_on_a_terminal(settings, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    result = CliRunner().invoke(cli, ["migrate", "0001"], obj=settings, color=True)
    failed = CliRunner().invoke(cli, ["migrate", "nope"], obj=settings, color=True)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "  Applying 0001_create_table_hotels... OK"
    assert "\x1b" not in result.stdout
    assert failed.stderr == "CommandError: Cannot find a migration matching 'nope'.\n"


# 8. shell completion


def complete(run_manage, project, words: str, cword: int, **env):
    # Click names the variable after the program: manage.py -> _MANAGE_PY_COMPLETE.
    return run_manage(project, env={"_MANAGE_PY_COMPLETE": "bash_complete", "COMP_WORDS": words,
                                    "COMP_CWORD": str(cword), **env})


def test_completion_offers_migration_names_without_importing_sqlalchemy(project_copy, run_manage, sqlite_url):
    result = complete(run_manage, project_copy, "manage.py migrate 000", 2, PYTHONPROFILEIMPORTTIME="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"plain,{name}" for name in NAMES]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "manage_migrations.loader" in imported  # the profile is really there
    assert not [name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic")]


@pytest.mark.parametrize("words, expected", [
    ("manage.py fake z", ["zero"]),
    ("manage.py sqlmigrate 0003", ["0003_add_users"]),
    ("manage.py -v 2 migrate h", ["head"]),
])
def test_completion_of_other_commands_targets(project_copy, run_manage, words, expected):
    result = complete(run_manage, project_copy, words, len(words.split()) - 1)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"plain,{name}" for name in expected]


def test_completion_with_a_broken_migration_file_prints_no_traceback(project_copy, run_manage):
    (project_copy / "migrations" / "versions" / "0005_broken.py").write_text("revision = '0005_broken'\ndef upgrade(:\n")

    result = complete(run_manage, project_copy, "manage.py migrate 000", 2)

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0


# 9. bad input


def test_migrate_minus_one_at_zero(project_copy, run_manage, sqlite_url):
    result = run_manage(project_copy, "migrate", "-1", database_url=sqlite_url)

    assert one_error(result) == "CommandError: Relative migration '-1' goes back past the first migration."
    assert table_names(sqlite_url) & APP_TABLES == set()


@pytest.mark.parametrize("url, expected", [
    ("not a url", "DATABASE_URL is not a database URL of the form dialect://user@host/name."),
    ("postgresql+nosuchdriver://u@h/db", "Unknown database driver 'postgresql+nosuchdriver' in DATABASE_URL."),
    ("mysql+mysqldb://u@h/db", "The driver for 'mysql+mysqldb' is not installed (MySQLdb)."),
    ("oracle+oracledb://u@h/db", "Unknown database driver 'oracle' in DATABASE_URL: use one of "
                                 "mariadb://, mysql://, postgres://, postgresql://, sqlite://."),
])
def test_bad_database_urls(project_copy, run_manage, url, expected):
    result = run_manage(project_copy, "migrate", database_url=url)

    assert one_error(result) == f"CommandError: {expected}"
    assert result.stdout == ""


def test_missing_env_file(project_copy, run_manage, tmp_path):
    missing = tmp_path / "missing.env"

    result = run_manage(project_copy, "--env-file", str(missing), "showmigrations")

    assert one_error(result) == f"CommandError: Cannot read the --env-file {missing}."
    assert not (project_copy / "db.sqlite3").exists()


def test_a_models_module_that_fails_to_import(project_copy, run_manage, sqlite_url):
    (project_copy / "project" / "models" / "broken.py").write_text("raise RuntimeError('boom')\n")

    result = run_manage(project_copy, "makemigrations", database_url=sqlite_url)

    assert one_error(result) == "CommandError: Cannot import project.models.broken: RuntimeError: boom"
    assert sorted(p.name for p in (project_copy / "migrations" / "versions").glob("*.py")) == [f"{n}.py" for n in NAMES]


@pytest.mark.parametrize("command", ["migrate", "showmigrations"])
def test_a_migration_file_with_a_syntax_error(project_copy, run_manage, sqlite_url, command):
    write_migration(project_copy, "0005_broken", "0004_make_email_unique", upgrade="op.add_column('users',")

    result = run_manage(project_copy, command, database_url=sqlite_url)

    assert one_error(result) == (
        "CommandError: Migration file 0005_broken.py has a syntax error at line 12: '(' was never closed")
    assert result.stdout == ""
    assert table_names(sqlite_url) & APP_TABLES == set()


def test_makemigrations_name_without_letters(project_copy, run_manage, sqlite_url):
    result = run_manage(project_copy, "makemigrations", "-n", "!!!", database_url=sqlite_url)

    assert one_error(result) == "CommandError: The migration name '!!!' has no letters or digits to use."
    assert len(list((project_copy / "migrations" / "versions").glob("*.py"))) == 4


@pytest.mark.parametrize("args, named", [(["frobnicate"], "frobnicate"), (["migrate", "--frob"], "--frob")])
def test_usage_errors_are_clicks_and_exit_2(project_copy, run_manage, sqlite_url, args, named):
    """Click words the error (its wording is its own, and changes between its releases): what
    is ours is the exit status, the word it names, no traceback, and nothing touched."""
    result = run_manage(project_copy, *args, database_url=sqlite_url)

    assert (result.returncode, result.stdout) == (2, "")
    assert named in result.stderr and "Traceback" not in result.stderr
    assert table_names(sqlite_url) == set()


# 10. Alembic compatibility


def test_alembic_cookbook_connection_sharing_in_process(settings):
    from alembic import command

    from manage_migrations.migrations import alembic_config

    config = alembic_config(settings)
    engine = engine_for(settings.database_url)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()

    assert table_names(settings.database_url) == APP_TABLES | {"alembic_version"}
    assert version(settings.database_url) == ["0004_make_email_unique"]
    shown = CliRunner().invoke(cli, ["showmigrations"], obj=settings)
    assert shown.stdout.splitlines() == ["project"] + [f" [X] {name}" for name in NAMES]


def test_the_plain_alembic_cli_in_the_project_folder(project_copy, run_manage, sqlite_url, tmp_path):
    shutil.copy2(REPO / "pyproject.toml", project_copy / "pyproject.toml")
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
           "DATABASE_URL": sqlite_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def alembic(*args):
        return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project_copy, env=env,
                              capture_output=True, text=True, timeout=120)

    upgraded = alembic("upgrade", "0002_create_table_rooms")
    assert upgraded.returncode == 0, upgraded.stderr
    assert table_names(sqlite_url) == {"alembic_version", "hotels", "rooms"}

    shown = succeeded(run_manage(project_copy, "showmigrations", "-v", "2", database_url=sqlite_url))
    assert shown.stdout.splitlines() == [
        "project",
        " [X] 0001_create_table_hotels",  # no date: manage.py did not apply it
        " [X] 0002_create_table_rooms",
        " [ ] 0003_add_users",
        " [ ] 0004_make_email_unique",
    ]
    current = alembic("current")
    assert (current.returncode, current.stdout.splitlines()) == (0, ["0002_create_table_rooms"]), current.stderr


# Django's everyday command forms, typed as a Django user types them


def test_djangos_command_forms_through_manage_py(project_copy, run_manage, sqlite_url):
    """Each form with Django's exit status and the answer Django gives."""
    def manage(*args):
        return run_manage(project_copy, *args, database_url=sqlite_url)

    help_text = manage("--help").stdout
    assert (manage().returncode, manage().stdout) == (0, help_text)  # Django: no command is the help
    assert (manage("help").returncode, manage("help").stdout) == (0, help_text)
    assert manage("help", "migrate").stdout == manage("migrate", "--help").stdout
    assert manage("--version").stdout.strip() == "0.1.0"
    migrated = manage("migrate", "--database", "default", "--skip-checks", "--no-color")
    assert migrated.returncode == 0 and "\x1b[" not in migrated.stdout, migrated.stderr
    listed = manage("showmigrations", "--list", "project")
    assert (listed.returncode, listed.stdout, manage("showmigrations", "-l").stdout) == (
        0, manage("showmigrations").stdout, listed.stdout)
    assert manage("showmigrations", "-v", "0").stdout == listed.stdout  # -v 0 keeps the answer
    assert manage("check", "-v", "0").stdout == "System check identified no issues.\n"
    other = manage("showmigrations", "--database", "other")
    assert (other.returncode, other.stderr) == (
        1, "CommandError: The connection 'other' doesn't exist: the only database is 'default'.\n")
