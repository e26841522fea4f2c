"""Checksums of applied migrations (issue 23): the digest of each file is recorded when it is
applied; showmigrations marks an applied migration edited since, migrate warns, check fails;
``repair`` records the files as they are now. Line endings and the end of a file do not count,
and a database migrated before checksums were kept is never flagged. Also showmigrations'
``--format json`` against its documented shape, and GitHub Actions annotations. Every command
runs as ``python manage.py`` in a subprocess, on a database and a project copy of the test's own."""
import hashlib
import json
import re
from datetime import datetime, timezone

import pytest

ROOMS = "0002_create_table_rooms"
ROOMS_FILE = f"migrations/versions/{ROOMS}.py"
CHANGED = "(changed since applied)"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_database_url(request):
    """Each test using this runs on SQLite, PostgreSQL and MariaDB."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url",
                                    "mariadb": "mariadb_url"}[request.param])


def edit(project, name: str, text: str = "\n# reviewed: nothing the database runs changes\n") -> None:
    with open(project / "migrations" / "versions" / f"{name}.py", "a", newline="") as file:
        file.write(text)


def applied_at(sql, url: str, revision: str, table: str = "manage_migrations") -> str:
    """When the history table says the migration ran, as our messages print it (UTC)."""
    (value,), = sql(url, f"SELECT applied FROM {table} WHERE revision = '{revision}'")
    if isinstance(value, str):  # SQLite keeps UTC, as text
        value = datetime.fromisoformat(value)
    value = value.astimezone(timezone.utc) if value.tzinfo else value
    return f"{value:%Y-%m-%d %H:%M:%S}"


def recorded_checksums(sql, url: str, table: str = "manage_migrations") -> dict:
    return dict(sql(url, f"SELECT revision, checksum FROM {table}"))


def normalised_digest(path) -> str:
    """What the README says is recorded: sha256 of the source, CRLF and CR read as LF, the lines
    that say where it sits in the history emptied (one line each in the sample's files), the
    end's whitespace left out."""
    source = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = [b"" if line.startswith((b"down_revision", b"depends_on", b"Revises:")) else line
             for line in source.split(b"\n")]
    return hashlib.sha256(b"\n".join(lines).rstrip()).hexdigest()


def failed(result) -> str:
    assert result.returncode == 1, f"exit status {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_an_edited_applied_migration_is_flagged_until_repaired(project_copy, run_manage, database_url, succeeded,
                                                               sql):
    """Edited after it ran: showmigrations marks it (list and plan), migrate warns and goes on,
    check fails naming the file and when it ran; repair records the file as it is now, and
    nothing is flagged any more."""
    succeeded(run_manage(project_copy, "migrate", database_url=database_url))
    versions = project_copy / "migrations" / "versions"
    assert recorded_checksums(sql, database_url) == {path.stem: normalised_digest(path)
                                                     for path in versions.glob("0*.py")}
    assert f" [X] {ROOMS}" in succeeded(run_manage(project_copy, "showmigrations", database_url=database_url))

    edit(project_copy, ROOMS)
    when = applied_at(sql, database_url, ROOMS)
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=database_url))
    assert f" [X] {ROOMS} {CHANGED}" in listed
    assert [line for line in listed if CHANGED in line] == [f" [X] {ROOMS} {CHANGED}"]
    assert f"[X]  {ROOMS} {CHANGED}" in succeeded(run_manage(project_copy, "showmigrations", "--plan",
                                                            database_url=database_url))

    checked = run_manage(project_copy, "check", "--database", "default", database_url=database_url)
    out = failed(checked)
    assert f"Migration {ROOMS} ({ROOMS_FILE}) has changed since it was applied on {when} UTC" in out
    assert "python manage.py repair" in out

    migrated = run_manage(project_copy, "migrate", "0003", database_url=database_url)  # unapplies 0004
    assert migrated.returncode == 0, migrated.stderr
    assert f"Warning: Migration {ROOMS} ({ROOMS_FILE}) has changed since it was applied on {when} UTC" \
        in migrated.stderr
    assert "Unapplying 0004_make_email_unique... OK" in migrated.stdout
    at_head = run_manage(project_copy, "migrate", database_url=database_url)
    assert at_head.returncode == 0 and ROOMS in at_head.stderr  # it ran a migration: warned again

    repaired = succeeded(run_manage(project_copy, "repair", database_url=database_url))
    assert repaired == ["Recording checksums:", f"  Recorded {ROOMS} (changed since applied on {when} UTC)"]
    assert recorded_checksums(sql, database_url)[ROOMS] == normalised_digest(versions / f"{ROOMS}.py")
    assert applied_at(sql, database_url, ROOMS) == when  # when it ran is kept
    assert succeeded(run_manage(project_copy, "repair", database_url=database_url)) == [
        "Recording checksums:", "  No checksums to record."]
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=database_url))
    assert not [line for line in listed if CHANGED in line]
    assert succeeded(run_manage(project_copy, "check", "--database", "default", database_url=database_url))[-1] \
        == "System check identified no issues."
    migrated = run_manage(project_copy, "migrate", "0003", database_url=database_url)
    assert migrated.returncode == 0 and "Warning" not in migrated.stderr


