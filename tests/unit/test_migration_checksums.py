"""``loader.checksum``: what counts as an edit of an applied migration (issue 23's checksums)."""
import re

from manage_migrations.loader import checksum

MIGRATION = '''"""add users

Revision ID: 0003_add_users
Revises: 0002_create_table_rooms
Create Date: 2026-11-23 13:57:12
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_add_users'
down_revision = '0002_create_table_rooms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users', sa.Column('id', sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table('users')
'''


def digest_of(tmp_path, text: str, name: str = "0003_add_users.py") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return checksum(path)


def test_line_endings_and_the_end_of_the_file_do_not_count(tmp_path):
    original = digest_of(tmp_path, MIGRATION)
    assert re.fullmatch(r"[0-9a-f]{64}", original)  # sha256, as the history's column keeps it
    assert digest_of(tmp_path, MIGRATION.replace("\n", "\r\n")) == original
    assert digest_of(tmp_path, MIGRATION.replace("\n", "\r")) == original
    assert digest_of(tmp_path, MIGRATION.rstrip("\n")) == original
    assert digest_of(tmp_path, MIGRATION + "\n\n \t\n") == original


def test_what_runs_counts(tmp_path):
    original = digest_of(tmp_path, MIGRATION)
    assert digest_of(tmp_path, MIGRATION.replace("'users'", "'members'")) != original
    assert digest_of(tmp_path, MIGRATION + "# a comment\n") != original
    # A blank line taken out inside the file is an edit: only the end of the file is trimmed.
    assert digest_of(tmp_path, MIGRATION.replace("\n\n\ndef downgrade", "\n\ndef downgrade")) != original
    assert digest_of(tmp_path, MIGRATION.replace("revision = '0003_add_users'", "revision = '0003_users'")) != original


def test_where_it_sits_in_the_history_does_not_count(tmp_path):
    """What squashmigrations rewrites in the migrations after a squash: down_revision,
    depends_on (one line or several) and the docstring's Revises: line."""
    original = digest_of(tmp_path, MIGRATION)
    repointed = MIGRATION.replace("0002_create_table_rooms", "0002_squashed")
    assert digest_of(tmp_path, repointed) == original
    merged = MIGRATION.replace("down_revision = '0002_create_table_rooms'",
                               "down_revision: tuple[str, ...] = (\n    '0002_a',\n    '0002_b',\n)")
    assert digest_of(tmp_path, merged) == original
    assert digest_of(tmp_path, MIGRATION.replace("depends_on = None", "depends_on = ('0001_x',)")) == original


def test_a_file_that_cannot_be_read_has_none(tmp_path):
    assert checksum(tmp_path / "gone.py") is None
