"""``sqlmigrate``: the SQL of one migration, as Django's prints it."""
from manage_migrations import graph
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import Console


def sqlmigrate(settings: Settings, console: Console, target: str, backwards: bool = False,
               app: str | None = None) -> None:
    """Django's sqlmigrate: the SQL of one migration, from Alembic's offline mode."""
    from manage_migrations.executor import run_steps

    migrations = migrations_of(settings)
    app, _ = app_and_target(migrations, app, None)
    revision = graph.find(target, migrations, app)
    run_steps(settings, None, [(revision, not backwards)], Console(0), sql=True)