def test_repair_of_named_migrations_records_only_those(project_copy, run_manage, sqlite_url, succeeded, sql):
    """``repair 0001`` after two edits: 0001 is recorded, 0002 stays flagged; a name no file
    has is an error that changes nothing."""
    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    edit(project_copy, "0001_create_table_hotels")
    edit(project_copy, ROOMS)
    before = recorded_checksums(sql, sqlite_url)
    unknown = run_manage(project_copy, "repair", "0009", database_url=sqlite_url)
    assert unknown.returncode == 1 and "CommandError: Cannot find a migration matching '0009'." in unknown.stderr
    assert recorded_checksums(sql, sqlite_url) == before
    when = applied_at(sql, sqlite_url, "0001_create_table_hotels")
    assert succeeded(run_manage(project_copy, "repair", "0001", database_url=sqlite_url)) == [
        "Recording checksums:", f"  Recorded 0001_create_table_hotels (changed since applied on {when} UTC)"]
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=sqlite_url))
    assert [line for line in listed if CHANGED in line] == [f" [X] {ROOMS} {CHANGED}"]


def test_line_endings_and_the_end_of_a_file_are_not_an_edit(project_copy, run_manage, database_url, succeeded,
                                                            sql):
    """A checkout with CRLF line endings, a final newline added or taken away, blank lines at the
    end: the same migration, not flagged."""
    succeeded(run_manage(project_copy, "migrate", database_url=database_url))
    versions = project_copy / "migrations" / "versions"
    hotels, rooms, users = (versions / f"{name}.py" for name in ("0001_create_table_hotels", ROOMS, "0003_add_users"))
    hotels.write_bytes(hotels.read_bytes().replace(b"\n", b"\r\n"))
    rooms.write_bytes(rooms.read_bytes() + b"\n\n  \n")
    users.write_bytes(users.read_bytes().rstrip(b"\n"))
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=database_url))
    assert not [line for line in listed if CHANGED in line]
    assert succeeded(run_manage(project_copy, "check", "--database", "default", database_url=database_url))[-1] \
        == "System check identified no issues."
    edit(project_copy, "0003_add_users", "# a comment is an edit\n")
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=database_url))
    assert [line for line in listed if CHANGED in line] == [f" [X] 0003_add_users {CHANGED}"]


def test_a_database_migrated_before_checksums_is_not_flagged_and_migrate_adds_the_column(
        project_copy, run_manage, any_database_url, succeeded, sql):
    """A history table made before checksums were kept (no column): its migrations are never
    flagged, edited or not; the next migrate that runs a migration adds the column and records
    that migration's checksum; repair records the others'."""
    url = any_database_url
    succeeded(run_manage(project_copy, "migrate", database_url=url))
    sql(url, "ALTER TABLE manage_migrations DROP COLUMN checksum")
    edit(project_copy, ROOMS)
    listed = succeeded(run_manage(project_copy, "showmigrations", "-v", "2", database_url=url))
    assert f" [X] {ROOMS} (applied at {applied_at(sql, url, ROOMS)})" in listed
    assert not [line for line in listed if CHANGED in line]
    document = json.loads(succeeded(run_manage(project_copy, "showmigrations", "--format", "json",
                                               database_url=url))[0])
    assert not any(m["changed_since_applied"] for app in document["apps"] for m in app["migrations"])

    migrated = run_manage(project_copy, "migrate", "0003", database_url=url)
    assert migrated.returncode == 0 and "Warning" not in migrated.stderr, migrated.stderr
    succeeded(run_manage(project_copy, "migrate", database_url=url))
    versions = project_copy / "migrations" / "versions"
    assert recorded_checksums(sql, url) == {"0001_create_table_hotels": None, ROOMS: None, "0003_add_users": None,
                                            "0004_make_email_unique": normalised_digest(
                                                versions / "0004_make_email_unique.py")}
    assert succeeded(run_manage(project_copy, "repair", database_url=url)) == [
        "Recording checksums:", *(f"  Recorded {name} (no checksum before)"
                                  for name in ("0001_create_table_hotels", ROOMS, "0003_add_users"))]
    edit(project_copy, "0003_add_users")
    listed = succeeded(run_manage(project_copy, "showmigrations", database_url=url))
    assert [line for line in listed if CHANGED in line] == [f" [X] 0003_add_users {CHANGED}"]


