"""``showmigrations``: each app's migrations, marked where applied, as Django lists them."""
from manage_migrations import direct, graph, replaced, tables
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console, display_path


def showmigrations(settings: Settings, console: Console, plan: bool = False, apps: tuple[str, ...] = (),
                   output_format: str = "text") -> None:
    """Django's showmigrations: every migration of each app (of ``apps``, when named) in order,
    marked when applied (and when, at -v 2), and when its file changed since it ran; with
    ``output_format="json"``, the same as ``machine.dump`` prints it. The record is read through
    the driver alone where it can be (``direct``), without loading SQLAlchemy."""
    migrations = graph.in_order(migrations_of(settings))
    if plan:
        graph.single_head(migrations)
    app_of = graph.apps(migrations)
    for app in apps:
        if app not in settings.app_labels:  # an installed app is listed, without migrations, as Django's
            app_and_target(migrations, app, None)
    labels = apps or sorted(set(app_of.values()) | (set(settings.app_labels) if settings.apps else set())) \
        or [settings.app_label]

    record = direct.read(settings, with_history=True)
    if record is not None:  # nothing is unfinished there
        state, rows, left, running, rolls_back = record.state, record.history, [], False, None
    else:
        state, rows, left, running, rolls_back = read_with_sqlalchemy(settings)
    history, _ = replaced.history(settings, migrations, state)
    if history is not migrations:
        migrations, app_of = graph.in_order(history), graph.apps(history)
    applied = graph.applied(state, migrations)
    changed = tables.changed_since_applied(migrations, applied, rows)
    dates = {revision: row.at for revision, row in rows.items()}
    names = [m.revision for m in migrations]
    squashed = {m.revision: len(m.replaces) for m in migrations if m.replaces}
    unfinished = set() if running else {revision for revision, _ in left}
    if output_format == "json":
        shown = [m for m in migrations if not apps or app_of[m.revision] in apps] if plan else None
        as_json(migrations, app_of, labels, applied, dates, changed, unfinished, shown)
    elif plan:
        shown = [name for name in names if not apps or app_of[name] in apps]
        console.migration_plan(shown, {m.revision: m.needs for m in migrations}, applied, changed)
    else:
        groups = [(app, [name for name in names if app_of[name] == app]) for app in labels]
        console.migration_list(groups, applied, dates, unfinished, squashed, changed)
    if left:
        from manage_migrations import recorder

        if running:
            console.line(recorder.being_applied(left[0][0]))
        else:
            raise CommandError(recorder.unfinished_error(*left[0], migrations, rolls_back))


def read_with_sqlalchemy(settings: Settings) -> tuple:
    """The heads, the history, the unfinished migrations, whether another migrate is applying
    them (it holds the deploy lock) and whether this database rolls DDL back."""
    from manage_migrations import database, lock, recorder

    def read(connection):
        records = recorder.of(settings)
        rows = records.history_rows(connection)
        left = records.unfinished(connection)
        running = bool(left) and lock.held_elsewhere(connection)
        return records.current_state(connection), rows, left, running, recorder.rolls_back_ddl(connection)

    return database.run(database.database_url(settings), read)


def as_json(migrations: list[graph.Migration], app_of: dict, labels: list[str], applied: set[str], dates: dict,
            changed: dict, unfinished: set[str], plan: list[graph.Migration] | None) -> None:
    """``--format json``: kind ``showmigrations`` (each app's migrations, under ``apps``) or, with
    ``--plan``, ``showmigrations_plan`` (one list in the order they apply, under ``migrations``,
    each with the migrations it ``needs``). The shape is documented in the README."""
    from manage_migrations import machine

    def entry(m: graph.Migration) -> dict:
        return {"name": m.revision, "app": app_of[m.revision], "file": display_path(m.path),
                "applied": m.revision in applied, "applied_at": machine.timestamp(dates.get(m.revision))
                if m.revision in applied else None, "changed_since_applied": m.revision in changed,
                "unfinished": m.revision in unfinished, "replaces": list(m.replaces)}

    if plan is not None:
        machine.dump("showmigrations_plan", {"migrations": [{**entry(m), "needs": list(m.needs)} for m in plan]})
    else:
        machine.dump("showmigrations", {"apps": [{"app": app, "migrations": [entry(m) for m in migrations
                                                                             if app_of[m.revision] == app]}
                                                 for app in labels]})
