"""makemigrations asks what Django asks, reads the answers from standard input, and answers as
Django's non-interactive questioner with --noinput or once the input has ended. Each case runs
through ``python manage.py`` with rows in the table, and checks what happened to the rows."""
import pytest
from model_edits import append, edit, sql

RENAME_QUESTION = "Was users.full_name renamed to users.display_name (a VARCHAR(200))? [y/N] "
NICKNAME = "    nickname: Mapped[str] = mapped_column(String(50))\n"
NOT_MIGRATED = ("Column 'nickname' on table 'users' not migrated: it is impossible to add a "
                "non-nullable column without specifying a default.")


@pytest.fixture
def migrated_with_a_user(project_copy, run_manage, database_url, succeeded):
    succeeded(run_manage(project_copy, "migrate", database_url=database_url))
    sql(database_url, "INSERT INTO users (id, email, full_name) VALUES (1, 'ann@example.com', 'Ann')")
    return project_copy


def test_a_confirmed_rename_keeps_the_data(migrated_with_a_user, run_manage, database_url, succeeded, versions):
    project = migrated_with_a_user
    edit(project, "users", "full_name", "display_name")

    made = run_manage(project, "makemigrations", database_url=database_url, input="y\n")

    assert succeeded(made) == [
        RENAME_QUESTION + "Migrations for 'project':",
        "  migrations/versions/0005_rename_full_name_users_display_name.py",
        "    ~ Rename column full_name on users to display_name",
    ]
    succeeded(run_manage(project, "migrate", database_url=database_url))
    assert sql(database_url, "SELECT display_name FROM users") == [("Ann",)]
    assert succeeded(run_manage(project, "makemigrations", "--check", database_url=database_url)) == ["No changes detected"]
    succeeded(run_manage(project, "migrate", "0004", database_url=database_url))
    assert sql(database_url, "SELECT full_name FROM users") == [("Ann",)]


def test_a_rename_answered_no_is_a_removal_and_an_addition(project_copy, run_manage, sqlite_url):
    edit(project_copy, "users", "full_name", "display_name")

    made = run_manage(project_copy, "makemigrations", "--dry-run", database_url=sqlite_url, input="n\n")

    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(RENAME_QUESTION)
    assert made.stdout.splitlines()[-2:] == ["    + Add column display_name to users",
                                              "    - Remove column full_name from users"]


@pytest.mark.parametrize("args", [("--noinput",), ()], ids=["noinput", "input ended"])
def test_without_answers_a_rename_is_not_assumed(project_copy, run_manage, sqlite_url, args):
    """Django's non-interactive answers: no rename; then display_name is a NOT NULL column
    added with no default, which is not migrated (exit status 3)."""
    edit(project_copy, "users", "full_name", "display_name")

    made = run_manage(project_copy, "makemigrations", "--dry-run", *args, database_url=sqlite_url)

    assert made.returncode == 3, made
    assert ("Was users.full_name renamed" in made.stdout) == (args == ())  # --noinput never asks
    assert made.stdout.splitlines()[-1] == NOT_MIGRATED.replace("nickname", "display_name")


def test_a_renamed_table_keeps_its_rows_and_its_constraint_follows(migrated_with_a_user, run_manage, database_url,
                                                                  succeeded):
    project = migrated_with_a_user
    edit(project, "users", '__tablename__ = "users"', '__tablename__ = "accounts"')

    made = succeeded(run_manage(project, "makemigrations", database_url=database_url, input="y\n"))

    assert made[0] == "Was the table users renamed to accounts? [y/N] Migrations for 'project':"
    assert made[2] == "    ~ Rename table users to accounts"
    assert "    - Drop table users" not in made
    succeeded(run_manage(project, "migrate", database_url=database_url))
    assert sql(database_url, "SELECT email FROM accounts") == [("ann@example.com",)]
    # The unique constraint named after the table was renamed with it: nothing is left to do.
    assert succeeded(run_manage(project, "makemigrations", "--check", database_url=database_url)) == ["No changes detected"]
    succeeded(run_manage(project, "migrate", "0004", database_url=database_url))
    assert sql(database_url, "SELECT email FROM users") == [("ann@example.com",)]


def test_check_counts_a_not_null_column_without_a_default_as_a_change(project_copy, run_manage, sqlite_url):
    """``check`` never asks and never stops at exit status 3: it reports the change."""
    append(project_copy, "users", NICKNAME)

    checked = run_manage(project_copy, "check", database_url=sqlite_url)

    assert checked.returncode == 1, checked
    assert checked.stdout.splitlines()[0].startswith("Your models have changes that are not yet reflected")
    assert checked.stderr == "CommandError: System check identified 1 issue.\n"


