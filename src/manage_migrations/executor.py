"""Runs a plan, as Django's ``MigrationExecutor``: each step through Alembic in a transaction of its
own, recorded in that transaction, with lock waits retried, the unfinished record kept where DDL
cannot be rolled back, and a signal ending in one line that says where the database stands.

Alembic is imported where a step runs, not with this module: ``migrate`` holds it from the start,
so that a signal that comes while Alembic loads is still answered by ``stopped_by``.
"""
import contextlib
import dataclasses
import itertools
import re
import signal
import time

import sqlalchemy as sa

from manage_migrations import database, graph, recorder, signals, source
from manage_migrations.conf import Settings
from manage_migrations.database import is_lock_wait, lock_holders, waited_table
from manage_migrations.graph import Migration
from manage_migrations.output import CommandError, Console, Interrupted
from manage_migrations.replaced import replaced_folder
from manage_migrations.recorder import unfinished_error


class StepFailed(CommandError):
    """A migration that failed while running; ``reason`` is the error in one line. Where DDL is
    not rolled back, one that ``changed_nothing`` says so: it can run again once fixed, as a
    failed migration can where the database rolls it back whole."""

    def __init__(self, revision: str, reason: str, sql: bool = False, error: BaseException | None = None,
                 changed_nothing: bool = False):
        self.revision, self.reason = revision, reason
        self.lock_wait = error is not None and is_lock_wait(error)  # worth another try
        self.table = waited_table(error) if self.lock_wait else None
        what = f"Cannot write the SQL of {revision}" if sql else f"Migration {revision} failed"
        afterwards = (f"{reason.rstrip('.')}. It changed nothing: fix it and run 'python manage.py migrate' again."
                      if changed_nothing else reason)
        super().__init__(f"{what}: {afterwards}")


# The first word of the statements that MariaDB takes back with a failed migration's transaction:
# reads, and writes to InnoDB's tables (WITH counted as one, as it may be). Any other (DDL, COMMIT,
# LOCK TABLES, SET autocommit, a comment first: what we cannot tell) commits there, with the rows
# written before it.
READS = frozenset({"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"})
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"})
ROLLED_BACK = READS | WRITES
FIRST_WORD = re.compile(r"[\s(]*(\w*)")
# Statements that may have done part of their work when they fail: DROP TABLE of several tables
# drops those it can, and CREATE OR REPLACE drops the old table before it creates the new one.
HALF_DONE_WHEN_FAILED = re.compile(r"[\s(]*(DROP|CREATE\s+OR\s+REPLACE)\b", re.IGNORECASE)


def first_word(statement: str) -> str:
    """What kind of statement it is, past the spaces and parentheses before it."""
    return FIRST_WORD.match(statement).group(1).upper()


def commits_on_mariadb(statement: str) -> bool:
    """Whether a statement commits as it runs on MariaDB, with the rows written before it."""
    return first_word(statement) not in ROLLED_BACK


class Lasting:
    """Whether a migration that failed on MariaDB left anything behind (``kept``): a statement
    that commits and ran, or that began after rows were written (its commit comes first, even
    when it then fails), or a commit of the migration's own. Only the migration's own code is
    watched, so our bookkeeping around it (SET, the reads, the records) never counts."""

    def __init__(self):
        self.kept = self.written = False

    @contextlib.contextmanager
    def watching(self, connection: sa.Connection):
        """Follow the statements and commits on the migrating connection while the migration runs."""
        events = (("before_cursor_execute", self.before), ("after_cursor_execute", self.after),
                  ("commit", self.committed))
        for name, listener in events:
            sa.event.listen(connection, name, listener)
        try:
            yield
        finally:
            for name, listener in events:
                sa.event.remove(connection, name, listener)

    def before(self, connection, cursor, statement: str, *args) -> None:
        """Counted as it begins: its commit of the rows written before it, or its half-done work,
        stays even when it fails."""
        if self.written and commits_on_mariadb(statement) or HALF_DONE_WHEN_FAILED.match(statement):
            self.kept = True

    def after(self, connection, cursor, statement: str, *args) -> None:
        self.kept |= commits_on_mariadb(statement)
        self.written |= first_word(statement) in WRITES

    def committed(self, connection) -> None:
        self.kept |= self.written


