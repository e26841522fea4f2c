"""``squashmigrations`` end to end, on a 30-migration history with data steps (HISTORY below),
written by hand into a project copy as Alembic's template writes migrations.

0001..0025 are squashed (0026..0030 follow END and are pointed at the squashed migration), then
databases are migrated with ``manage.py migrate`` and the plain ``alembic`` command from every
state a team's databases can be in: empty, at END, past END, and part-way through the range
(with the replaced files in ``migrations/replaced/`` and without them). Each must end with the
schema the 30 original migrations build.

A database is migrated *before* the squash with a copy of the project that still has the 30
files, and after it with a squashed copy: the database only records which revision it is at,
so this is what happens to a teammate's database when the squash is pulled. The squash is made
once per kind of database (the squashed migration is generated from a scratch database of that
kind) and each test works on a copy of its own.
"""
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REQUIRE_SERVERS = os.environ.get("REQUIRE_DATABASE_SERVERS") == "1"
BOOKKEEPING = {"alembic_version", "manage_migrations", "manage_migrations_unfinished"}


# The history: (revision, upgrade, downgrade). Each revision's down_revision is the one before.

@dataclass(frozen=True)
class Step:
    revision: str
    upgrade: str
    downgrade: str


def batch(table: str, *lines: str) -> str:
    return f"with op.batch_alter_table({table!r}, schema=None) as batch_op:\n" + "".join(
        f"    {line}\n" for line in lines)


