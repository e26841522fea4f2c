"""Alembic's histories through ``python manage.py`` and the plain ``alembic`` command side by
side, on two fresh databases of the same kind: labelled branches (Django's apps) with bases of
their own, merges, ``depends_on`` on a label and on a revision, every header form Alembic reads,
several version folders and a compiled-only migration (the histories are in histories.py).
Whatever Alembic does with the same files, manage.py must do too: the same order, schema and
alembic_version rows, and every target form landing where Alembic's lands."""
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from histories import HISTORIES, VERSION_FOLDERS, write_migration

REPO = Path(__file__).resolve().parents[2]
BOOKKEEPING = {"alembic_version", "manage_migrations", "manage_migrations_unfinished"}


@pytest.fixture
def alembic_url(database_url, tmp_path):
    """A second fresh database of the same kind as ``database_url``, for the plain alembic command."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'alembic.sqlite3'}"
        return
    second = parsed.set(database=f"{parsed.database}_alembic")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{second.database}"')
        yield second.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{second.database}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def alembic_project(project_copy):
    """The project copy with the sample's migrations removed and the repository's pyproject.toml,
    whose [tool.alembic] table lets the plain alembic command run in it."""
    shutil.copy2(REPO / "pyproject.toml", project_copy / "pyproject.toml")
    for path in (project_copy / "migrations" / "versions").glob("*.py"):
        path.unlink()
    return project_copy


@pytest.fixture(params=HISTORIES, ids=lambda history: history.name)
def history(request, alembic_project):
    """Each test using this runs once per history in histories.py, written into the project copy."""
    request.param.build(alembic_project)
    return request.param


def alembic_order(run_alembic, succeeded, project: Path, url: str) -> list[str]:
    """The revisions ``alembic upgrade heads`` applies, in its order, read from its offline SQL
    (``-- Running upgrade 0001_a, 0001_b -> 0002_merge``)."""
    sql = succeeded(run_alembic(project, "upgrade", "heads", "--sql", database_url=url))
    return [line.rpartition("-> ")[2] for line in sql if line.startswith("-- Running upgrade ")]


def versions(url: str) -> list[str]:
    """The rows of ``alembic_version``, sorted."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return sorted(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    finally:
        engine.dispose()


def schema(url: str) -> dict:
    """Every table but the bookkeeping ones, with its columns, keys and indexes, as SQLAlchemy
    reads them back."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        return {table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "primary key": (inspector.get_pk_constraint(table)["name"],
                            inspector.get_pk_constraint(table)["constrained_columns"]),
            "unique": sorted((uq["name"] or "", tuple(uq["column_names"])) for uq in inspector.get_unique_constraints(table)),
            "foreign keys": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                                   for fk in inspector.get_foreign_keys(table)),
            "indexes": sorted((ix["name"], tuple(ix["column_names"])) for ix in inspector.get_indexes(table)),
        } for table in inspector.get_table_names() if table not in BOOKKEEPING}
    finally:
        engine.dispose()


def steps(lines: list[str]) -> list[str]:
    """The revisions of migrate's ``  Applying X... OK`` lines."""
    return [line.removeprefix("  Applying ").removesuffix("... OK") for line in lines if line.startswith("  Applying ")]


def test_migrate_runs_what_alembic_upgrade_heads_runs(history, alembic_project, run_manage, run_alembic, database_url,
                                                      alembic_url, succeeded):
    """`migrate` with no target applies every app, in the order `alembic upgrade heads` runs the
    same files (sibling branches in the order their files load, which is not the order their ids
    sort), and leaves the same schema and alembic_version rows; showmigrations lists each app
    under its label, its migrations in that order."""
    expected = alembic_order(run_alembic, succeeded, alembic_project, alembic_url)
    assert expected != sorted(expected), "the history must load in another order than its ids sort"
    succeeded(run_alembic(alembic_project, "upgrade", "heads", database_url=alembic_url))

    migrated = succeeded(run_manage(alembic_project, "migrate", database_url=database_url))

    assert migrated[:2] == ["Operations to perform:", f"  Apply all migrations: {', '.join(sorted(history.apps))}"]
    assert steps(migrated) == expected
    assert schema(database_url) == schema(alembic_url)
    assert versions(database_url) == versions(alembic_url)

    def listing(apps):
        return [line for app in apps for line in [app, *(f" [X] {r}" for r in expected if r in history.apps[app])]]

    shown = succeeded(run_manage(alembic_project, "showmigrations", database_url=database_url))
    assert shown == listing(sorted(history.apps))
    some = sorted(history.apps)[1:]
    assert succeeded(run_manage(alembic_project, "showmigrations", *some, database_url=database_url)) == listing(some)
    planned = succeeded(run_manage(alembic_project, "showmigrations", "--plan", database_url=database_url))
    assert [line.split()[1] for line in planned] == expected


