"""squashmigrations through Click's CliRunner on a copy of the project: what it refuses, what
it keeps (labels, renames), and what migrate --prune and the plain alembic command make of it.
The 30-migration runs on SQLite and PostgreSQL are in tests/e2e/test_squashmigrations.py."""
import re
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from manage_migrations.cli import cli

SQUASHED = "0001_create_table_hotels_squashed_0003_add_users"


@pytest.fixture
def site(make_settings, project_copy, sqlite_url):
    """The project copy's settings and a way to run a command on them."""
    settings = make_settings(project_copy, sqlite_url)

    def manage(*args, input=None):
        return CliRunner().invoke(cli, list(args), obj=settings, input=input)

    return project_copy, manage, sqlite_url


def versions(project: Path) -> Path:
    return project / "migrations" / "versions"


def header(path: Path, name: str):
    return re.search(rf"^{name} = (.*)$", path.read_text(), re.M).group(1)


def rows(url: str, sql: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_a_database_at_end_is_recorded_and_prune_forgets_the_replaced_dates_once_their_files_are_gone(site):
    project, manage, url = site
    assert manage("migrate", "0003").exit_code == 0
    result = manage("squashmigrations", "0003", "--noinput")
    assert result.exit_code == 0, result.output
    result = manage("migrate", "--prune")  # their files are still in migrations/replaced/
    assert [line.strip() for line in result.output.splitlines()] == ["Pruning migrations:", "No migrations to prune."]
    for path in (project / "migrations" / "replaced").iterdir():
        path.unlink()
    result = manage("migrate", "--prune")
    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.output.splitlines()] == [
        "Pruning migrations:", "Pruning project.0001_create_table_hotels OK",
        "Pruning project.0002_create_table_rooms OK", "Pruning project.0003_add_users OK"]
    assert rows(url, "SELECT version_num FROM alembic_version") == [("0003_add_users",)]
    result = manage("migrate")
    assert "Recording 0001_create_table_hotels_squashed_0003_add_users in place of 0003_add_users" in result.output
    assert rows(url, "SELECT version_num FROM alembic_version") == [("0004_make_email_unique",)]


def test_a_follower_of_a_migration_inside_the_range_is_refused(site):
    project, manage, _ = site
    (versions(project) / "0005_side.py").write_text(
        "revision = '0005_side'\ndown_revision = '0002_create_table_rooms'\n\n\ndef upgrade():\n    pass\n")
    result = manage("squashmigrations", "0003", "--noinput")
    assert result.exit_code == 1
    assert "Will squash" not in result.output
    assert "0005_side needs 0002_create_table_rooms, which the squashed migration would replace" in result.stderr
    assert sorted(p.name for p in versions(project).glob("*.py"))[:3] == [
        "0001_create_table_hotels.py", "0002_create_table_rooms.py", "0003_add_users.py"]


def test_a_squash_of_a_squash_whose_files_are_there_is_refused(site):
    project, manage, _ = site
    assert manage("squashmigrations", "0003", "--noinput").exit_code == 0
    result = manage("squashmigrations", "0004", "--noinput")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"CommandError: You cannot squash squashed migrations! Please transition {SQUASHED}")


@pytest.mark.parametrize("at", ["0002_create_table_rooms", "0003_add_users", SQUASHED, None])
def test_a_squash_of_a_squash_carries_every_database_on(site, project_copy, tmp_path, at):
    """0001-0003 squashed, their files deleted, then that squash and 0004 squashed: a database
    recorded anywhere on the way still reaches head (part-way in the first squash: its files
    are gone, so one line)."""
    project, manage, url = site
    if at is not None:
        assert manage("migrate", at[:4] if at != SQUASHED else "0003").exit_code == 0
    assert manage("squashmigrations", "0003", "--noinput").exit_code == 0
    if at == SQUASHED:
        assert manage("migrate", SQUASHED).exit_code == 0
    for name in ("0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users"):
        (project / "migrations" / "replaced" / f"{name}.py").unlink()
    result = manage("squashmigrations", "0004", "--noinput", "--squashed-name", "base")
    assert result.exit_code == 0, result.output
    assert header(versions(project) / "0001_base.py", "replaces") == (
        f"('0001_create_table_hotels', '0002_create_table_rooms', '0003_add_users', '{SQUASHED}', "
        "'0004_make_email_unique')")
    result = manage("migrate")
    if at == "0002_create_table_rooms":
        assert result.exit_code == 1
        assert "part-way through the migrations that " in result.stderr
        return
    assert result.exit_code == 0, (result.output, result.stderr)
    assert rows(url, "SELECT version_num FROM alembic_version") == [("0001_base",)]
    assert {"hotels", "rooms", "users"} <= set(sa.inspect(sa.create_engine(url)).get_table_names())


