"""The commands through Click's CliRunner, in-process, each on the test's own SQLite database.

``manage(...)`` (tests/conftest.py) runs ``manage.py ARGS`` with the repository's migrations
and models and a database in the test's tmp_path; Click 8.2+ keeps stdout and stderr apart."""
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from manage_migrations.cli import cli
from manage_migrations.conf import Settings

REPO = Path(__file__).resolve().parents[2]
NAMES = [
    "0001_create_table_hotels",
    "0002_create_table_rooms",
    "0003_add_users",
    "0004_make_email_unique",
]
HEADER_ALL = [
    "Operations to perform:",
    "  Apply all migrations: project",
    "Running migrations:",
]


def lines(text: str) -> list[str]:
    return text.splitlines()


def tables(settings: Settings) -> set[str]:
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version", "manage_migrations"}


def versions_snapshot() -> dict[str, bytes]:
    """Every file under migrations/versions with its content; bytecode caches aside."""
    folder = REPO / "migrations" / "versions"
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def assert_command_error(result, exit_code: int = 1) -> str:
    """One ``CommandError: ...`` line on stderr, no traceback; returns the message."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr, result.exception)
    assert result.stderr.startswith("CommandError: "), result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    return lines(result.stderr)[0].removeprefix("CommandError: ")


# --help


def test_group_help_lists_the_commands_and_options(manage):
    result = manage("--help")
    assert result.exit_code == 0, result.stderr
    commands = re.search(r"^Commands:\n(.*)", result.stdout, re.S | re.M).group(1)
    listed = [line.split()[0] for line in lines(commands) if line.startswith("  ") and line.split()]
    assert sorted(listed) == ["check", "dbshell", "dumpdata", "fake", "flush", "help", "init", "inspectdb",
                              "lintmigrations", "loaddata", "makemigrations", "migrate", "repair", "shell",
                              "showmigrations", "sqlflush", "sqlmigrate", "squashmigrations", "startapp",
                              "startproject", "test"]
    for option in ("--env-file", "-v, --verbosity", "--traceback", "--no-color", "--force-color", "--skip-checks",
                   "--version", "-h, --help"):
        assert option in result.stdout
    assert result.stderr == ""


def test_short_help_option(manage):
    result = manage("-h")
    assert result.exit_code == 0
    assert result.stdout == manage("--help").stdout


@pytest.mark.parametrize(
    "command, expected",
    [
        ("makemigrations", ["-n, --name", "--empty", "--dry-run", "--check"]),
        ("migrate", ["[TARGET]", "--fake", "zero", "+1", "-1"]),
        ("showmigrations", ["-p, --plan"]),
        ("fake", ["TARGET"]),
    ],
)
def test_command_help(manage, command, expected):
    result = manage(command, "--help")
    assert result.exit_code == 0, result.stderr
    for text in expected + ["-v, --verbosity", "--traceback", "--help"]:
        assert text in result.stdout, text
    assert result.stderr == ""


def test_help_touches_no_database(manage, settings):
    for args in (["--help"], ["migrate", "--help"], ["makemigrations", "--help"]):
        assert manage(*args).exit_code == 0
    assert not Path(settings.database_url.removeprefix("sqlite:///")).exists()


# migrate


def test_migrate_applies_everything_with_djangos_lines(manage, settings):
    result = manage("migrate")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == HEADER_ALL + [f"  Applying {name}... OK" for name in NAMES]
    assert result.stderr == ""
    assert tables(settings) == {"hotels", "rooms", "users"}


def test_migrate_twice_has_nothing_to_apply(manage):
    assert manage("migrate").exit_code == 0
    result = manage("migrate")
    assert result.exit_code == 0
    assert lines(result.stdout) == HEADER_ALL + ["  No migrations to apply."]


def test_migrate_to_a_prefix_then_the_rest(manage, settings):
    result = manage("migrate", "0002")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "Operations to perform:",
        "  Target specific migration: 0002_create_table_rooms, from project",
        "Running migrations:",
        "  Applying 0001_create_table_hotels... OK",
        "  Applying 0002_create_table_rooms... OK",
    ]
    assert tables(settings) == {"hotels", "rooms"}
    result = manage("migrate")
    assert lines(result.stdout)[3:] == ["  Applying 0003_add_users... OK", "  Applying 0004_make_email_unique... OK"]


def test_migrate_zero_unapplies_newest_first(manage, settings):
    manage("migrate")
    result = manage("migrate", "zero")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "Operations to perform:",
        "  Unapply all migrations: project",
        "Running migrations:",
    ] + [f"  Unapplying {name}... OK" for name in reversed(NAMES)]
    assert tables(settings) == set()


def test_migrate_minus_one_is_a_target_not_an_option(manage):
    manage("migrate")
    result = manage("migrate", "-1")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "Operations to perform:",
        "  Target specific migration: 0003_add_users, from project",
        "Running migrations:",
        "  Unapplying 0004_make_email_unique... OK",
    ]


def test_migrate_relative_forward_from_empty(manage):
    result = manage("migrate", "+2")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[3:] == [
        "  Applying 0001_create_table_hotels... OK",
        "  Applying 0002_create_table_rooms... OK",
    ]


def test_migrate_anchored_relative_target(manage):
    manage("migrate")
    result = manage("migrate", "0003-1")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[1] == "  Target specific migration: 0002_create_table_rooms, from project"
    assert lines(result.stdout)[3:] == [
        "  Unapplying 0004_make_email_unique... OK",
        "  Unapplying 0003_add_users... OK",
    ]


def test_migrate_verbosity_2_adds_timings(manage):
    result = manage("migrate", "-v", "2")
    assert result.exit_code == 0, result.stderr
    steps = lines(result.stdout)[3:]
    assert len(steps) == 4
    for name, line in zip(NAMES, steps):
        assert re.fullmatch(rf"  Applying {name}\.\.\. OK \(\d+\.\d{{3}}s\)", line), line


# showmigrations


def test_showmigrations_on_an_empty_database(manage):
    result = manage("showmigrations")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == ["project"] + [f" [ ] {name}" for name in NAMES]


def test_showmigrations_marks_what_is_applied(manage):
    manage("migrate", "0002")
    result = manage("showmigrations")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "project",
        " [X] 0001_create_table_hotels",
        " [X] 0002_create_table_rooms",
        " [ ] 0003_add_users",
        " [ ] 0004_make_email_unique",
    ]


def test_showmigrations_after_migrate(manage):
    manage("migrate")
    assert lines(manage("showmigrations").stdout) == ["project"] + [f" [X] {name}" for name in NAMES]


def test_showmigrations_plan_shows_what_each_needs_at_verbosity_2_as_django(manage):
    manage("migrate", "0001")
    result = manage("showmigrations", "--plan", "-v", "2")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "[X]  0001_create_table_hotels",
        "[ ]  0002_create_table_rooms ... (0001_create_table_hotels)",
        "[ ]  0003_add_users ... (0002_create_table_rooms)",
        "[ ]  0004_make_email_unique ... (0003_add_users)",
    ]
    assert lines(manage("showmigrations", "-p").stdout) == [line.partition(" ...")[0] for line in lines(result.stdout)]


@pytest.mark.parametrize("command", [["showmigrations"], ["showmigrations", "-l"], ["showmigrations", "--list"],
                                     ["showmigrations", "--plan"], ["migrate", "--plan"], ["check"]])
def test_verbosity_0_still_gives_the_answer_the_command_exists_for(manage, command):
    """Django's -v 0 silences progress, not the list, the plan or the verdict scripts grep."""
    assert manage(*command, "-v", "0").stdout == manage(*command).stdout != ""


