"""Django's guards on the migration history, through ``python manage.py`` in a subprocess:
conflicts and merges, duplicate ids, unknown revisions in the database, --plan and --check."""
import sqlalchemy as sa
from migration_file import write_migration

CONFLICT = (
    "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
    "(0005_add_phone, 0005_add_rating in project).\n"
    "To fix them run 'python manage.py makemigrations --merge'\n"
)


def two_branches(project):
    """What two developers' branches leave after both are merged in git: two fifth migrations."""
    write_migration(project, "0005_add_phone", "0004_make_email_unique",
                    "op.add_column('users', sa.Column('phone', sa.String(30)))",
                    "with op.batch_alter_table('users') as batch_op:\n                batch_op.drop_column('phone')")
    write_migration(project, "0005_add_rating", "0004_make_email_unique",
                    "op.add_column('hotels', sa.Column('rating', sa.Integer()))",
                    "with op.batch_alter_table('hotels') as batch_op:\n                batch_op.drop_column('rating')")


def columns(url, table):
    engine = sa.create_engine(url)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def version(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def test_conflict_then_merge_then_migrate(project_copy, run_manage, database_url):
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    two_branches(project_copy)

    for command in (["migrate"], ["makemigrations"], ["showmigrations", "--plan"]):
        refused = run_manage(project_copy, *command, database_url=database_url)
        assert (refused.returncode, refused.stderr) == (1, CONFLICT), command

    merged = run_manage(project_copy, "makemigrations", "--merge", "--noinput", database_url=database_url)

    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.splitlines() == [
        "Merging project",
        "  Branch 0005_add_phone",
        "    + Add column phone to users",
        "  Branch 0005_add_rating",
        "    + Add column rating to hotels",
        "",
        "Created new merge migration migrations/versions/0006_merge_0005_add_phone_0005_add_rating.py",
    ]
    merge_file = (project_copy / "migrations" / "versions" / "0006_merge_0005_add_phone_0005_add_rating.py").read_text()
    assert "down_revision = ('0005_add_phone', '0005_add_rating')" in merge_file

    migrated = run_manage(project_copy, "migrate", database_url=database_url)

    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.splitlines()[-3:] == [  # in the order alembic upgrade heads runs them
        "  Applying 0005_add_rating... OK",
        "  Applying 0005_add_phone... OK",
        "  Applying 0006_merge_0005_add_phone_0005_add_rating... OK",
    ]
    assert "phone" in columns(database_url, "users") and "rating" in columns(database_url, "hotels")
    assert version(database_url) == ["0006_merge_0005_add_phone_0005_add_rating"]

    # As in Django, a target on one branch unapplies only what depends on it.
    back = run_manage(project_copy, "migrate", "0005_add_phone", database_url=database_url)
    assert back.stdout.splitlines()[-1] == "  Unapplying 0006_merge_0005_add_phone_0005_add_rating... OK"
    assert version(database_url) == ["0005_add_phone", "0005_add_rating"]
    assert run_manage(project_copy, "migrate", "0004", database_url=database_url).returncode == 0
    assert "phone" not in columns(database_url, "users") and "rating" not in columns(database_url, "hotels")


def test_merge_asks_first_and_a_no_writes_nothing(project_copy, run_manage, sqlite_url):
    two_branches(project_copy)
    import subprocess
    import sys

    env = {"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}
    answered = subprocess.run([sys.executable, "manage.py", "makemigrations", "--merge"], cwd=project_copy,
                              input="n\n", capture_output=True, text=True, env=env)

    assert "Should these migration branches be merged? [y/N]: " in answered.stdout
    assert not (project_copy / "migrations" / "versions" / "0006_merge_0005_add_phone_0005_add_rating.py").exists()

    named = run_manage(project_copy, "makemigrations", "--merge", "--noinput", "-n", "Join branches", database_url=sqlite_url)
    assert named.stdout.splitlines()[-1] == "Created new merge migration migrations/versions/0006_join_branches.py"


def test_makemigrations_merge_without_conflict_says_so(project_copy, run_manage, sqlite_url):
    result = run_manage(project_copy, "makemigrations", "--merge", "--noinput", database_url=sqlite_url)
    assert (result.returncode, result.stdout) == (0, "No conflicts detected to merge.\n")


def test_two_files_with_one_revision_id_fail_naming_both(project_copy, run_manage, sqlite_url):
    write_migration(project_copy, "0005_add_phone", "0004_make_email_unique", "pass", "pass")
    copy = project_copy / "migrations" / "versions" / "0005_add_phone_copy.py"
    copy.write_text((project_copy / "migrations" / "versions" / "0005_add_phone.py").read_text())

    for command in (["migrate"], ["showmigrations"], ["makemigrations"]):
        result = run_manage(project_copy, *command, database_url=sqlite_url)
        assert (result.returncode, result.stderr) == (1, (
            "CommandError: Revision '0005_add_phone' is declared by two files: "
            "0005_add_phone.py and 0005_add_phone_copy.py.\n")), command


def test_a_revision_in_the_database_that_no_file_has(project_copy, run_manage, sqlite_url):
    write_migration(project_copy, "0005_add_phone", "0004_make_email_unique", "pass", "pass")
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    (project_copy / "migrations" / "versions" / "0005_add_phone.py").unlink()  # switched git branch

    for command in (["migrate"], ["showmigrations"], ["migrate", "-1"]):
        result = run_manage(project_copy, *command, database_url=sqlite_url)
        assert result.returncode == 1, command
        assert result.stderr == (
            "CommandError: The database is at revision '0005_add_phone', which no migration file has: restore "
            "that file; if another project keeps its migrations in this database, give this project a version "
            "table of its own (version_table in env.py's context.configure()); only if the database is this "
            "project's alone, mark it with 'fake' at a migration that exists.\n"), command

    faked = run_manage(project_copy, "fake", "0004", database_url=sqlite_url)
    assert faked.returncode == 0, faked.stderr  # the advice works as written: the revision is forgotten
    assert run_manage(project_copy, "migrate", "--check", database_url=sqlite_url).returncode == 0


def test_migrate_plan_lists_operations_and_marks_those_that_destroy_data(project_copy, run_manage, sqlite_url):
    planned = run_manage(project_copy, "migrate", "--plan", database_url=sqlite_url)

    assert planned.returncode == 0
    assert planned.stdout.splitlines() == [
        "Planned operations:",
        "  Apply 0001_create_table_hotels", "    Create table hotels",
        "  Apply 0002_create_table_rooms", "    Create table rooms", "    Create index ix_rooms_hotel_id on rooms",
        "  Apply 0003_add_users", "    Create table users",
        "  Apply 0004_make_email_unique", "    Create unique constraint uq_users_email on users",
    ]
    assert version_table_missing(sqlite_url)

    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    backwards = run_manage(project_copy, "migrate", "0002", "--plan", database_url=sqlite_url)
    assert backwards.stdout.splitlines() == [
        "Planned operations:",
        "  Unapply 0004_make_email_unique", "    Drop constraint uq_users_email from users",
        "  Unapply 0003_add_users", "    Drop table users  [destroys data]",
    ]
    nothing = run_manage(project_copy, "migrate", "--plan", database_url=sqlite_url)
    assert nothing.stdout == "Planned operations:\n  No planned migration operations.\n"


def version_table_missing(url):
    engine = sa.create_engine(url)
    try:
        return not sa.inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


def test_migrate_check_exits_1_while_migrations_are_unapplied(project_copy, run_manage, database_url):
    pending = run_manage(project_copy, "migrate", "--check", database_url=database_url)
    assert (pending.returncode, pending.stdout, pending.stderr) == (1, "", "")
    assert run_manage(project_copy, "migrate", database_url=database_url).returncode == 0
    done = run_manage(project_copy, "migrate", "--check", database_url=database_url)
    assert (done.returncode, done.stdout) == (0, "")
