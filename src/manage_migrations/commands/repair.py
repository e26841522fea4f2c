"""``repair``: Flyway's repair for checksums. Once an edit to an applied migration has been
reviewed (the database already matches it, or the edit changed nothing it runs), record the file
as it is now, so that showmigrations, migrate and check stop flagging it."""
import click

from manage_migrations import graph, replaced
from manage_migrations.conf import Settings
from manage_migrations.loader import checksum, migrations_of
from manage_migrations.output import Console


def repair(settings: Settings, console: Console, names: tuple[str, ...] = (), lock_timeout: float = 300) -> None:
    """Record the checksum of each applied migration's file (of those ``names``, when given)
    where it differs from the recorded one or none was recorded (applied before checksums were
    kept), under the deploy lock; print each one recorded. A migration applied by the plain
    alembic command has no history row, so nothing to compare with, and is left alone."""
    from manage_migrations import database, lock, recorder

    records = recorder.of(settings)
    migrations = migrations_of(settings)
    chosen = {graph.find(name, migrations) for name in names}

    def record(connection):
        with lock.deploy_lock(connection, lock_timeout, console):
            state = records.current_state(connection)
            history, _ = replaced.history(settings, migrations, state)
            applied, rows = graph.applied(state, history), records.history_rows(connection)
            updates = {}
            for m in history:
                digest = checksum(m.path) if m.revision in applied and m.revision in rows else None
                if digest is not None and digest != rows[m.revision].checksum and (not chosen or m.revision in chosen):
                    updates[m.revision] = digest
            console.line(click.style("Recording checksums:", bold=True))
            if updates:
                records.record_checksums(connection, updates)
            for revision in updates:
                before = rows[revision]
                why = (f"changed since applied on {before.at:%Y-%m-%d %H:%M:%S} UTC" if before.checksum
                       else "no checksum before")
                console.line(f"  Recorded {revision} ({why})")
            if not updates:
                console.line("  No checksums to record.")

    database.run(database.database_url(settings), record)