def run_steps(settings, connection, steps, console: Console, fake=False, sql=False,
              lock_timeout: float | None = None, scripts=None,
              faked: frozenset = frozenset(), guard: "Guard | None" = None) -> None:
    """Run ``graph.plan`` steps through Alembic, one transaction each, printing Django's lines;
    with ``sql``, print their SQL instead (Alembic's offline mode).

    Alembic consumes the step generator lazily, so "Applying X..." is printed just before X
    runs and " OK" once its transaction (with the version-table update) has committed. With
    ``lock_timeout``, each migration waits at most that long for a lock another session holds.
    ``scripts`` are the migration files as ``load_scripts`` loaded them, to load them once for
    several runs. The migrations in ``faked`` are recorded without running (``--fake-initial``).
    ``guard`` keeps a run under the deploy lock honest (see ``Guard``).
    """
    from alembic.runtime.migration import MigrationStep

    from manage_migrations.migrations import alembic_config, alembic_logs, explain, load_scripts, project_environment

    scripts, records = scripts or load_scripts(settings), recorder.of(settings)
    if not sql:
        database.writing(connection)
        if lock_timeout and connection.dialect.name in ("mysql", "mariadb"):
            connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {max(1, round(lock_timeout))}")
            connection.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {max(1, round(lock_timeout))}")
        if console.verbosity >= 3:
            sa.event.listen(connection, "before_cursor_execute",
                            lambda conn, cursor, statement, *args: console.sql(statement))
    running, marked, lasting = None, False, None
    # What runs for real is recorded as started where it cannot be taken back: on MariaDB, and
    # for a migration that is not atomic everywhere.
    for_real, rolls_back = not (sql or fake), sql or recorder.rolls_back_ddl(connection)
    atomic = {revision: not source.non_atomic(scripts.get_revision(revision).path) for revision, _ in steps}
    marking = {revision for revision, _ in steps if for_real and not (rolls_back and atomic[revision])}

    def alembic_steps(heads, context):
        nonlocal running, marked, lasting
        for revision, forward in steps:
            running = (revision, forward)
            if guard is not None:
                guard.before_step(atomic[revision])
            script = scripts.get_revision(revision)
            marked = revision in marking
            if marked:  # committed before the DDL, which MariaDB (or a migration not atomic) cannot take back
                lasting = watched(records.mark_unfinished(connection, revision, forward), atomic[revision])
            if forward:
                step = MigrationStep.upgrade_from_script(scripts.revision_map, script)
            else:
                step = MigrationStep.downgrade_from_script(scripts.revision_map, script)
            if not sql:
                wait = lock_timeout if connection.dialect.name == "postgresql" else None
                skip = fake or revision in faked
                step.migration_fn = recorded(None if skip else step.migration_fn, connection, records, revision,
                                             forward, wait, guard, lasting, script.path, marked, atomic[revision])
            signals.unanswered = unanswered(revision, forward, script.down_revision)
            console.step_started(revision, forward)
            started = time.perf_counter()
            yield step
            lasting = None  # committed, its unfinished record cleared: whatever fails from here on, it is in
            console.step_finished(fake or revision in faked, time.perf_counter() - started)
            signals.unanswered = signals.UNANSWERED
            running, marked = None, False

    offline = {}
    if sql:
        first, forward = steps[0]
        parents = scripts.get_revision(first).down_revision
        offline = dict(as_sql=True, starting_rev=(parents if forward else first) or None, destination_rev=first)
    try:
        applying = [revision for revision, forward in steps if forward]
        prepare = None if sql else lambda connection: records.prepare(connection, applying, bool(marking))
        with project_environment(alembic_config(settings, connection, models=False), scripts, prepare,
                                 fn=alembic_steps, **offline), alembic_logs(console.verbosity):
            scripts.run_env()
        if not sql:
            connection.commit()
    except CommandError:
        raise
    except Replan:
        console.line(" run by another migrate meanwhile.")
        if marked:  # the check comes before the migration's DDL: nothing of it ran
            records.mark_unfinished(connection, running[0], None)
        raise
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt) or Interrupted.received:
            console.line()
            raise Interrupted(getattr(exc, "signum", None) or Interrupted.received or signal.SIGINT,
                              running=running) from exc
        if running is None:
            raise
        console.line()
        reason = explain(exc)
        if getattr(exc, "connection_invalidated", False):  # a restart, a kill, a network gone
            reason = f"{reason.rstrip('.')}. The connection was lost; {standing_after_loss(connection, records)}"
        elif lasting is not None and not lasting.kept:  # as if it had not started: not left to be faked
            records.mark_unfinished(connection, running[0], None)
            raise StepFailed(running[0], reason, sql, exc, changed_nothing=True) from exc
        raise StepFailed(running[0], reason, sql, exc) from exc