def test_database_default_is_accepted_and_another_alias_is_one_line(manage):
    assert manage("showmigrations", "--database", "default").exit_code == 0
    result = manage("migrate", "--database", "replica")
    assert assert_command_error(result) == "The connection 'replica' doesn't exist: the only database is 'default'."


# fake


def test_fake_marks_without_running(manage, settings):
    result = manage("fake", "0002")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == [
        "Operations to perform:",
        "  Target specific migration: 0002_create_table_rooms, from project",
        "Running migrations:",
        "  Applying 0001_create_table_hotels... FAKED",
        "  Applying 0002_create_table_rooms... FAKED",
    ]
    assert tables(settings) == set()
    assert lines(manage("showmigrations").stdout)[1:3] == [
        " [X] 0001_create_table_hotels",
        " [X] 0002_create_table_rooms",
    ]


def test_fake_back_to_zero_keeps_the_tables(manage, settings):
    manage("migrate")
    result = manage("fake", "zero")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[3:] == [f"  Unapplying {name}... FAKED" for name in reversed(NAMES)]
    assert tables(settings) == {"hotels", "rooms", "users"}
    assert lines(manage("showmigrations").stdout)[1:] == [f" [ ] {name}" for name in NAMES]


def test_migrate_fake_option(manage, settings):
    result = manage("migrate", "--fake")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == HEADER_ALL + [f"  Applying {name}... FAKED" for name in NAMES]
    assert tables(settings) == set()