def test_a_not_null_column_with_noinput_is_not_migrated(project_copy, run_manage, sqlite_url, versions):
    append(project_copy, "users", NICKNAME)
    before = versions(project_copy)

    for args, stdin in ((("--noinput",), ""), ((), "")):  # --noinput, and input that has ended
        made = run_manage(project_copy, "makemigrations", *args, database_url=sqlite_url, input=stdin)
        assert made.returncode == 3, made
        assert made.stdout.splitlines()[-1] == NOT_MIGRATED
        assert "Traceback" not in made.stderr
    assert versions(project_copy) == before


def test_a_not_null_column_gets_a_one_off_default_for_existing_rows(migrated_with_a_user, run_manage, database_url,
                                                                   succeeded):
    project = migrated_with_a_user
    append(project, "users", NICKNAME)

    made = succeeded(run_manage(project, "makemigrations", database_url=database_url, input="1\n'anon'\n"))

    assert made[:3] == [
        "It is impossible to add a non-nullable column 'nickname' to users without specifying a default. "
        "This is because the database needs something to populate existing rows.",
        "Please select a fix:",
        " 1) Provide a one-off default now (will be set on all existing rows with a null value for this column)",
    ]
    assert made[-2:] == ["  migrations/versions/0005_users_nickname.py", "    + Add column nickname to users"]
    succeeded(run_manage(project, "migrate", database_url=database_url))
    assert sql(database_url, "SELECT nickname FROM users") == [("anon",)]
    # The schema is the models' again: NOT NULL, and no default left behind.
    assert succeeded(run_manage(project, "makemigrations", "--check", database_url=database_url)) == ["No changes detected"]


def test_quitting_the_menu_writes_nothing(project_copy, run_manage, sqlite_url, versions):
    append(project_copy, "users", NICKNAME)
    before = versions(project_copy)

    made = run_manage(project_copy, "makemigrations", database_url=sqlite_url, input="5\n2\n")

    assert made.returncode == 3
    assert "Please select a valid option: " in made.stdout
    assert versions(project_copy) == before


def test_the_models_own_default_fills_existing_rows_without_a_question(migrated_with_a_user, run_manage, database_url,
                                                                      succeeded):
    project = migrated_with_a_user
    append(project, "users", "    nickname: Mapped[str] = mapped_column(String(50), default='friend')\n")

    made = succeeded(run_manage(project, "makemigrations", database_url=database_url))

    assert made[-1] == "    + Add column nickname to users"
    succeeded(run_manage(project, "migrate", database_url=database_url))
    assert sql(database_url, "SELECT nickname FROM users") == [("friend",)]


@pytest.mark.parametrize("sqlite_or_postgres", ["sqlite", "postgresql"])
def test_a_nullable_column_made_not_null(project_copy, run_manage, request, succeeded, versions, sqlite_or_postgres):
    url = request.getfixturevalue("sqlite_url" if sqlite_or_postgres == "sqlite" else "postgres_url")
    users = project_copy / "project" / "models" / "users.py"
    users.write_text(users.read_text() + "    phone: Mapped[str | None] = mapped_column(String(30))\n")
    succeeded(run_manage(project_copy, "makemigrations", "-n", "add_phone", database_url=url))
    succeeded(run_manage(project_copy, "migrate", database_url=url))
    sql(url, "INSERT INTO users (id, email, full_name) VALUES (1, 'ann@example.com', 'Ann')")
    users.write_text(users.read_text().replace("Mapped[str | None]", "Mapped[str]"))

    # --noinput: Django's warning, and the migration as it is.
    dry = run_manage(project_copy, "makemigrations", "--noinput", "--dry-run", database_url=url)
    assert dry.stdout.splitlines()[0] == "Column 'phone' on table 'users' given a default of NOT PROVIDED and must be corrected."
    # Option 3 quits; option 1 fills the NULLs with a one-off value before the column becomes NOT NULL.
    assert run_manage(project_copy, "makemigrations", database_url=url, input="3\n").returncode == 3
    made = succeeded(run_manage(project_copy, "makemigrations", database_url=url, input="1\n'unknown'\n"))
    assert " 2) Ignore for now. Existing rows that contain NULL values will have to be handled manually, " \
           "for example with an op.execute() in this or an earlier migration." in made
    assert made[-1] == "    ~ Alter column phone on users"
    succeeded(run_manage(project_copy, "migrate", database_url=url))
    assert sql(url, "SELECT phone FROM users") == [("unknown",)]
    assert succeeded(run_manage(project_copy, "makemigrations", "--check", database_url=url)) == ["No changes detected"]
