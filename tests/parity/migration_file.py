"""Hand-written migration files for the parity tests: what a teammate's branch leaves behind."""
import textwrap
from pathlib import Path


def write_migration(project: Path, revision: str, parent: str | None, upgrade: str = "pass",
                    downgrade: str = "pass", head: str = "", filename: str | None = None) -> Path:
    """``migrations/versions/<revision>.py`` (or ``filename``) in ``project``. A multi-line
    ``upgrade`` or ``downgrade`` continues with 12 spaces; ``head`` goes after the imports."""
    path = project / "migrations" / "versions" / (filename or f"{revision}.py")
    path.write_text(textwrap.dedent(f'''\
        """{revision}"""
        from alembic import op
        import sqlalchemy as sa
        {head}
        revision = {revision!r}
        down_revision = {parent!r}
        branch_labels = None
        depends_on = None


        def upgrade() -> None:
            {upgrade}


        def downgrade() -> None:
            {downgrade}
        '''))
    return path