def test_targets_land_where_alembic_lands(history, alembic_project, run_manage, run_alembic, database_url, alembic_url,
                                          succeeded, together):
    """From every head applied, each target form (Django's `APP`, `APP zero`, `APP 0002`; Alembic's
    `label@base`, `label@head`, `label@-1`, `label@+2`, `rev@head`, `rev-1`, `heads`) leaves
    manage.py's database where the matching `alembic upgrade/downgrade` leaves the other: the same
    alembic_version rows and schema after every step."""
    together(lambda: succeeded(run_manage(alembic_project, "migrate", database_url=database_url)),
             lambda: succeeded(run_alembic(alembic_project, "upgrade", "heads", database_url=alembic_url)))
    before = versions(database_url)

    for manage_args, alembic_args in history.targets:
        together(lambda: succeeded(run_manage(alembic_project, *manage_args, database_url=database_url)),
                 lambda: succeeded(run_alembic(alembic_project, *alembic_args, database_url=alembic_url)))

        landed = versions(database_url)
        assert (landed, schema(database_url)) == (versions(alembic_url), schema(alembic_url)), manage_args
        assert landed != before, f"{manage_args} should move the database"
        before = landed


def test_a_second_head_in_one_app_is_a_conflict(history, alembic_project, run_manage, run_alembic, sqlite_url,
                                                succeeded):
    """Heads of different apps are not a conflict (every history here has several); two heads
    in one app are, with Django's error, as migrate, showmigrations --plan and makemigrations
    check before anything else. `head` among several apps' heads is Alembic's own error."""
    succeeded(run_manage(alembic_project, "showmigrations", "--plan", database_url=sqlite_url))
    several = run_manage(alembic_project, "migrate", "head", database_url=sqlite_url)
    alembic_says = run_alembic(alembic_project, "upgrade", "head", database_url=sqlite_url)
    assert (several.returncode, alembic_says.returncode) == (1, 255)
    assert several.stderr == alembic_says.stdout.replace("FAILED: ", "CommandError: ")

    conflict = history.conflict(alembic_project)

    for command in (["migrate"], ["showmigrations", "--plan"], ["makemigrations"]):
        refused = run_manage(alembic_project, *command, database_url=sqlite_url)
        assert (refused.returncode, refused.stderr) == (1, conflict), command


def test_an_app_in_a_version_folder_of_its_own(alembic_project, run_manage, run_alembic, sqlite_url, succeeded):
    """With several version folders, `makemigrations APP` continues that app in its own folder,
    where the plain alembic command finds it as the branch's head, and `sqlmigrate APP 0002`
    finds the app's 0002 (here a compiled file, sourceless) although other apps have one too."""
    VERSION_FOLDERS.build(alembic_project)

    made = succeeded(run_manage(alembic_project, "makemigrations", "billing", "--empty", "-n", "refund",
                                database_url=sqlite_url))

    assert made == ["Migrations for 'billing':", "  billing/versions/0004_refund.py"]
    heads = succeeded(run_alembic(alembic_project, "heads", database_url=sqlite_url))
    assert "0004_refund (billing) (head)" in heads
    sql = succeeded(run_manage(alembic_project, "sqlmigrate", "billing", "0002", database_url=sqlite_url))
    assert [line for line in sql if line][:2] == ["BEGIN;", "-- Running upgrade 0001_billing_start -> 0002_billing_total"]
    assert "ALTER TABLE invoices ADD COLUMN total NUMERIC(10, 2);" in sql