def test_fake_needs_a_target(manage):
    result = manage("fake")
    assert result.exit_code == 2
    assert "[APP_LABEL] TARGET" in result.stderr  # the metavar is ours; the sentence around it Click's


# verbosity


@pytest.mark.parametrize("args", [("-v", "0", "migrate"), ("migrate", "-v", "0"), ("--verbosity", "0", "migrate"),
                                  ("migrate", "--verbosity=0")])
def test_verbosity_0_is_silent_before_or_after_the_command(manage, settings, args):
    result = manage(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    assert tables(settings) == {"hotels", "rooms", "users"}


def test_verbosity_2_before_the_command_adds_timings(manage):
    result = manage("-v", "2", "migrate", "0001")
    assert re.fullmatch(r"  Applying 0001_create_table_hotels\.\.\. OK \(\d+\.\d{3}s\)", lines(result.stdout)[3])


def test_verbosity_0_still_reports_errors(manage):
    result = manage("-v", "0", "migrate", "nope")
    assert result.stdout == ""
    assert assert_command_error(result) == "Cannot find a migration matching 'nope'."


@pytest.mark.parametrize("args", [("-v", "5", "migrate"), ("migrate", "-v", "5"), ("showmigrations", "--verbosity", "4"),
                                  ("-v", "x", "showmigrations")])
def test_verbosity_out_of_range_is_a_usage_error(manage, settings, args):
    result = manage(*args)
    assert result.exit_code == 2
    assert "--verbosity" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not Path(settings.database_url.removeprefix("sqlite:///")).exists()


# errors


@pytest.mark.parametrize("command", ["migrate", "fake"])
def test_unknown_target(manage, command):
    result = manage(command, "nope")
    assert assert_command_error(result) == "Cannot find a migration matching 'nope'."


def test_ambiguous_target(manage):
    result = manage("migrate", "000")
    assert assert_command_error(result) == (
        "More than one migration matches '000' in app 'project'. Please be more specific."
    )


def test_relative_target_past_the_first_migration(manage):
    result = manage("migrate", "-1")
    assert assert_command_error(result) == "Relative migration '-1' goes back past the first migration."


def test_relative_target_past_the_last_migration(manage):
    result = manage("migrate", "+5")
    assert assert_command_error(result) == "Relative migration '+5' goes past the last migration."


@pytest.mark.parametrize("args", [("--traceback", "migrate", "nope"), ("migrate", "nope", "--traceback"),
                                  ("migrate", "--traceback", "nope")])
def test_traceback_shows_the_traceback(manage, args):
    result = manage(*args)
    assert result.exit_code == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert lines(result.stderr)[-1] == "CommandError: Cannot find a migration matching 'nope'."


def test_unknown_command_is_a_usage_error(manage):
    result = manage("nope")
    assert result.exit_code == 2
    assert "'nope'" in result.stderr  # Click's sentence around it is Click's
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("migrate", "--bogus"), ("--bogus", "migrate"), ("showmigrations", "--fake")])
def test_unknown_option_is_a_usage_error(manage, args):
    result = manage(*args)
    assert result.exit_code == 2
    assert "--bogus" in result.stderr or "--fake" in result.stderr
    assert "Traceback" not in result.stderr


def test_failing_migration_is_one_line_naming_it(manage, settings):
    # marked at 0003 on an empty database: unapplying 0003 drops a table that is not there
    assert manage("fake", "0003").exit_code == 0
    result = manage("migrate", "0002")
    assert assert_command_error(result).startswith("Migration 0003_add_users failed: ")
    assert "users" in lines(result.stderr)[0]
    assert lines(result.stdout)[-1] == "  Unapplying 0003_add_users..."
    assert "OK" not in result.stdout
    # the failed migration's transaction was rolled back: still marked applied
    assert lines(manage("showmigrations").stdout)[3] == " [X] 0003_add_users"