HISTORY = [
    Step("0001_create_table_authors", """
        op.create_table('authors',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('name', sa.String(length=100), nullable=False),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_authors'))
        )
        """, "op.drop_table('authors')"),
    Step("0002_create_table_publishers", """
        op.create_table('publishers',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('name', sa.String(length=100), nullable=False),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_publishers'))
        )
        """, "op.drop_table('publishers')"),
    Step("0003_create_table_books", """
        op.create_table('books',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('title', sa.String(length=200), nullable=False),
            sa.Column('author_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['author_id'], ['authors.id'], name=op.f('fk_books_author_id_authors'),
                                    ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_books'))
        )
        """, "op.drop_table('books')"),
    Step("0004_add_books_isbn", batch("books", "batch_op.add_column(sa.Column('isbn', sa.String(length=13), nullable=True))"),
         batch("books", "batch_op.drop_column('isbn')")),
    Step("0005_create_index_ix_books_title", batch("books", "batch_op.create_index(batch_op.f('ix_books_title'), ['title'], unique=False)"),
         batch("books", "batch_op.drop_index(batch_op.f('ix_books_title'))")),
    Step("0006_add_authors_email", batch("authors", "batch_op.add_column(sa.Column('email', sa.String(length=120), nullable=True))"),
         batch("authors", "batch_op.drop_column('email')")),
    Step("0007_unique_authors_email", batch("authors", "batch_op.create_unique_constraint(batch_op.f('uq_authors_email'), ['email'])"),
         batch("authors", "batch_op.drop_constraint(batch_op.f('uq_authors_email'), type_='unique')")),
    # A data step: seed rows, with bulk_insert.
    Step("0008_seed_publishers", """
        publishers = sa.table('publishers', sa.column('id', sa.Integer), sa.column('name', sa.String))
        op.bulk_insert(publishers, [
            {'id': 1, 'name': 'Penguin'},
            {'id': 2, 'name': 'Faber'},
        ])
        """, "op.execute(\"DELETE FROM publishers WHERE id IN (1, 2)\")"),
    Step("0009_create_table_tags", """
        op.create_table('tags',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('label', sa.String(length=50), nullable=True),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_tags'))
        )
        """, "op.drop_table('tags')"),
    Step("0010_create_table_book_tags", """
        op.create_table('book_tags',
            sa.Column('book_id', sa.Integer(), nullable=False),
            sa.Column('tag_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_book_tags_book_id_books')),
            sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_book_tags_tag_id_tags')),
            sa.PrimaryKeyConstraint('book_id', 'tag_id', name=op.f('pk_book_tags'))
        )
        """, "op.drop_table('book_tags')"),
    Step("0011_add_books_publisher_id", batch(
        "books",
        "batch_op.add_column(sa.Column('publisher_id', sa.Integer(), nullable=True))",
        "batch_op.create_foreign_key(batch_op.f('fk_books_publisher_id_publishers'), 'publishers', ['publisher_id'], ['id'])"),
        batch("books", "batch_op.drop_constraint(batch_op.f('fk_books_publisher_id_publishers'), type_='foreignkey')",
              "batch_op.drop_column('publisher_id')")),
    Step("0012_add_books_pages", batch(
        "books",
        "batch_op.add_column(sa.Column('pages', sa.Integer(), nullable=True))",
        "batch_op.add_column(sa.Column('in_print', sa.Boolean(), server_default=sa.false(), nullable=False))"),
        batch("books", "batch_op.drop_column('in_print')", "batch_op.drop_column('pages')")),
    Step("0013_rename_books_pages_page_count", batch(
        "books", "batch_op.alter_column('pages', new_column_name='page_count', existing_type=sa.Integer(), existing_nullable=True)"),
        batch("books", "batch_op.alter_column('page_count', new_column_name='pages', existing_type=sa.Integer(), existing_nullable=True)")),
    Step("0014_add_publishers_country", batch("publishers", "batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))"),
         batch("publishers", "batch_op.drop_column('country')")),
    # A data step: existing rows changed, with op.execute.
    Step("0015_fill_publishers_country", "op.execute(\"UPDATE publishers SET country = 'GB' WHERE country IS NULL\")",
         "op.execute(\"UPDATE publishers SET country = NULL\")"),
    Step("0016_create_table_reviews", """
        op.create_table('reviews',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('book_id', sa.Integer(), nullable=False),
            sa.Column('stars', sa.Integer(), nullable=False),
            sa.Column('body', sa.Text(), nullable=True),
            sa.Column('status', sa.String(length=10), server_default='new', nullable=False),
            sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_reviews_book_id_books')),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
        )
        """, "op.drop_table('reviews')"),
    Step("0017_add_reviews_created_at", batch("reviews", "batch_op.add_column(sa.Column('created_at', sa.DateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=True))"),
         batch("reviews", "batch_op.drop_column('created_at')")),
    Step("0018_remove_books_isbn", batch("books", "batch_op.drop_column('isbn')"),
         batch("books", "batch_op.add_column(sa.Column('isbn', sa.String(length=13), nullable=True))")),
    Step("0019_create_table_legacy_imports", """
        op.create_table('legacy_imports',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('payload', sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_legacy_imports'))
        )
        """, "op.drop_table('legacy_imports')"),
    Step("0020_delete_table_legacy_imports", "op.drop_table('legacy_imports')", """
        op.create_table('legacy_imports',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('payload', sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_legacy_imports'))
        )
        """),
    Step("0021_add_authors_born", batch("authors", "batch_op.add_column(sa.Column('born', sa.Date(), nullable=True))"),
         batch("authors", "batch_op.drop_column('born')")),
    Step("0022_create_index_ix_reviews_stars", batch("reviews", "batch_op.create_index(batch_op.f('ix_reviews_stars'), ['stars'], unique=False)"),
         batch("reviews", "batch_op.drop_index(batch_op.f('ix_reviews_stars'))")),
    Step("0023_alter_tags_label", batch("tags", "batch_op.alter_column('label', existing_type=sa.String(length=50), nullable=False)"),
         batch("tags", "batch_op.alter_column('label', existing_type=sa.String(length=50), nullable=True)")),
    Step("0024_add_books_price", batch("books", "batch_op.add_column(sa.Column('price', sa.Numeric(precision=10, scale=2), server_default='0', nullable=False))"),
         batch("books", "batch_op.drop_column('price')")),
    # END, a data step: seed rows with op.execute, then change them.
    Step("0025_seed_tags", """
        op.execute("INSERT INTO tags (id, label) VALUES (1, 'fiction'), (2, 'poetry')")
        op.execute("UPDATE tags SET label = 'verse' WHERE id = 2")
        """, "op.execute(\"DELETE FROM tags WHERE id IN (1, 2)\")"),
    # What follows END.
    Step("0026_create_table_shelves", """
        op.create_table('shelves',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('code', sa.String(length=10), nullable=False),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_shelves')),
            sa.UniqueConstraint('code', name=op.f('uq_shelves_code'))
        )
        """, "op.drop_table('shelves')"),
    Step("0027_add_shelves_floor", batch("shelves", "batch_op.add_column(sa.Column('floor', sa.SmallInteger(), nullable=True))"),
         batch("shelves", "batch_op.drop_column('floor')")),
    Step("0028_add_books_shelf_id", batch(
        "books",
        "batch_op.add_column(sa.Column('shelf_id', sa.Integer(), nullable=True))",
        "batch_op.create_foreign_key(batch_op.f('fk_books_shelf_id_shelves'), 'shelves', ['shelf_id'], ['id'])"),
        batch("books", "batch_op.drop_constraint(batch_op.f('fk_books_shelf_id_shelves'), type_='foreignkey')",
              "batch_op.drop_column('shelf_id')")),
    Step("0029_create_index_ix_books_shelf_id", batch("books", "batch_op.create_index(batch_op.f('ix_books_shelf_id'), ['shelf_id'], unique=False)"),
         batch("books", "batch_op.drop_index(batch_op.f('ix_books_shelf_id'))")),
    Step("0030_add_authors_active", batch("authors", "batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))"),
         batch("authors", "batch_op.drop_column('active')")),
]
REVISIONS = [step.revision for step in HISTORY]
START, END, MIDDLE = REVISIONS[0], REVISIONS[24], REVISIONS[9]
REPLACED, FOLLOWERS = REVISIONS[:25], REVISIONS[25:]
SQUASHED = f"{START}_squashed_{END}"
HAND_WRITTEN = {"0008_seed_publishers": "bulk_insert", "0015_fill_publishers_country": "execute",
                "0025_seed_tags": "execute"}


