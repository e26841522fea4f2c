"""lintmigrations through ``python manage.py``: each rule fires on a migration that breaks it and
stays quiet on the safe form; ignore comments; the JSON shape; GitHub Actions annotations;
makemigrations' warnings and migrate --plan's marks. squawk's rules run on PostgreSQL only;
only their names (squawk's API) are asserted, never squawk's wording."""
import json
import re

import pytest

from migration_file import write_migration

AFTER = "0004_make_email_unique"
NOT_IN_ACTIONS = {"GITHUB_ACTIONS": "false"}  # whatever runs these tests


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def lint_url(request):
    """Each backend-neutral test runs on SQLite, PostgreSQL and MariaDB."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else
                                   "postgres_url" if request.param == "postgresql" else "mariadb_url")


@pytest.fixture
def at_head(project_copy, run_manage):
    """``at_head(url)``: the project copy's database with the sample migrations applied."""

    def migrate(url):
        done = run_manage(project_copy, "migrate", database_url=url, env=NOT_IN_ACTIONS)
        assert done.returncode == 0, done.stderr
        return project_copy

    return migrate


def line_of(path, text: str) -> int:
    """The number of the file's first line holding ``text``."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def findings(output: str) -> list[tuple[str, int, str]]:
    """Each finding line as (migration, line, rule)."""
    return [(m[1], int(m[2]), m[3]) for m in re.finditer(r"^(\w+): .* \(line (\d+)\): ([a-z-]+): ", output, re.M)]


def lint(run_manage, project, url, *args, env=None):
    return run_manage(project, "lintmigrations", *args, database_url=url, env={**NOT_IN_ACTIONS, **(env or {})})


# (rule, a migration body that breaks it, the text of the step's line, a safe form of it)
NEUTRAL = [
    ("ban-drop-column", "op.drop_column('users', 'full_name')", "drop_column", None),
    ("ban-drop-table", "op.drop_table('rooms')", "drop_table", None),
    ("renaming-table", "op.rename_table('rooms', 'hotel_rooms')", "rename_table", None),
    ("renaming-column", "op.alter_column('users', 'full_name', new_column_name='name')", "new_column_name",
     "op.add_column('users', sa.Column('name', sa.String(200), nullable=True))"),
    ("adding-required-field", "op.add_column('users', sa.Column('phone', sa.String(20), nullable=False))",
     "phone", "op.add_column('users', sa.Column('phone', sa.String(20), nullable=True))"),
    ("adding-not-nullable-field",
     "with op.batch_alter_table('users') as batch_op:\n"
     "                batch_op.add_column(sa.Column('phone', sa.String(20), nullable=True))\n"
     "                batch_op.alter_column('phone', existing_type=sa.String(20), nullable=False)",
     "nullable=False",
     "with op.batch_alter_table('users') as batch_op:\n"
     "                batch_op.add_column(sa.Column('phone', sa.String(20), nullable=True))"),
    ("changing-column-type",
     "op.alter_column('users', 'full_name', existing_type=sa.String(200), type_=sa.String(100))", "type_",
     "op.alter_column('users', 'full_name', existing_type=sa.String(200), type_=sa.String(300))"),
]


@pytest.mark.parametrize("rule, unsafe, marker, safe", NEUTRAL, ids=[case[0] for case in NEUTRAL])
def test_backward_incompatible_steps_on_every_backend(rule, unsafe, marker, safe, at_head, run_manage, lint_url):
    project = at_head(lint_url)
    path = write_migration(project, "0005_step", AFTER, unsafe)
    found = lint(run_manage, project, lint_url)
    assert found.returncode == 1
    assert findings(found.stdout) == [("0005_step", line_of(path, marker), rule)], found.stdout
    assert "Safer: " in found.stdout
    assert found.stderr.strip() == "CommandError: lintmigrations found 1 issue in 0005_step."
    if safe is not None:
        write_migration(project, "0005_step", AFTER, safe)
        quiet = lint(run_manage, project, lint_url)
        assert (quiet.returncode, quiet.stdout) == (0, "No issues in 1 migration.\n"), quiet.stdout + quiet.stderr


def test_the_sample_project_and_what_is_applied(project_copy, run_manage, sqlite_url):
    """On SQLite the sample project's four migrations have no finding; once applied, none is linted."""
    fresh = lint(run_manage, project_copy, sqlite_url)
    assert (fresh.returncode, fresh.stdout) == (0, "No issues in 4 migrations.\n")
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    applied = lint(run_manage, project_copy, sqlite_url)
    assert (applied.returncode, applied.stdout) == (0, "No migrations to lint.\n")
    write_migration(project_copy, "0005_drop", AFTER, "op.drop_table('rooms')")
    named = lint(run_manage, project_copy, sqlite_url, "project", "0004")  # an applied one, named
    assert (named.returncode, named.stdout) == (0, "No issues in 1 migration.\n")
    only_app = lint(run_manage, project_copy, sqlite_url, "project")
    assert [rule for _, _, rule in findings(only_app.stdout)] == ["ban-drop-table"]


