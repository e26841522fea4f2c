"""``showmigrations``: each app's migrations, marked where applied, as Django lists them."""
from manage_migrations import graph, replaced
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console


def showmigrations(settings: Settings, console: Console, plan: bool = False, apps: tuple[str, ...] = ()) -> None:
    """Django's showmigrations: every migration of each app (of ``apps``, when named) in order,
    marked when applied (and when, at -v 2)."""
    from manage_migrations import database, lock, recorder

    migrations = graph.in_order(migrations_of(settings))
    if plan:
        graph.single_head(migrations)
    app_of = graph.apps(migrations)
    for app in apps:
        if app not in settings.app_labels:  # an installed app is listed, without migrations, as Django's
            app_and_target(migrations, app, None)
    labels = apps or sorted(set(app_of.values()) | (set(settings.app_labels) if settings.apps else set())) \
        or [settings.app_label]

    def read(connection):
        records = recorder.of(settings)
        dates = records.applied_dates(connection) if console.verbosity >= 2 and not plan else {}
        left = records.unfinished(connection)
        running = bool(left) and lock.held_elsewhere(connection)
        return records.current_state(connection), dates, left, running, recorder.rolls_back_ddl(connection)

    state, dates, left, running, rolls_back = database.run(database.database_url(settings), read)
    history, _ = replaced.history(settings, migrations, state)
    if history is not migrations:
        migrations, app_of = graph.in_order(history), graph.apps(history)
    applied = graph.applied(state, migrations)
    names = [m.revision for m in migrations]
    squashed = {m.revision: len(m.replaces) for m in migrations if m.replaces}
    if plan:
        shown = [name for name in names if not apps or app_of[name] in apps]
        console.migration_plan(shown, {m.revision: m.needs for m in migrations}, applied)
    else:
        groups = [(app, [name for name in names if app_of[name] == app]) for app in labels]
        console.migration_list(groups, applied, dates, set() if running else {revision for revision, _ in left},
                               squashed)
    if running:
        console.line(recorder.being_applied(left[0][0]))
    elif left:
        raise CommandError(recorder.unfinished_error(*left[0], migrations, rolls_back))
