"""Helpers for the end-to-end tests that change the sample models and look at the rows."""
import sqlalchemy as sa


def sql(url: str, statement: str, **params):
    """Run one statement in a transaction of its own; the rows, if it returns any."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


def edit(project, module: str, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` (found ``count`` times) in ``project/models/<module>.py``."""
    path = project / "project" / "models" / f"{module}.py"
    text = path.read_text()
    assert text.count(old) == count, f"{old!r} is not in {module}.py {count} time(s)"
    path.write_text(text.replace(old, new))


def append(project, module: str, text: str) -> None:
    path = project / "project" / "models" / f"{module}.py"
    path.write_text(path.read_text() + text)
