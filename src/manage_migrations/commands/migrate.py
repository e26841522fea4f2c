"""``migrate`` (and ``fake``, ``migrate --prune``): the database brought to a target, as Django's."""
from pathlib import Path
from typing import NamedTuple

import click

from manage_migrations import direct, graph, replaced, tables
from manage_migrations.conf import Settings
from manage_migrations.graph import app_and_target
from manage_migrations.loader import migrations_of
from manage_migrations.output import CommandError, Console, display_path


def migrate(settings: Settings, console: Console, target: str | None = None, fake: bool = False,
            lock_timeout: float = 300, plan: bool = False, check: bool = False, app: str | None = None,
            fake_initial: bool = False, output_format: str = "text") -> bool:
    """Django's migrate: bring the database to ``target`` (all heads when none), up or down,
    under the deploy lock so that concurrent deploys run each migration once; with ``app``,
    only that app's migrations (and what they need). With ``plan`` or ``check``, only say
    what would run; with ``fake_initial``, record without running each initial migration
    whose tables are already there. Returns whether anything was (or would be) run.

    With nothing to do (every deploy at head), the record is read through the driver alone
    where it can be (``direct``), and neither SQLAlchemy nor Alembic is loaded."""
    files = migrations_of(settings)
    graph.single_head(files)
    app, target = app_and_target(files, app, target, settings.app_labels)

    def plan_from(current: tuple[str, ...], left: list) -> MigratePlan:
        """The steps to the target from ``current`` (the heads recorded) with ``left`` (the
        migrations recorded as unfinished); with ``fake``, a recorded revision that no file has
        is forgotten first (Alembic's ``stamp --purge``), as the error about it advises."""
        history, record_after = replaced.history(settings, files, current)
        record_now = graph.squashed_in(current, history)
        known = {m.revision for m in history}
        unknown = [revision for revision in current
                   if revision not in known and revision not in record_now] if fake else []
        if unknown:
            current, record_now = (), {}
        current = tuple(record_now.get(revision, revision) for revision in current)
        heads = graph.heads(history)
        if target is not None:
            named = replaced.before_squashed(target, history, record_after)
            wanted, scope = graph.resolve(named, history, current, app)
        else:
            wanted, scope = graph.app_heads(history)[app] if app else heads, app
        return MigratePlan(history, heads, wanted, scope, graph.plan(history, current, wanted, scope), unknown, left,
                           record_now, record_after)

    def steps_from(connection) -> MigratePlan:
        """Where the database stands, read on ``connection``, and the steps to the target."""
        from manage_migrations import recorder

        records = recorder.of(settings)
        return plan_from(records.current_state(connection), records.unfinished(connection))

    def apply(connection):
        from manage_migrations import lock

        planned = steps_from(connection)
        if planned.nothing_to_do:
            return carry_out(connection, planned)  # at head, the deploy hot path: nothing to lock for
        with lock.deploy_lock(connection, lock_timeout, console) as held:
            return carry_out(connection, steps_from(connection), held)  # again: another migrate may have run some

    def header(planned: MigratePlan) -> None:
        """Django's "Operations to perform" and "Running migrations"."""
        history, wanted, scope = planned.history, planned.wanted, planned.scope
        app_of, known = graph.apps(history), {m.revision for m in history}
        everything = scope is None and wanted == planned.heads or scope is not None and target is None
        labels = [scope] if scope else sorted({app_of[r] for r in (known if everything else wanted or known)})
        console.operations(wanted, everything, ", ".join(labels) or "(none)")  # Django's, when no app has migrations

    def carry_out(connection, planned: MigratePlan, held=None):
        """Django's header, then the steps (or the word that there are none). A signal from
        here on ends in one line saying where the database stands. A migration recorded as
        unfinished is read under the deploy lock: no other migrate is running it then."""
        from manage_migrations import database, executor, recorder

        records = recorder.of(settings)
        if planned.left and not fake:
            raise CommandError(recorder.unfinished_error(*planned.left[0], planned.history,
                                                         recorder.rolls_back_ddl(connection)))
        history, steps = planned.history, planned.steps
        header(planned)
        try:
            if planned.unknown:
                console.line(f"  Forgetting {', '.join(planned.unknown)}, which no migration file has.")
                records.forget_versions(connection)
            if planned.left:  # fake is the way out the error names
                console.line(f"  Forgetting that {', '.join(revision for revision, _ in planned.left)} did not finish.")
                records.forget_unfinished(connection)
            if planned.record_now:
                records.record_squashed(connection, planned.record_now, console)
            if not steps:
                console.nothing_to_apply()
                return bool(planned.unknown or planned.left or planned.record_now)
            warn_changed(connection, records, history, console)
            faked = there_already(connection, history, steps) if fake_initial and not fake else frozenset()
            with database.durable_at_end(connection):
                executor.run_plan(settings, connection, history, steps, console, fake, faked, planned.record_after,
                                  held)
            return True
        except KeyboardInterrupt as exc:
            raise executor.stopped_by(exc, settings, connection, history) from exc

    def show(connection):
        from manage_migrations import lock, recorder

        planned = steps_from(connection)
        if planned.left and not fake:
            raise CommandError(recorder.being_applied(planned.left[0][0]) if lock.held_elsewhere(connection)
                               else recorder.unfinished_error(*planned.left[0], planned.history,
                                                              recorder.rolls_back_ddl(connection)))
        return say_plan(planned)

    def say_plan(planned: MigratePlan) -> bool:
        """``--plan``'s list (in words or JSON); whether there are steps (``--check``)."""
        if plan:
            from manage_migrations import lint

            by_id = {m.revision: m for m in planned.history}
            steps = [(revision, forward, lint.marked(by_id[revision].path, forward))
                     for revision, forward in planned.steps]
            record_after = {last: squashed.revision for last, squashed in planned.record_after.items()}
            if output_format == "json":
                plan_document(planned.history, steps, planned.record_now, record_after)
            else:
                console.planned(steps, planned.record_now, record_after)
        return bool(planned.steps)

    record = direct.read(settings)
    if record is not None:
        planned = plan_from(record.state, [])
        if planned.nothing_to_do:
            if plan or check:
                return say_plan(planned)
            header(planned)
            console.nothing_to_apply()
            return False
    from manage_migrations import database

    return database.run(database.database_url(settings), show if plan or check else apply)