def watched(tried_before: bool, atomic: bool) -> Lasting | None:
    """What to watch of a migration recorded as started, to tell whether one that fails left
    anything: an atomic one on MariaDB, whose statements on the migrating connection show all it
    does. Not one that is not atomic (an autocommit block commits what no statement shows, and
    ``atomic = False`` may commit over connections of its own), nor the next try of one that
    waited for a lock (``tried_before``: its record is an earlier try's, which may have kept DDL)."""
    return Lasting() if atomic and not tried_before else None


def standing_after_loss(connection, records: recorder.Recorder) -> str:
    """Where the database stands after the migrating connection was lost, read over a new one."""
    try:
        with connection.engine.connect() as fresh:
            return f"the database is at {', '.join(records.current_state(fresh)) or 'no migration'}."
    except Exception:
        return "where the database stands could not be read."


def unanswered(revision: str, forward: bool, down_revision) -> str:
    """What a signal leaves said when the database does not answer within its grace (see signals)."""
    parents = (down_revision,) if isinstance(down_revision, str) else down_revision or ()
    before = (", ".join(parents) or "no migration") if forward else revision
    return (f"Interrupted while {'applying' if forward else 'unapplying'} {revision}: the database did not answer "
            f"within {signals.GRACE} s, so the process ended without it. The server rolls back what was not "
            f"committed once it notices; the database was at {before} when the migration began.")


def opening_statement(connection, lock_timeout: float | None, guard: "Guard | None") -> str | None:
    """On PostgreSQL, the one statement that begins each step's transaction: ``synchronous_commit``
    off (the disk is waited for once, at the end: ``durable_at_end``) and the ``lock_timeout``,
    both for the transaction alone (``set_config``'s ``true``: a session behind a pooler is
    another client's), then, under the guard, the step lock, whose wait the timeout bounds too
    (the select list runs in order)."""
    if connection.dialect.name != "postgresql":
        return None
    from manage_migrations.lock import STEP_KEY

    calls = ["set_config('synchronous_commit', 'off', true)"]
    if lock_timeout:
        calls.append(f"set_config('lock_timeout', '{round(lock_timeout * 1000)}ms', true)")
    if guard is not None:
        calls.append(f"pg_advisory_xact_lock({STEP_KEY})")
    return f"SELECT {', '.join(calls)}"


def recorded(migration_fn, connection, records: recorder.Recorder, revision: str, forward: bool,
             lock_timeout: float | None = None, guard: "Guard | None" = None, lasting: Lasting | None = None,
             path: str | None = None, marked: bool = False, atomic: bool = True):
    """The step's work and its row in the history table (with the checksum of the file at
    ``path``, and its unfinished record cleared when ``marked``), in the step's transaction;
    the ``opening_statement`` first, and the guard's check. The work alone is watched by ``lasting``.

    The guard reads the heads in a statement of its own, after the step lock's, so that what it
    reads is as of when it got the lock; on PostgreSQL that statement writes the history row too
    (``record_step``), for a migration that is atomic: the row is still in the transaction that
    updates the version, and a check that fails rolls it back with the rest."""
    opening = opening_statement(connection, lock_timeout, guard)
    record_with_guard_read = guard is not None and atomic and connection.dialect.name == "postgresql"

    def run(**kw):
        if opening is not None:
            connection.exec_driver_sql(opening)
        if record_with_guard_read:  # atomic: never marked unfinished, so nothing to clear here
            guard.check(records.record_step(connection, revision, forward, path, read_heads=True), revision, forward)
        elif guard is not None:
            guard.check(records.read_heads(connection), revision, forward)
        if migration_fn is not None:
            with lasting.watching(connection) if lasting else contextlib.nullcontext():
                migration_fn(**kw)
        if not record_with_guard_read:
            records.record_step(connection, revision, forward, path, marked)

    return run