# (rules, a migration body that breaks them on PostgreSQL, the text of the step's line, the safe form)
LOCKS = [
    (["require-concurrent-index-creation"], "op.create_index('ix_rooms_number', 'rooms', ['number'])",
     "create_index",
     "with op.get_context().autocommit_block():\n"
     "                op.create_index('ix_rooms_number', 'rooms', ['number'], postgresql_concurrently=True,\n"
     "                                if_not_exists=True)"),
    (["constraint-missing-not-valid", "adding-foreign-key-constraint"],
     "op.create_foreign_key('fk_users_hotel', 'users', 'hotels', ['id'], ['id'])", "create_foreign_key",
     "op.create_foreign_key('fk_users_hotel', 'users', 'hotels', ['id'], ['id'], postgresql_not_valid=True)"),
    (["constraint-missing-not-valid"], "op.create_check_constraint('beds', 'rooms', 'beds > 0')", "check",
     "op.create_check_constraint('beds', 'rooms', 'beds > 0', postgresql_not_valid=True)"),
    (["changing-column-type"], "op.execute('ALTER TABLE rooms ALTER COLUMN beds TYPE bigint')", "execute",
     "op.execute('ALTER TABLE rooms ADD COLUMN beds_big bigint')"),
]


@pytest.mark.parametrize("rules, unsafe, marker, safe", LOCKS, ids=[case[2] for case in LOCKS])
def test_lock_hazards_on_postgresql(rules, unsafe, marker, safe, at_head, run_manage, postgres_url, sqlite_url):
    project = at_head(postgres_url)
    path = write_migration(project, "0005_lock", AFTER, unsafe)
    found = lint(run_manage, project, postgres_url)
    assert found.returncode == 1
    assert sorted(findings(found.stdout)) == sorted(("0005_lock", line_of(path, marker), rule) for rule in rules)
    assert "require-lock-timeout" not in found.stdout  # migrate sets lock_timeout itself
    assert run_manage(project, "migrate", AFTER, database_url=sqlite_url).returncode == 0
    on_sqlite = lint(run_manage, project, sqlite_url)  # squawk's rules: PostgreSQL only
    assert (on_sqlite.returncode, on_sqlite.stdout) == (0, "No issues in 1 migration.\n")
    write_migration(project, "0005_lock", AFTER, safe)
    quiet = lint(run_manage, project, postgres_url)
    assert (quiet.returncode, quiet.stdout) == (0, "No issues in 1 migration.\n"), quiet.stdout + quiet.stderr


def test_ignore_comments_silence_one_rule_for_one_step(at_head, run_manage, postgres_url):
    project = at_head(postgres_url)
    path = write_migration(project, "0005_ignored", AFTER, "\n            ".join([
        "op.drop_column('users', 'full_name')  # lint: ignore[ban-drop-column]",
        "op.drop_column('hotels', 'city')  # lint: ignore[renaming-table]",
        "# lint: ignore[require-concurrent-index-creation]",
        "op.create_index('ix_rooms_number', 'rooms', ['number'])",
        "op.create_index('ix_rooms_beds', 'rooms', ['beds'])",
    ]))
    found = lint(run_manage, project, postgres_url)
    assert found.returncode == 1
    assert findings(found.stdout) == [("0005_ignored", line_of(path, "'city'"), "ban-drop-column"),
                                      ("0005_ignored", line_of(path, "ix_rooms_beds"),
                                       "require-concurrent-index-creation")]


def is_finding(item) -> bool:
    """The documented shape of one finding of ``lintmigrations --format json``."""
    strings = ("migration", "app", "file", "step", "rule", "message", "safer")
    return (isinstance(item, dict) and set(item) == {*strings, "line"}
            and all(isinstance(item[key], str) and item[key] for key in strings)
            and isinstance(item["line"], int) and item["line"] > 0)