def test_database_at_a_revision_no_file_has(manage, settings):
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('zzz_gone')")
    for args in (("showmigrations",), ("migrate",), ("migrate", "0002")):
        message = assert_command_error(manage(*args))
        assert "'zzz_gone'" in message, args


def test_relative_move_from_a_revision_no_file_has(manage, settings):
    """``migrate -1`` on a database at a revision with no file: one CommandError line naming it
    (currently a KeyError from graph.move, i.e. a traceback)."""
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('zzz_gone')")
    message = assert_command_error(manage("migrate", "-1"))
    assert "'zzz_gone'" in message


def test_malformed_database_url(make_settings, manage):
    result = manage("showmigrations", settings=make_settings(REPO, "not a url"))
    assert assert_command_error(result).startswith("DATABASE_URL is not a database URL")


def test_malformed_port_in_database_url_is_a_command_error(make_settings, manage):
    """make_url raises ValueError for a port that is not a number (currently a traceback)."""
    url = "postgresql://bob:s3cret@127.0.0.1:abc/hotels"
    result = manage("showmigrations", settings=make_settings(REPO, url))
    assert_command_error(result)
    assert "s3cret" not in result.stderr + result.stdout


def test_unreachable_database_hides_the_password(make_settings, manage):
    url = "postgresql://bob:s3cret@127.0.0.1:1/hotels"  # nothing listens on port 1
    result = manage("showmigrations", settings=make_settings(REPO, url))
    message = assert_command_error(result)
    assert message.startswith("Cannot connect to ")
    assert "bob" in message and "127.0.0.1" in message
    assert "s3cret" not in result.stderr + result.stdout


# --env-file (the group loads the settings itself when none are handed in)


def test_env_file_chooses_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    database = tmp_path / "from_env_file.sqlite3"
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"DATABASE_URL=sqlite:///{database}\n")
    result = CliRunner().invoke(cli, ["--settings", "project.settings", "--env-file", str(env_file), "migrate", "0001"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert lines(result.stdout)[-1] == "  Applying 0001_create_table_hotels... OK"
    assert database.exists()


def test_env_file_that_does_not_exist_is_a_command_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["--settings", "project.settings", "--env-file", str(tmp_path / "missing.env"), "showmigrations"])
    assert assert_command_error(result) == f"Cannot read the --env-file {tmp_path / 'missing.env'}."


# makemigrations


def test_makemigrations_check_on_the_repository_writes_nothing(manage, settings):
    before = versions_snapshot()
    result = manage("makemigrations", "--check")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout == "No changes detected\n"
    assert versions_snapshot() == before
    assert sorted(before) == [f"{name}.py" for name in NAMES]
    assert not Path(settings.database_url.removeprefix("sqlite:///")).exists()


def test_makemigrations_dry_run_on_the_repository_writes_nothing(manage):
    before = versions_snapshot()
    result = manage("makemigrations", "--dry-run")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout == "No changes detected\n"
    assert versions_snapshot() == before


@pytest.mark.parametrize("name", ["!!!", "", "  ", "---"])
def test_makemigrations_name_without_letters_or_digits(manage, name):
    before = versions_snapshot()
    result = manage("makemigrations", "-n", name)
    message = assert_command_error(result)
    assert f"'{name}'" in message and "name" in message
    assert versions_snapshot() == before


# Django's command-line forms


def test_no_command_is_the_help_and_exit_0_as_djangos_manage_py(manage):
    result = manage()
    assert (result.exit_code, result.stdout) == (0, manage("--help").stdout)


def test_help_and_help_command_are_the_help(manage):
    assert manage("help").stdout == manage("--help").stdout
    assert manage("help", "migrate").stdout == manage("migrate", "--help").stdout
    assert assert_command_error(manage("help", "nope")) == "Unknown command: 'nope'. Type 'manage.py help' for usage."


def test_version(manage):
    from importlib.metadata import version

    assert manage("--version").stdout == f"{version('manage-migrations')}\n"


@pytest.mark.parametrize("flag, coloured", [("--force-color", True), ("--no-color", False)])
def test_color_flags_before_or_after_the_command(manage, flag, coloured):
    for args in ([flag, "migrate"], ["migrate", flag]):
        result = manage(*args)
        assert result.exit_code == 0, result.stderr
        assert ("\x1b[" in result.stdout) is coloured


def test_skip_checks_is_accepted(manage):
    assert manage("migrate", "--skip-checks").exit_code == 0