def test_repair_adds_the_column_to_an_older_history_table(project_copy, run_manage, sqlite_url, succeeded, sql):
    """repair on a database migrated before checksums were kept, with nothing left to migrate."""
    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    sql(sqlite_url, "ALTER TABLE manage_migrations DROP COLUMN checksum")
    repaired = succeeded(run_manage(project_copy, "repair", database_url=sqlite_url))
    assert len(repaired) == 5 and all(line.endswith("(no checksum before)") for line in repaired[1:])
    assert None not in recorded_checksums(sql, sqlite_url).values()


def test_checksums_beside_a_version_table_of_the_projects_own(project_copy, run_manage, postgres_url, succeeded,
                                                              sql, set_version_table):
    """env.py's ``version_table="billing_versions", version_table_schema="billing"``: the history
    beside it (billing.billing_versions_history) gets its column added, and is the one compared."""
    set_version_table(project_copy, "'billing_versions', version_table_schema='billing'")
    sql(postgres_url, "CREATE SCHEMA billing")
    table = "billing.billing_versions_history"
    succeeded(run_manage(project_copy, "migrate", database_url=postgres_url))
    sql(postgres_url, f"ALTER TABLE {table} DROP COLUMN checksum")
    succeeded(run_manage(project_copy, "migrate", "0003", database_url=postgres_url))
    succeeded(run_manage(project_copy, "migrate", database_url=postgres_url))
    assert list(recorded_checksums(sql, postgres_url, table).values()).count(None) == 3
    assert succeeded(run_manage(project_copy, "repair", database_url=postgres_url))[1:] == [
        f"  Recorded {name} (no checksum before)" for name in ("0001_create_table_hotels", ROOMS, "0003_add_users")]
    edit(project_copy, ROOMS)
    when = applied_at(sql, postgres_url, ROOMS, table)
    assert f"has changed since it was applied on {when} UTC" in failed(
        run_manage(project_copy, "check", "--database", "default", database_url=postgres_url))
    assert "manage_migrations" not in {name for (name,) in sql(
        postgres_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}


# showmigrations --format json: the shape the README documents (format 1)

MIGRATION = {"name": str, "app": str, "file": str, "applied": bool, "applied_at": (str, type(None)),
             "changed_since_applied": bool, "unfinished": bool, "replaces": list}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def valid_migration(entry: dict, plan: bool) -> dict:
    fields = {**MIGRATION, "needs": list} if plan else MIGRATION
    assert set(entry) == set(fields), entry
    for name, kind in fields.items():
        assert isinstance(entry[name], kind), (name, entry)
    assert entry["applied_at"] is None or entry["applied"] and TIMESTAMP.fullmatch(entry["applied_at"]), entry
    assert entry["applied"] or not entry["changed_since_applied"], entry
    assert all(isinstance(name, str) for name in entry["replaces"] + entry.get("needs", []))
    return entry


def valid_document(text: str, plan: bool = False) -> list[dict]:
    """The migrations of a showmigrations document, once it is checked against its shape."""
    document = json.loads(text)
    assert document["format"] == 1
    if plan:
        assert document["kind"] == "showmigrations_plan" and set(document) == {"format", "kind", "migrations"}
        return [valid_migration(entry, plan=True) for entry in document["migrations"]]
    assert document["kind"] == "showmigrations" and set(document) == {"format", "kind", "apps"}
    found = []
    for app in document["apps"]:
        assert set(app) == {"app", "migrations"} and isinstance(app["app"], str)
        found += [valid_migration(entry, plan=False) for entry in app["migrations"]]
        assert all(entry["app"] == app["app"] for entry in app["migrations"])
    return found


def test_showmigrations_json_has_its_documented_shape(project_copy, run_manage, database_url, succeeded, sql):
    succeeded(run_manage(project_copy, "migrate", "0003", database_url=database_url))
    edit(project_copy, ROOMS)
    for options in ([], ["-v", "0"], ["-v", "2"]):  # one document whatever the verbosity
        lines = succeeded(run_manage(project_copy, "showmigrations", "--format", "json", *options,
                                     database_url=database_url))
        assert len(lines) == 1
        migrations = valid_document(lines[0])
        assert [m["name"] for m in migrations] == ["0001_create_table_hotels", ROOMS, "0003_add_users",
                                                   "0004_make_email_unique"]
    rooms = migrations[1]
    assert rooms == {"name": ROOMS, "app": "project", "file": ROOMS_FILE, "applied": True,
                     "applied_at": applied_at(sql, database_url, ROOMS).replace(" ", "T") + "Z",
                     "changed_since_applied": True, "unfinished": False, "replaces": []}
    assert [m["changed_since_applied"] for m in migrations] == [False, True, False, False]
    assert migrations[3]["applied"] is False and migrations[3]["applied_at"] is None

    planned = valid_document(succeeded(run_manage(project_copy, "showmigrations", "--plan", "--format", "json",
                                                  database_url=database_url))[0], plan=True)
    assert [(m["name"], m["needs"]) for m in planned] == [
        ("0001_create_table_hotels", []), (ROOMS, ["0001_create_table_hotels"]), ("0003_add_users", [ROOMS]),
        ("0004_make_email_unique", ["0003_add_users"])]
    assert [m["changed_since_applied"] for m in planned] == [False, True, False, False]


# GitHub Actions annotations, only where the runner sets GITHUB_ACTIONS=true

def test_annotations_under_github_actions(project_copy, run_manage, sqlite_url, succeeded, sql):
    succeeded(run_manage(project_copy, "migrate", database_url=sqlite_url))
    edit(project_copy, ROOMS)
    when = applied_at(sql, sqlite_url, ROOMS)
    on_github, elsewhere = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(project_copy)}, {"GITHUB_ACTIONS": ""}
    annotation = re.compile(rf"^::(error|warning) file={re.escape(ROOMS_FILE)},line=1::Migration {ROOMS} "
                            rf"\({re.escape(ROOMS_FILE)}\) has changed since it was applied on {when} UTC", re.M)

    checked = run_manage(project_copy, "check", "--database", "default", database_url=sqlite_url, env=on_github)
    assert [found.group(1) for found in annotation.finditer(failed(checked))] == ["error"]
    checked = run_manage(project_copy, "check", "--database", "default", database_url=sqlite_url, env=elsewhere)
    assert not annotation.search(failed(checked)) and "::error" not in checked.stdout

    migrated = run_manage(project_copy, "migrate", "0003", database_url=sqlite_url, env=on_github)
    assert migrated.returncode == 0, migrated.stderr
    assert [found.group(1) for found in annotation.finditer(migrated.stdout)] == ["warning"]
    migrated = run_manage(project_copy, "migrate", database_url=sqlite_url, env=elsewhere)
    assert migrated.returncode == 0 and "::warning" not in migrated.stdout and ROOMS in migrated.stderr

    document = run_manage(project_copy, "showmigrations", "--format", "json", database_url=sqlite_url, env=on_github)
    valid_document(succeeded(document)[0])  # stdout stays one document

    # manage.py in a folder of the repository: the annotation names the file from the repository's top
    in_a_folder = {**on_github, "GITHUB_WORKSPACE": str(project_copy.parent)}
    checked = run_manage(project_copy, "check", "--database", "default", database_url=sqlite_url, env=in_a_folder)
    assert f"::error file=site/{ROOMS_FILE},line=1::Migration {ROOMS} ({ROOMS_FILE})" in failed(checked)