def test_branch_labels_move_to_the_squashed_migration(site):
    project, manage, url = site
    first = versions(project) / "0001_create_table_hotels.py"
    first.write_text(first.read_text().replace("branch_labels = None", "branch_labels = ('hotels',)"))
    result = manage("squashmigrations", "hotels", "0002", "--noinput")
    assert result.exit_code == 0, result.output
    squashed = versions(project) / "0001_create_table_hotels_squashed_0002_create_table_rooms.py"
    assert header(squashed, "branch_labels") == "'hotels'"
    result = manage("showmigrations", "hotels")
    assert result.output.splitlines()[:2] == [
        "hotels", " [ ] 0001_create_table_hotels_squashed_0002_create_table_rooms (2 squashed migrations)"]
    assert manage("migrate", "hotels@head").exit_code == 0


def test_a_rename_in_the_range_stays_a_rename(site):
    project, manage, url = site
    (versions(project) / "0005_rename_city.py").write_text(
        "from alembic import op\n\nrevision = '0005_rename_city'\ndown_revision = '0004_make_email_unique'\n\n\n"
        "def upgrade():\n    with op.batch_alter_table('hotels') as batch_op:\n"
        "        batch_op.alter_column('city', new_column_name='town')\n\n\n"
        "def downgrade():\n    with op.batch_alter_table('hotels') as batch_op:\n"
        "        batch_op.alter_column('town', new_column_name='city')\n")
    assert manage("migrate", "0001").exit_code == 0
    result = manage("squashmigrations", "0002", "0005", "--noinput")
    assert result.exit_code == 0, result.output
    text = (versions(project) / "0002_create_table_rooms_squashed_0005_rename_city.py").read_text()
    assert "new_column_name='town'" in text
    assert "drop_column" not in text
    assert manage("migrate").exit_code == 0
    assert {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("hotels")} == {"id", "name", "town"}


def test_hand_written_steps_are_listed_and_kept_as_comments(site):
    project, manage, _ = site
    (versions(project) / "0005_seed.py").write_text(
        "from alembic import op\n\nrevision = '0005_seed'\ndown_revision = '0004_make_email_unique'\n\n\n"
        "def upgrade():\n    op.execute(\"INSERT INTO hotels (name, city) VALUES ('Ritz', 'Paris')\")\n\n\n"
        "def downgrade():\n    op.execute(\"DELETE FROM hotels\")\n")
    result = manage("squashmigrations", "0005", "--noinput")
    assert result.exit_code == 0, result.output
    assert "Manual porting required" in result.output
    assert "    0005_seed: execute" in result.output.splitlines()
    text = (versions(project) / "0001_create_table_hotels_squashed_0005_seed.py").read_text()
    assert "#   op.execute(\"INSERT INTO hotels (name, city) VALUES ('Ritz', 'Paris')\")" in text


def test_answering_no_changes_nothing(site):
    project, manage, _ = site
    before = sorted(p.name for p in versions(project).iterdir())
    result = manage("squashmigrations", "0003", input="n\n")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "Do you wish to proceed? [y/N] Aborting squash."
    assert sorted(p.name for p in versions(project).iterdir()) == before
    assert not (project / "migrations" / "replaced").exists()


def test_input_that_has_ended_answers_no(site):
    project, manage, _ = site
    result = manage("squashmigrations", "0003", input="")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "Aborting squash."
    assert not (project / "migrations" / "replaced").exists()


@pytest.mark.parametrize("at, planned", [
    ("0003", [f"Record {SQUASHED} in place of 0003_add_users", "Apply 0004_make_email_unique"]),
    ("0002", ["Apply 0003_add_users", f"Record {SQUASHED} in place of 0003_add_users", "Apply 0004_make_email_unique"]),
])
def test_the_plan_says_where_a_squash_is_recorded(site, at, planned):
    project, manage, _ = site
    assert manage("migrate", at).exit_code == 0
    assert manage("squashmigrations", "0003", "--noinput").exit_code == 0
    result = manage("migrate", "--plan")
    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.output.splitlines() if line.startswith("  ") and
            not line.startswith("    ")] == planned


def write_migration(project: Path, revision: str, parent: str, upgrade: str, downgrade: str = "pass") -> None:
    (versions(project) / f"{revision}.py").write_text(
        f"from alembic import op\nimport sqlalchemy as sa\n\nrevision = {revision!r}\ndown_revision = {parent!r}\n"
        f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n{textwrap.indent(upgrade, '    ')}\n\n\n"
        f"def downgrade():\n{textwrap.indent(downgrade, '    ')}\n")


