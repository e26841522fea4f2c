"""manage_migrations.source.non_atomic: which migrations commit as they go."""
import pytest

from manage_migrations.source import non_atomic


@pytest.mark.parametrize("text, expected", [
    ("def upgrade():\n    op.add_column('t', sa.Column('c', sa.Integer()))\n", False),
    ("atomic = False\n\ndef upgrade():\n    pass\n", True),
    ("atomic = True\n\ndef upgrade():\n    pass\n", False),
    ("def upgrade():\n    with op.get_context().autocommit_block():\n        op.execute('VACUUM')\n", True),
    ("def upgrade():\n    atomic = False  # a local of no meaning\n", False),
])
def test_non_atomic(tmp_path, text, expected):
    path = tmp_path / "0005_x.py"
    path.write_text(text)
    assert non_atomic(str(path)) is expected


def test_a_compiled_file_alone_is_taken_as_atomic(tmp_path):
    path = tmp_path / "0005_x.pyc"
    path.write_bytes(b"\x00compiled")
    assert non_atomic(str(path)) is False
