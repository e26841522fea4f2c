"""makemigrations through ``python manage.py``: it compares the models with a scratch database
brought to head, never with the user's database; and its options --check, --dry-run, --empty, -n."""
import re

from model_edits import append

ORIGINAL = ["0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users", "0004_make_email_unique"]
AUTO_NAME = re.compile(r"0005_[a-z0-9_]+")

PHONE_COLUMN = '    phone: Mapped[str | None] = mapped_column(String(30))\n'


def test_makemigrations_when_the_database_was_never_created(project_copy, run_manage, absent_database_url,
                                                           succeeded, versions, database_exists):
    """The models match the migrations, and the database is still not created afterwards."""
    assert not database_exists(absent_database_url)
    check = run_manage(project_copy, "makemigrations", "--check", database_url=absent_database_url)
    assert succeeded(check) == ["No changes detected"]
    assert not database_exists(absent_database_url)
    assert versions(project_copy) == ORIGINAL


def test_makemigrations_when_the_database_is_behind(project_copy, run_manage, database_url, succeeded,
                                                    app_tables, revision, versions, migration_header,
                                                    add_bookings_model):
    """A database at 0002: a new model gives a migration of that model alone, not of the tables
    that 0003 and 0004 make, after 0004; and the database is left at 0002."""
    succeeded(run_manage(project_copy, "migrate", "0002", database_url=database_url))
    add_bookings_model(project_copy)
    lines = succeeded(run_manage(project_copy, "makemigrations", database_url=database_url))
    new = [name for name in versions(project_copy) if name not in ORIGINAL]
    assert len(new) == 1 and AUTO_NAME.fullmatch(new[0]), new
    assert lines == [
        "Migrations for 'project':",
        f"  migrations/versions/{new[0]}.py",
        "    + Create table bookings",
        "    + Create index ix_bookings_room_id on bookings",
    ]
    header = migration_header(project_copy / "migrations" / "versions" / f"{new[0]}.py")
    assert header["revision"] == new[0]
    assert header["down_revision"] == "0004_make_email_unique"
    assert app_tables(database_url) == {"hotels", "rooms"}
    assert revision(database_url) == "0002_create_table_rooms"


def test_check_dry_run_name_and_empty(project_copy, run_manage, sqlite_url, succeeded, versions,
                                      migration_header, together, database_exists):
    def manage(*args):
        return run_manage(project_copy, *args, database_url=sqlite_url)

    users = project_copy / "project" / "models" / "users.py"
    users.write_text(users.read_text() + PHONE_COLUMN)
    expected_changes = ["    + Add column phone to users"]

    # --check (exit status 1) and --dry-run (exit status 0), side by side: the summary, no file.
    check, dry_run = together(lambda: manage("makemigrations", "--check"),
                              lambda: manage("makemigrations", "--dry-run"))
    assert check.returncode == 1, check
    assert "Traceback" not in check.stderr
    for lines in (check.stdout.splitlines(), succeeded(dry_run)):
        assert lines[0] == "Migrations for 'project':", lines
        assert AUTO_NAME.fullmatch(lines[1].removeprefix("  migrations/versions/").removesuffix(".py")), lines
        assert lines[2:] == expected_changes
    assert versions(project_copy) == ORIGINAL

    # -n is cut down to [a-z0-9_].
    assert succeeded(manage("makemigrations", "-n", "Add Phone-Number!")) == [
        "Migrations for 'project':",
        "  migrations/versions/0005_add_phone_number.py",
        *expected_changes,
    ]
    assert versions(project_copy) == ORIGINAL + ["0005_add_phone_number"]
    header = migration_header(project_copy / "migrations" / "versions" / "0005_add_phone_number.py")
    assert (header["revision"], header["down_revision"]) == ("0005_add_phone_number", "0004_make_email_unique")

    # --empty: a migration with no operations, auto-named, after 0005.
    lines = succeeded(manage("makemigrations", "--empty"))
    new = [name for name in versions(project_copy) if name not in ORIGINAL + ["0005_add_phone_number"]]
    assert len(new) == 1 and re.fullmatch(r"0006_auto_\d{8}_\d{4}", new[0]), new
    assert lines == ["Migrations for 'project':", f"  migrations/versions/{new[0]}.py"]
    empty = project_copy / "migrations" / "versions" / f"{new[0]}.py"
    header = migration_header(empty)
    assert (header["revision"], header["down_revision"]) == (new[0], "0005_add_phone_number")
    assert "def upgrade() -> None:\n    pass\n" in empty.read_text()
    assert "def downgrade() -> None:\n    pass\n" in empty.read_text()

    # --empty -n: named as asked.
    assert succeeded(manage("makemigrations", "--empty", "-n", "fill phones")) == [
        "Migrations for 'project':",
        "  migrations/versions/0007_fill_phones.py",
    ]
    header = migration_header(project_copy / "migrations" / "versions" / "0007_fill_phones.py")
    assert (header["revision"], header["down_revision"]) == ("0007_fill_phones", new[0])

    # None of it made the user's database.
    assert not database_exists(sqlite_url)