def try_migration(settings: Settings, connection, revision: str,
                  afterwards: str = "The file is kept for you to fix.") -> None:
    """Run a new migration on the scratch database before anyone else does: up, down and up
    again, so that a migration that cannot run, or cannot be undone, is found now. A failure
    ends with what becomes of the file (``afterwards``)."""
    from manage_migrations.migrations import load_scripts

    scripts = load_scripts(settings)
    for forward, step in ((True, "upgrade"), (False, "downgrade"), (True, "second upgrade")):
        try:
            run_steps(settings, connection, [(revision, forward)], Console(0), scripts=scripts)
        except StepFailed as failed:
            raise CommandError(f"Tried {revision} on the scratch database: its {step} failed: "
                               f"{failed.reason.rstrip('.')}. {afterwards}") from failed


LOCK_RETRY_DELAYS = (1, 2, 4)  # seconds between the tries of a migration that waited too long for a lock


def run_with_lock_retries(settings: Settings, connection, steps, console: Console, fake: bool,
                          faked: frozenset = frozenset(), scripts=None, guard: "Guard | None" = None) -> None:
    """Run the steps; a migration that waits longer than ``settings.table_lock_timeout`` for a
    lock another session holds is rolled back (so it never keeps the queries queued behind it
    waiting longer than that) and tried again after a pause, then given up in one line naming
    the table, who holds it and where the database stands."""
    for delay in (*LOCK_RETRY_DELAYS, None):
        try:
            return run_steps(settings, connection, steps, console, fake=fake, lock_timeout=settings.table_lock_timeout,
                             faked=faked, scripts=scripts, guard=guard)
        except StepFailed as failed:
            if not failed.lock_wait:
                raise
            steps = steps[[revision for revision, _ in steps].index(failed.revision):]
            connection.rollback()
            table = f" on {failed.table}" if failed.table else ""
            holders = lock_holders(connection, failed.table) if failed.table else ""
            if delay is None:
                at = ", ".join(recorder.of(settings).current_state(connection)) or "no migration"
                raise CommandError(f"Migration {failed.revision} waited over {settings.table_lock_timeout:g} s for a "
                                   f"lock{table}{holders}, {len(LOCK_RETRY_DELAYS) + 1} times; gave up. The database "
                                   f"is at {at}.") from failed
            console.line(f"  Waited over {settings.table_lock_timeout:g} s for a lock{table}{holders}; "
                         f"trying again in {delay} s.")
            time.sleep(delay)


def stopped_by(exc: KeyboardInterrupt, settings: Settings, connection, migrations: list[graph.Migration]) -> Interrupted:
    """A signal arrived while migrating (while Alembic loaded, or a statement it cancelled
    failed, or between statements): the step's transaction is rolled back where the backend
    can, and the line says where the database stands, read over a new connection if the
    signal left this one mid-statement, with the unfinished migration and its ways out where
    DDL is not rolled back."""

    records = recorder.of(settings)

    def standing(conn) -> tuple[str, list]:
        return ", ".join(records.current_state(conn)) or "no migration", records.unfinished(conn)

    signals.wait_for_statements_to_stop()
    try:
        connection.rollback()
        at, left = standing(connection)
    except Exception:
        try:
            with connection.engine.connect() as fresh:
                at, left = standing(fresh)
        except Exception:
            at, left = "where the last migration reported OK left it", []
    running = getattr(exc, "running", None)
    doing = f" while {'applying' if running[1] else 'unapplying'} {running[0]}" if running else ""
    message = f"Interrupted{doing}: the database is at {at}."
    for revision, forward in left[:1]:
        message += " " + unfinished_error(revision, forward, migrations, recorder.rolls_back_ddl(connection))
    return Interrupted(getattr(exc, "signum", None) or Interrupted.received or signal.SIGINT, message)


def run_plan(settings: Settings, connection, migrations: list[Migration], steps, console: Console, fake: bool,
             faked: frozenset, record_after: dict[str, Migration], held=None) -> None:
    """Run the steps; those of replaced migrations from their files in ``migrations/replaced/``,
    each squashed migration recorded in place of the last it replaces once that is applied.
    Under the deploy lock (``held``), a migration another migrate ran meanwhile (its lock lost
    and taken by the other) is not run again: the rest is planned again from where it stands."""
    # A squashed migration recorded in place of the last it replaces stands for that one here.
    aliases = {squashed.revision: last for last, squashed in record_after.items()}
    guard = Guard(held, recorder.of(settings), migrations, aliases) if held is not None else None
    while steps:
        try:
            return run_groups(settings, connection, migrations, steps, console, fake, faked, record_after, guard)
        except Replan:
            state = recorder.of(settings).current_state(connection)
            applied = graph.applied(tuple(aliases.get(r, r) for r in state), migrations)
            steps = [(revision, forward) for revision, forward in steps if (revision in applied) != forward]


