"""Drift: ``check --database default`` compares the database with the schema its applied
migrations build on a scratch database, names each difference as the operation that would make
the database like them, exits 1, and leaves the database as it was. Through ``python manage.py``
on copies of the sample project, on SQLite and PostgreSQL; ``--format json`` and GitHub's
annotations on PostgreSQL."""
import json

import sqlalchemy as sa

SUMMARY = "CommandError: System check identified 1 issue.\n"


def columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def migrated(project, run_manage, url: str) -> None:
    result = run_manage(project, "migrate", database_url=url)
    assert result.returncode == 0, result.stderr


def test_no_drift_right_after_migrate(project_copy, run_manage, database_url):
    migrated(project_copy, run_manage, database_url)

    checked = run_manage(project_copy, "check", "--database", "default", database_url=database_url)

    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout == "System check identified no issues.\n"


def test_a_column_added_by_hand_is_drift(project_copy, run_manage, database_url, sql):
    migrated(project_copy, run_manage, database_url)
    sql(database_url, "ALTER TABLE users ADD COLUMN phone VARCHAR(20)")

    checked = run_manage(project_copy, "check", "--database", "default", database_url=database_url)

    assert (checked.returncode, checked.stderr) == (1, SUMMARY)
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("The database differs from the schema its migrations build (at 0004_make_email_unique)")
    assert "    - Remove column phone from users" in lines
    # What to do: write the migration the models need and fake it here; never a reset.
    assert any("'python manage.py makemigrations'" in line and "'python manage.py fake" in line for line in lines)
    assert not any("flush" in line or "reset" in line.lower() for line in lines)
    assert "phone" in columns(database_url, "users")  # only read


def test_a_column_dropped_by_hand_is_drift(project_copy, run_manage, database_url, sql):
    migrated(project_copy, run_manage, database_url)
    sql(database_url, "ALTER TABLE hotels DROP COLUMN city")

    checked = run_manage(project_copy, "check", "--database", "default", database_url=database_url)

    assert (checked.returncode, checked.stderr) == (1, SUMMARY)
    assert "    + Add column city to hotels" in checked.stdout.splitlines()
    assert "city" not in columns(database_url, "hotels")


def test_drift_is_against_the_recorded_revision_not_the_latest(project_copy, run_manage, postgres_url):
    """A database at 0002 without the users table has no drift: its migrations did not make it yet."""
    result = run_manage(project_copy, "migrate", "0002", database_url=postgres_url)
    assert result.returncode == 0, result.stderr

    checked = run_manage(project_copy, "check", "--database", "default", "--format", "json", database_url=postgres_url)

    assert checked.returncode == 1
    document = json.loads(checked.stdout)
    assert document["drift"] == []
    assert [problem["kind"] for problem in document["problems"]] == ["unapplied"]


def test_json_has_the_documented_shape(project_copy, run_manage, postgres_url, sql):
    migrated(project_copy, run_manage, postgres_url)
    clean = run_manage(project_copy, "check", "--database", "default", "--format", "json", database_url=postgres_url)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"format": 1, "kind": "check", "ok": True, "problems": [], "drift": []}

    sql(postgres_url, "ALTER TABLE users ADD COLUMN phone VARCHAR(20)")
    sql(postgres_url, "ALTER TABLE hotels DROP COLUMN city")
    drifted = run_manage(project_copy, "check", "--database", "default", "--format", "json", database_url=postgres_url)

    assert (drifted.returncode, drifted.stderr) == (1, SUMMARY)
    document = json.loads(drifted.stdout)  # stdout is the document alone
    assert set(document) == {"format", "kind", "ok", "problems", "drift"}
    assert (document["format"], document["kind"], document["ok"]) == (1, "check", False)
    [problem] = document["problems"]
    assert problem["kind"] == "drift" and problem["message"].startswith("The database differs")
    assert sorted(document["drift"], key=lambda found: found["operation"]) == [
        {"operation": "Add column city to hotels", "database": "behind"},
        {"operation": "Remove column phone from users", "database": "ahead"},
    ]


def test_github_actions_annotations(project_copy, run_manage, postgres_url, sql):
    migrated(project_copy, run_manage, postgres_url)
    sql(postgres_url, "ALTER TABLE users ADD COLUMN phone VARCHAR(20)")
    on_github = {"GITHUB_ACTIONS": "true"}

    text = run_manage(project_copy, "check", "--database", "default", database_url=postgres_url, env=on_github)
    as_json = run_manage(project_copy, "check", "--database", "default", "--format", "json",
                         database_url=postgres_url, env=on_github)
    elsewhere = run_manage(project_copy, "check", "--database", "default", database_url=postgres_url,
                           env={"GITHUB_ACTIONS": ""})

    [annotation] = [line for line in text.stdout.splitlines() if line.startswith("::")]
    assert annotation.startswith("::error::The database differs from the schema its migrations build")
    assert "Remove column phone from users" in annotation
    # Beside JSON the annotation goes to stderr, so that stdout stays one document.
    assert json.loads(as_json.stdout)["ok"] is False
    assert as_json.stderr.splitlines()[0] == annotation
    assert not any(line.startswith("::") for line in elsewhere.stdout.splitlines() + elsewhere.stderr.splitlines())