def test_scriptable_writes_only_the_new_files_path_to_stdout(project_copy, run_manage, sqlite_url):
    """Django 4.1's --scriptable: a script reads the path from stdout; the rest goes to stderr."""
    result = run_manage(project_copy, "makemigrations", "--scriptable", "--empty", "-n", "notes",
                        database_url=sqlite_url)

    assert (result.returncode, result.stdout) == (0, "migrations/versions/0005_notes.py\n"), result.stderr
    assert result.stderr.splitlines() == ["Migrations for 'project':", "  migrations/versions/0005_notes.py"]


def test_migrate_in_a_terminal_says_the_models_have_changes_as_django(project_copy, run_manage, sqlite_url, on_a_terminal):
    """Django's two lines after "No migrations to apply." when the models changed; a deploy
    (no terminal) never pays for the comparison and prints nothing more."""
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    append(project_copy, "hotels", "\n\nclass Review(Base):\n    __tablename__ = 'reviews'\n"
                                   "    id: Mapped[int] = mapped_column(primary_key=True)\n")

    status, shown, errors = on_a_terminal(project_copy, "migrate", database_url=sqlite_url, env={"NO_COLOR": "1"})
    assert status == 0, errors
    deployed = run_manage(project_copy, "migrate", database_url=sqlite_url)

    assert shown.splitlines()[-3:] == [
        "  No migrations to apply.",
        "  Your models in app(s): 'project' have changes that are not yet reflected in a migration, and so "
        "won't be applied.",
        "  Run 'manage.py makemigrations' to make new migrations, and then re-run 'manage.py migrate' to apply them.",
    ]
    assert deployed.stdout.splitlines()[-1] == "  No migrations to apply."


def test_update_folds_the_changes_into_the_latest_migration_while_it_is_applied_nowhere(
        project_copy, run_manage, sqlite_url, succeeded, versions):
    """Django 4.2's --update: the latest migration is written again with the new changes, under
    the name they suggest, and the old file deleted; once it is applied, it is left alone."""
    def manage(*args):
        return run_manage(project_copy, *args, database_url=sqlite_url)

    succeeded(manage("migrate"))
    append(project_copy, "users", PHONE_COLUMN)
    succeeded(manage("makemigrations", "-n", "phone"))
    append(project_copy, "users", "    nickname: Mapped[str | None] = mapped_column(String(30))\n")

    assert succeeded(manage("makemigrations", "--update")) == [
        "Migrations for 'project':", "  migrations/versions/0005_users_phone_users_nickname.py",
        "    + Add column phone to users", "    + Add column nickname to users",
        "Deleted migrations/versions/0005_phone.py"]
    assert versions(project_copy)[-1] == "0005_users_phone_users_nickname"
    assert succeeded(manage("makemigrations", "--check")) == ["No changes detected"]

    succeeded(manage("migrate"))
    append(project_copy, "users", "    bio: Mapped[str | None] = mapped_column(String(30))\n")
    refused = manage("makemigrations", "--update")
    assert (refused.returncode, refused.stderr) == (
        1, "CommandError: Cannot update applied migration '0005_users_phone_users_nickname'.\n")


def test_update_leaves_a_migration_with_hand_written_steps_alone(project_copy, run_manage, sqlite_url, versions):
    (project_copy / "migrations" / "versions" / "0004_make_email_unique.py").write_text(
        (project_copy / "migrations" / "versions" / "0004_make_email_unique.py").read_text().replace(
            "def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute('UPDATE users SET email = lower(email)')\n"))
    append(project_copy, "users", PHONE_COLUMN)

    refused = run_manage(project_copy, "makemigrations", "--update", database_url=sqlite_url)

    assert (refused.returncode, refused.stderr) == (
        1, "CommandError: Cannot update 0004_make_email_unique: it calls execute, which makemigrations does not "
           "write. Fold the changes in by hand, or make a new migration.\n")
    assert versions(project_copy)[-1] == "0004_make_email_unique"