def run_groups(settings: Settings, connection, migrations: list[Migration], steps, console: Console, fake: bool,
               faked: frozenset, record_after: dict[str, Migration], guard: "Guard | None") -> None:
    """The steps in groups: the replaced migrations' from ``migrations/replaced/``, the rest from
    the version locations."""
    if not record_after:
        return run_with_lock_retries(settings, connection, steps, console, fake, faked, guard=guard)
    replaced = {revision for squashed in record_after.values() for revision in squashed.replaces}
    before = scripts_before(settings, migrations, replaced)
    for old, group in itertools.groupby(steps, key=lambda step: step[0] in replaced):
        group = list(group)
        run_with_lock_retries(settings, connection, group, console, fake, faked, before if old else None, guard)
        recorder.of(settings).record_squashed(connection, {r: record_after[r].revision for r, forward in group
                                              if forward and r in record_after}, console)


class Replan(Exception):
    """The database is not where the plan expects before a migration: another migrate moved it."""


class Guard:
    """What keeps a run under the deploy lock honest: before each migration the lock is checked
    (and taken again if its connection was closed), and each migration's own transaction, on
    PostgreSQL under an advisory lock of its own, checks that the database is where the plan
    expects it, so that no migration runs twice whatever happened to the lock."""

    def __init__(self, held, records: recorder.Recorder, migrations: list[Migration], aliases: dict[str, str]):
        self.held, self.records, self.migrations, self.aliases = held, records, migrations, aliases
        self.needs = {m.revision: m.needs for m in migrations}
        self.last: tuple[tuple[str, ...], set[str]] | None = None  # the state last checked, and what it has applied

    def before_step(self, atomic: bool) -> None:
        """The deploy lock checked; always before a migration that is not atomic, whose commits
        part-way let go of the step lock that otherwise keeps a second migrate out of it."""
        self.held.check(always=not atomic)

    def check(self, heads: tuple[str, ...], revision: str, forward: bool) -> None:
        """In the step's transaction, with the ``heads`` read there after the step lock
        (``opening_statement``): Replan unless the migration is the next to run."""
        state = tuple(self.aliases.get(revision, revision) for revision in heads)
        applied = self.applied(state)
        self.last = (state, applied)
        ready = revision not in applied and set(self.needs[revision]) <= applied if forward else revision in applied
        if not ready:
            raise Replan(revision)

    def applied(self, state: tuple[str, ...]) -> set[str]:
        """``graph.applied(state)``, built on the last state checked where the new one has all it
        had (each migration applied adds itself): only the new revisions are walked, so a run's
        checks take time in proportion to its length, not to its square."""
        if self.last is None or not all(revision in self.needs for revision in state):
            return graph.applied(state, self.migrations)
        before, applied_before = self.last
        reached, new, todo = set(), set(), list(state)
        while todo:
            revision = todo.pop()
            if revision not in reached:
                reached.add(revision)
                if revision not in applied_before:
                    new.add(revision)
                    todo.extend(self.needs[revision])
        if not set(before) <= reached:  # the database went back (or elsewhere): walk it all
            return graph.applied(state, self.migrations)
        applied_before |= new  # in place: a copy per migration would be the square again
        return applied_before


def scripts_before(settings: Settings, migrations: list[Migration], replaced: set[str]):
    """Alembic's scripts of the history before a squash (``history``): the version locations
    and ``migrations/replaced/``, less what the history leaves out (the squashed migrations,
    whose followers run once they are recorded)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap

    from manage_migrations.migrations import alembic_config

    folders = (*settings.migration_folders, replaced_folder(settings))
    scripts = ScriptDirectory.from_config(alembic_config(dataclasses.replace(settings, version_locations=folders)))
    replaced = replaced & {m.revision for m in migrations}  # an earlier squash's files may be gone
    wanted = {m.revision for m in migrations} - (graph.descendants(replaced, migrations) - replaced)
    # Alembic loads every file of the folders; its map is built from those wanted alone.
    scripts.revision_map = RevisionMap(lambda: [s for s in scripts._load_revisions() if s.revision in wanted])
    return scripts