def test_json_and_github_annotations(at_head, run_manage, sqlite_url):
    project = at_head(sqlite_url)
    path = write_migration(project, "0005_drop", AFTER, "op.drop_table('rooms')")
    shown = lint(run_manage, project, sqlite_url, "--format", "json")
    assert shown.returncode == 1
    document = json.loads(shown.stdout)
    assert set(document) == {"format", "kind", "migrations", "findings"}
    assert (document["format"], document["kind"], document["migrations"]) == (1, "lintmigrations", ["0005_drop"])
    assert all(is_finding(item) for item in document["findings"])
    [finding] = document["findings"]
    assert (finding["migration"], finding["app"], finding["file"], finding["line"], finding["rule"]) == (
        "0005_drop", "project", "migrations/versions/0005_drop.py", line_of(path, "drop_table"), "ban-drop-table")
    clean = json.loads(lint(run_manage, project, sqlite_url, "--format", "json", "0004").stdout)
    assert clean["findings"] == [] and clean["migrations"] == [AFTER]

    annotated = lint(run_manage, project, sqlite_url, env={"GITHUB_ACTIONS": "true"})
    expected = f"::error file=migrations/versions/0005_drop.py,line={line_of(path, 'drop_table')}::ban-drop-table: "
    assert [line for line in annotated.stdout.splitlines() if line.startswith("::")][0].startswith(expected)
    beside_json = lint(run_manage, project, sqlite_url, "--format", "json", env={"GITHUB_ACTIONS": "true"})
    assert json.loads(beside_json.stdout)["findings"] == document["findings"]  # stdout stays one document
    assert expected in beside_json.stderr


def test_makemigrations_warns_on_a_terminal_and_migrate_plan_marks(at_head, run_manage, on_a_terminal, sqlite_url):
    """makemigrations warns the developer at the terminal (scripts and CI run lintmigrations)."""
    project = at_head(sqlite_url)
    models = project / "project" / "models" / "users.py"
    models.write_text(models.read_text().replace("    full_name: Mapped[str] = mapped_column(String(200))\n", ""))
    status, shown, errors = on_a_terminal(project, "makemigrations", database_url=sqlite_url, env=NOT_IN_ACTIONS)
    assert status == 0, errors  # a warning, not a failure: the file is written
    [written] = sorted((project / "migrations" / "versions").glob("0005_*.py"))
    assert f"  Warning: {written.stem}: Remove column full_name from users (line " \
           f"{line_of(written, 'drop_column')}): ban-drop-column: " in shown
    written.unlink()
    piped = run_manage(project, "makemigrations", database_url=sqlite_url, env=NOT_IN_ACTIONS)
    assert piped.returncode == 0 and "Warning" not in piped.stdout + piped.stderr
    plan = run_manage(project, "migrate", "--plan", database_url=sqlite_url, env=NOT_IN_ACTIONS)
    assert "    Remove column full_name from users  [destroys data]  [ban-drop-column]\n" in plan.stdout


def test_no_squawk_is_one_line(monkeypatch, tmp_path):
    """Without the squawk binary (beside Python or on PATH), PostgreSQL's rules say so in one line."""
    from manage_migrations import lint as rules
    from manage_migrations.output import CommandError

    monkeypatch.setattr(rules.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(rules.shutil, "which", lambda name: None)
    with pytest.raises(CommandError, match=r"^squawk is not installed, .*pip install squawk-cli$"):
        rules.squawk_binary()


def test_migrate_plan_as_json(at_head, run_manage, sqlite_url):
    """``migrate --plan --format json``: one document on stdout, of the documented shape (kind
    ``migrate_plan``), each operation with whether it destroys data and the rules it breaks;
    ``--format json`` without ``--plan`` is a usage error, and nothing runs."""
    project = at_head(sqlite_url)
    write_migration(project, "0005_step", AFTER, "op.drop_column('users', 'full_name')")

    shown = run_manage(project, "migrate", "--plan", "--format", "json", database_url=sqlite_url, env=NOT_IN_ACTIONS)

    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert set(document) == {"format", "kind", "steps", "record_now"}
    assert (document["format"], document["kind"], document["record_now"]) == (1, "migrate_plan", [])
    [step] = document["steps"]
    assert step == {"migration": "0005_step", "app": "project", "direction": "apply",
                    "file": "migrations/versions/0005_step.py", "then_record": None,
                    "operations": [{"operation": "Remove column full_name from users", "destroys_data": True,
                                    "lint": ["ban-drop-column"]}]}
    refused = run_manage(project, "migrate", "--format", "json", database_url=sqlite_url, env=NOT_IN_ACTIONS)
    assert refused.returncode == 2 and "--format json is for --plan" in refused.stderr
    shown = run_manage(project, "showmigrations", database_url=sqlite_url, env=NOT_IN_ACTIONS)
    assert shown.stdout.splitlines()[-1] == " [ ] 0005_step"