def plan_document(history: list[graph.Migration], steps: list, record_now: dict, record_after: dict) -> None:
    """``migrate --plan --format json`` (kind ``migrate_plan``): each step in order, its app, file
    and operations, each with whether it destroys data and the lintmigrations rules it breaks;
    and the squashed migrations recorded in place of the last they replace."""
    from manage_migrations import machine

    by_id, app_of = {m.revision: m for m in history}, graph.apps(history)
    machine.dump("migrate_plan", {
        "steps": [{"migration": name, "app": app_of[name], "direction": "apply" if forward else "unapply",
                   "file": display_path(Path(by_id[name].path)),
                   "operations": [{"operation": phrase, "destroys_data": destroys, "lint": list(rules)}
                                  for phrase, destroys, rules in operations],
                   "then_record": record_after.get(name) if forward else None}
                  for name, forward, operations in steps],
        "record_now": [{"squashed": squashed, "in_place_of": last} for last, squashed in record_now.items()]})


class MigratePlan(NamedTuple):
    """What ``migrate`` found and will do: the history it plans in (before a squash, for a
    database part-way through what it replaces), its heads, the state wanted and the app it
    is about, the steps there, the revisions to forget (``unknown``, with fake), an unfinished
    migration (MariaDB), the squashed migrations to record now in place of the last migration
    they replace ({last: squashed}) and those to record once that last one is applied."""
    history: list[graph.Migration]
    heads: tuple[str, ...]
    wanted: tuple[str, ...]
    scope: str | None
    steps: list[tuple[str, bool]]
    unknown: list[str]
    left: list
    record_now: dict[str, str]
    record_after: dict[str, graph.Migration]

    @property
    def nothing_to_do(self) -> bool:
        """At the target, with nothing to forget or record: no lock is needed, nothing is written."""
        return not (self.steps or self.unknown or self.left or self.record_now)


def warn_changed(connection, records, history: list[graph.Migration], console: Console) -> None:
    """A warning (and, under GitHub Actions, an annotation) for each applied migration whose file
    changed since it ran, by its checksum. Only where migrations are about to run: with nothing to
    do, migrate reads no file and no history, so that a deploy at head stays fast (check fails on
    the same finding, and showmigrations marks it)."""
    from manage_migrations import machine, recorder

    rows = records.history_rows(connection)
    applied = graph.applied(records.current_state(connection), history)
    paths = {m.revision: display_path(Path(m.path)) for m in history}
    for revision, row in tables.changed_since_applied(history, applied, rows).items():
        message = recorder.changed_message(revision, paths[revision], row.at)
        console.warning(message)
        machine.annotation("warning", machine.repository_path(paths[revision]), 1, message)


def there_already(connection, migrations: list[graph.Migration], steps) -> frozenset:
    """Django's ``--fake-initial``: the initial migrations to apply (none of their parents in
    their app) that create tables or add columns, every one of which the database has already,
    as where ``create_all()`` or hand-made tables came first. Nothing else is compared."""
    import sqlalchemy as sa

    from manage_migrations import source

    inspector, app_of = sa.inspect(connection), graph.apps(migrations)
    tables, by_id = set(inspector.get_table_names()), {m.revision: m for m in migrations}

    def exists(table, column=None):
        return table in tables and (column is None or column in {c["name"] for c in inspector.get_columns(table)})

    found = set()
    for revision, forward in steps:
        if not forward or any(app_of[parent] == app_of[revision] for parent in by_id[revision].parents):
            continue
        made = [(name, subject, on) for name, subject, on in source.calls(by_id[revision].path)
                if name in ("create_table", "add_column")]
        if made and all(exists(subject) if name == "create_table" else exists(on, subject) for name, subject, on in made):
            found.add(revision)
    connection.rollback()
    return frozenset(found)


def prune(settings: Settings, console: Console) -> None:
    """Django's ``migrate --prune``: forget the applied dates of migrations whose files are gone
    (those a squashed migration replaces, once deleted from migrations/replaced/). A database
    at a revision only a squashed migration knows of is left for migrate to record."""
    from manage_migrations import database, recorder

    records = recorder.of(settings)
    migrations = migrations_of(settings)
    recognised = {m.revision for m in migrations} | {r for m in migrations for r in m.replaces}
    on_disk = {m.revision for m in migrations} | {Path(path).stem for path in replaced.replaced_files(settings)}

    def forget(connection):
        gone = sorted(set(records.applied_dates(connection)) - on_disk)
        console.line(click.style("Pruning migrations:", bold=True))
        if not gone:
            console.line("  No migrations to prune.")
        for revision in gone:
            console.line(f"  Pruning {settings.app_label}.{revision}", nl=False)
            records.forget_history(connection, revision)
            console.line(console.success(" OK"))
        missing = [revision for revision in records.current_state(connection) if revision not in recognised]
        if missing:
            raise CommandError(graph.unknown_revision_error(missing[0]))

    database.run(database.database_url(settings), forget)