FAKE_INITIAL_TABLES = '''
    op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(100)))
    op.create_table("books", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id", name="fk_books_author_id_authors")))
    '''


def test_fake_initial_records_what_create_all_made(alembic_project, run_manage, run_alembic, database_url, succeeded):
    """An application that began with `create_all()` already has what the initial migrations
    create: `migrate --fake-initial` records those FAKED (also an app's first migration whose
    parent is in another app) and runs the rest."""
    versions_dir = alembic_project / "migrations" / "versions"
    write_migration(versions_dir, "0001_initial.py", 'revision, down_revision = "0001_initial", None',
                    FAKE_INITIAL_TABLES, 'op.drop_table("books")\nop.drop_table("authors")')
    write_migration(versions_dir, "0002_books_isbn.py", 'revision, down_revision = "0002_books_isbn", "0001_initial"',
                    'op.add_column("books", sa.Column("isbn", sa.String(13)))')
    write_migration(versions_dir, "0001_audit_log.py", '''
        revision, down_revision = "0001_audit_log", "0001_initial"
        branch_labels = ("audit",)
        ''', 'op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True))')
    metadata = sa.MetaData()  # the models as they were when create_all() made the tables
    sa.Table("authors", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(100)))
    sa.Table("books", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("author_id", sa.ForeignKey("authors.id")))
    sa.Table("audit_log", metadata, sa.Column("id", sa.Integer, primary_key=True))
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    metadata.create_all(engine)
    engine.dispose()
    order = alembic_order(run_alembic, succeeded, alembic_project, database_url)

    migrated = succeeded(run_manage(alembic_project, "migrate", "--fake-initial", database_url=database_url))

    faked = {"0001_initial", "0001_audit_log"}
    assert migrated[3:] == [f"  Applying {r}... {'FAKED' if r in faked else 'OK'}" for r in order]
    assert versions(database_url) == ["0001_audit_log", "0002_books_isbn"]
    assert [column for column, _, _ in schema(database_url)["books"]["columns"]] == ["id", "author_id", "isbn"]


def test_unnamed_constraints_get_the_names_the_plain_alembic_command_gives(alembic_project, run_manage, run_alembic,
                                                                        database_url, alembic_url, succeeded):
    """A hand-written or imported migration that leaves a key unnamed: Alembic names it by the
    models' naming convention (pk_notes), so manage.py, which does not load the models to
    migrate, must name it the same, or a later migration that drops it by name breaks."""
    write_migration(alembic_project / "migrations" / "versions", "0001_notes.py",
                    "revision = '0001_notes'\ndown_revision = None",
                    "op.create_table('notes', sa.Column('id', sa.Integer, primary_key=True),\n"
                    "                sa.Column('title', sa.String(20), unique=True))",
                    "op.drop_table('notes')")

    succeeded(run_manage(alembic_project, "migrate", database_url=database_url))
    succeeded(run_alembic(alembic_project, "upgrade", "heads", database_url=alembic_url))

    assert schema(database_url) == schema(alembic_url)
    if database_url.startswith("postgresql"):
        assert schema(database_url)["notes"]["primary key"] == ("pk_notes", ["id"])


def test_numbering_continues_past_a_plain_alembic_revision(project_copy, run_manage, run_alembic, sqlite_url,
                                                           succeeded):
    """A teammate's ``alembic revision`` gets a hex id; the next makemigrations still numbers
    after the highest number used (0005), not from the hex head (0001)."""
    shutil.copy2(REPO / "pyproject.toml", project_copy / "pyproject.toml")
    succeeded(run_alembic(project_copy, "revision", "--rev-id", "3f2a9c1b7d4e", "-m", "by hand",
                          database_url=sqlite_url))

    made = succeeded(run_manage(project_copy, "makemigrations", "--empty", "-n", "after", database_url=sqlite_url))

    assert made[-1] == "  migrations/versions/0005_after.py"
    assert "down_revision = '3f2a9c1b7d4e'" in (
        project_copy / "migrations" / "versions" / "0005_after.py").read_text()
