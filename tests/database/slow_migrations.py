"""Slow migrations for the tests of concurrent deploys: each adds a column, writes its name into
the table ``runs`` (so a migration that ran twice shows twice) and keeps the server busy."""
import textwrap

import sqlalchemy as sa

SLOW = textwrap.dedent('''\
    """{revision}"""
    from alembic import op
    import sqlalchemy as sa

    revision = "{revision}"
    down_revision = "{parent}"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        op.add_column("hotels", sa.Column("{column}", sa.Integer(), nullable=True))
        op.execute("INSERT INTO runs VALUES ('{revision}')")
        op.execute("{sleep}")


    def downgrade() -> None:
        op.drop_column("hotels", "{column}")
    ''')
REVISIONS = ["0005_first", "0006_second", "0007_third"]


def add_slow_migrations(project, sleep: str, revisions=REVISIONS) -> None:
    """``revisions`` after the sample app's four, each running ``sleep`` (``SELECT pg_sleep(1)``)."""
    for parent, revision in zip(["0004_make_email_unique", *revisions], revisions):
        (project / "migrations" / "versions" / f"{revision}.py").write_text(SLOW.format(
            revision=revision, parent=parent, column=revision.split("_", 1)[1], sleep=sleep))


def sql(url: str, statement: str, **values) -> list:
    """One statement in a connection of its own (autocommit); its rows, if it returns any."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text(statement), values)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()