def test_check_constraints_and_partial_indexes_keep_their_names_and_conditions(site):
    project, manage, url = site
    write_migration(project, "0005_rules", "0004_make_email_unique",
                    "with op.batch_alter_table('rooms') as batch_op:\n"
                    "    batch_op.create_check_constraint('beds_positive', 'beds > 0')\n"
                    "op.create_index('ix_rooms_big', 'rooms', ['beds'], sqlite_where=sa.text('beds > 2'))")
    result = manage("squashmigrations", "0005", "--noinput")
    assert result.exit_code == 0, (result.output, result.stderr)
    text = (versions(project) / "0001_create_table_hotels_squashed_0005_rules.py").read_text()
    assert "sa.CheckConstraint('beds > 0', name=op.f('ck_rooms_beds_positive'))" in text
    assert "sqlite_where=sa.text('beds > 2'), postgresql_where=sa.text('beds > 2')" in text
    assert manage("migrate").exit_code == 0
    inspector = sa.inspect(sa.create_engine(url))
    assert [c["name"] for c in inspector.get_check_constraints("rooms")] == ["ck_rooms_beds_positive"]


def test_an_expression_index_sqlite_cannot_read_back_is_refused(site):
    project, manage, _ = site
    write_migration(project, "0005_lower_email", "0004_make_email_unique",
                    "op.create_index('ix_users_lower_email', 'users', [sa.text('lower(email)')])")
    result = manage("squashmigrations", "0005", "--noinput")
    assert result.exit_code == 1
    assert result.stderr.startswith("CommandError: Cannot squash: sqlite cannot read back all the schema (Skipped "
                                    "unsupported reflection of expression-based index ix_users_lower_email)")
    assert not (project / "migrations" / "replaced").exists()


def test_a_squash_is_not_updated_by_makemigrations(site):
    project, manage, _ = site
    assert manage("squashmigrations", "0004", "--noinput").exit_code == 0
    result = manage("makemigrations", "--update")
    assert result.exit_code == 1
    assert result.stderr == ("CommandError: Cannot update squash migration "
                             "'0001_create_table_hotels_squashed_0004_make_email_unique'.\n")


def test_part_way_targets_the_squash_and_plans_down_without_recording_it(site):
    project, manage, url = site
    assert manage("migrate", "0002").exit_code == 0
    assert manage("squashmigrations", "0003", "--noinput").exit_code == 0
    result = manage("migrate", "0001", "--plan")
    assert [line.strip() for line in result.output.splitlines()[1:]] == ["Unapply 0002_create_table_rooms",
                                                                         "Drop table rooms  [destroys data]"]
    result = manage("migrate", SQUASHED[:30])
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "Applying 0003_add_users... OK" in result.output
    assert rows(url, "SELECT version_num FROM alembic_version") == [(SQUASHED,)]


def test_on_mariadb_the_index_of_a_foreign_key_is_not_written_and_an_unfinished_one_is_named(make_settings, project_copy,
                                                                                            mariadb_url):
    """MariaDB reads back the index it makes for a foreign key, and its table options: neither
    belongs in the squashed migration (the models have no such index). A replaced
    migration left unfinished (MariaDB cannot roll DDL back) is named with its real parent."""
    project = project_copy
    settings = make_settings(project, mariadb_url)

    def manage(*args):
        return CliRunner().invoke(cli, list(args), obj=settings)

    write_migration(project, "0005_owner", "0004_make_email_unique",
                    "with op.batch_alter_table('hotels') as batch_op:\n"
                    "    batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))\n"
                    "    batch_op.create_foreign_key('fk_hotels_owner_id_users', 'users', ['owner_id'], ['id'])")
    assert manage("migrate", "0002").exit_code == 0
    result = manage("squashmigrations", "0005", "--noinput")
    assert result.exit_code == 0, (result.output, result.stderr)
    text = (versions(project) / "0001_create_table_hotels_squashed_0005_owner.py").read_text()
    assert "fk_hotels_owner_id_users'), [" not in text and "create_index(batch_op.f('fk_" not in text
    assert "mysql_" not in text
    with sa.create_engine(mariadb_url).begin() as connection:
        connection.exec_driver_sql("INSERT INTO manage_migrations_unfinished VALUES ('0003_add_users', 1)")
    result = manage("migrate")
    assert result.exit_code == 1
    assert "if not, undo what it did and run 'python manage.py fake 0002_create_table_rooms'" in result.stderr