def migration_source(index: int) -> str:
    """The file of HISTORY[index], as Alembic's template (and makemigrations) write one."""
    step = HISTORY[index]
    down_revision = HISTORY[index - 1].revision if index else None
    return "\n".join([
        f'"""{step.revision[5:].replace("_", " ")}',
        "",
        f"Revision ID: {step.revision}",
        f"Revises: {down_revision or ''}",
        "Create Date: 2026-01-01 12:00:00.000000",
        '"""',
        "from alembic import op",
        "import sqlalchemy as sa",
        "",
        "",
        "# revision identifiers, used by Alembic.",
        f"revision = {step.revision!r}",
        f"down_revision = {down_revision!r}",
        "branch_labels = None",
        "depends_on = None",
        "",
        "",
        "def upgrade() -> None:",
        textwrap.indent(textwrap.dedent(step.upgrade).strip(), "    "),
        "",
        "",
        "def downgrade() -> None:",
        textwrap.indent(textwrap.dedent(step.downgrade).strip(), "    "),
        "",
    ])


def write_history(project: Path) -> None:
    """The sample app's migrations replaced by HISTORY, and the repository's pyproject.toml, whose
    [tool.alembic] table lets the plain alembic command run in the project."""
    shutil.copy2(REPO / "pyproject.toml", project / "pyproject.toml")
    versions = project / "migrations" / "versions"
    for path in versions.glob("*.py"):
        path.unlink()
    for index, step in enumerate(HISTORY):
        (versions / f"{step.revision}.py").write_text(migration_source(index))
