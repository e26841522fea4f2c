"""A migration that is not atomic (Django's ``atomic = False``, Alembic's ``autocommit_block()``
for PostgreSQL's ``CREATE INDEX CONCURRENTLY``) commits as it goes: one that fails part-way is
recorded and named as MariaDB's unfinished migrations are, with the two ways out, instead of
being run again onto what it left. Through ``python manage.py``, on PostgreSQL."""
import sqlalchemy as sa
from migration_file import write_migration

CONCURRENT_UNIQUE = """op.add_column('users', sa.Column('code', sa.String(20), server_default='same', nullable=True))
            with op.get_context().autocommit_block():
                op.create_index('ix_users_code', 'users', ['code'], unique=True, postgresql_concurrently=True)"""
UNDO = """op.drop_index('ix_users_code', table_name='users')
            op.drop_column('users', 'code')"""
ADVICE = ("CommandError: Migration 0005_code was started and did not finish, and it is not atomic, so what it did "
          "before it stopped stays: if all of it is in, run 'python manage.py fake 0005_code'; if not, undo what it "
          "did and run 'python manage.py fake 0004_make_email_unique'.\n")


def execute(url: str, *statements: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return [connection.execute(sa.text(statement)).all() if statement.startswith("SELECT") else
                    connection.execute(sa.text(statement)) and None for statement in statements]
    finally:
        engine.dispose()


def test_a_failed_concurrent_index_is_named_until_faked(project_copy, run_manage, postgres_url):
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0
    execute(postgres_url, "INSERT INTO users (email, full_name) VALUES ('a@x', 'A'), ('b@x', 'B')")
    migration = write_migration(project_copy, "0005_code", "0004_make_email_unique", CONCURRENT_UNIQUE, UNDO)

    failed = run_manage(project_copy, "migrate", database_url=postgres_url)
    assert failed.returncode == 1 and failed.stderr.startswith("CommandError: Migration 0005_code failed: ")
    # What ran before the autocommit block was committed, and the concurrent build left its index behind.
    [[(invalid,)]] = execute(postgres_url, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                           "WHERE c.relname = 'ix_users_code' AND NOT i.indisvalid")
    assert invalid == 1

    again = run_manage(project_copy, "migrate", database_url=postgres_url)
    shown = run_manage(project_copy, "showmigrations", database_url=postgres_url)
    assert (again.returncode, again.stderr) == (1, ADVICE)
    assert (shown.returncode, shown.stderr) == (1, ADVICE)
    assert " [!] 0005_code (started, not finished)" in shown.stdout.splitlines()

    # The second way out: undo what it did, fake the migration before it, fix the data, run it.
    execute(postgres_url, "DROP INDEX ix_users_code", "ALTER TABLE users DROP COLUMN code")
    faked = run_manage(project_copy, "fake", "0004", database_url=postgres_url)
    assert faked.returncode == 0, faked.stderr
    migration.write_text(migration.read_text().replace("server_default='same', ", ""))
    fixed = run_manage(project_copy, "migrate", database_url=postgres_url)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "  Applying 0005_code... OK"
    assert execute(postgres_url, "SELECT version_num FROM alembic_version") == [[("0005_code",)]]


def test_atomic_false_is_recorded_while_it_runs_and_cleared_once_it_has(project_copy, run_manage, sqlite_url):
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    write_migration(project_copy, "0005_plain", "0004_make_email_unique", "op.execute('SELECT 1')", head="atomic = False")

    applied = run_manage(project_copy, "migrate", database_url=sqlite_url)

    assert applied.returncode == 0, applied.stderr
    assert execute(sqlite_url, "SELECT count(*) FROM manage_migrations_unfinished") == [[(0,)]]


CONCURRENT_MODEL = '''
    code: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_users_code", "code", unique=True, postgresql_concurrently=True),)
'''


def test_makemigrations_builds_an_index_concurrently_when_the_model_asks(project_copy, run_manage, postgres_url,
                                                                         sqlite_url, mariadb_url):
    """Django's ``AddIndexConcurrently``, asked for as SQLAlchemy asks for it
    (``Index(..., postgresql_concurrently=True)``): the index steps are written in an autocommit
    block of their own, the rest stays in the migration's transaction, and the migration runs
    both ways on every backend (the option only means something to PostgreSQL)."""
    users = project_copy / "project" / "models" / "users.py"
    users.write_text(users.read_text().replace("from sqlalchemy import String", "from sqlalchemy import Index, String")
                     + CONCURRENT_MODEL)
    assert run_manage(project_copy, "migrate", database_url=postgres_url).returncode == 0

    made = run_manage(project_copy, "makemigrations", "--name", "code", database_url=postgres_url)
    assert made.returncode == 0, made.stderr  # tried on a scratch database: it runs outside a transaction
    assert "    + Create index ix_users_code on users concurrently" in made.stdout.splitlines()
    [migration] = (project_copy / "migrations" / "versions").glob("0005_*.py")
    upgrade = migration.read_text().split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert upgrade.index("add_column") < upgrade.index("with op.get_context().autocommit_block():") < \
        upgrade.index("create_index")

    for url in (postgres_url, sqlite_url, mariadb_url):
        for command in (["migrate"], ["migrate", "0004"], ["migrate"], ["makemigrations", "--check"]):
            result = run_manage(project_copy, *command, database_url=url)
            assert result.returncode == 0, (url, command, result.stderr)
    [[(definition,)]] = execute(postgres_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_users_code'")
    assert definition.startswith("CREATE UNIQUE INDEX ix_users_code ON public.users")
    [[(unfinished,)]] = execute(postgres_url, "SELECT count(*) FROM manage_migrations_unfinished")
    assert unfinished == 0
