"""kill -9, SIGINT and SIGTERM at random points of a 30-migration run, up and down, again and
again: each stop leaves the database at one migration with exactly the tables of the migrations
up to it or, on MariaDB, which cannot roll DDL back, with one migration recorded as unfinished
and part of its tables, which ``migrate`` names with the fakes that resolve it.

The points are random: each test draws a seed, named in every failure; RANDOM_KILLS_SEED=<seed>
draws the same points again (the machine's timing still varies). Through ``python manage.py``."""
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from migration_file import write_migration

BEFORE = "0004_make_email_unique"
STEPS = [f"{number:04d}_step{number:02d}" for number in range(5, 35)]
HEAD = STEPS[-1]
PARENT = dict(zip(STEPS, [BEFORE, *STEPS]))
CHILD = dict(zip([BEFORE, *STEPS], STEPS))
# Two tables and a pause between them: a stop may come half-way through a migration.
UPGRADE = """op.create_table('{a}', sa.Column('id', sa.Integer(), primary_key=True))
            time.sleep(0.02)
            op.create_table('{b}', sa.Column('id', sa.Integer(), primary_key=True))"""
DOWNGRADE = """op.drop_table('{b}')
            time.sleep(0.02)
            op.drop_table('{a}')"""
EXIT_STATUS = {signal.SIGKILL: -signal.SIGKILL, signal.SIGINT: 130, signal.SIGTERM: 143}  # -9: killed
RUNS = 3  # per test, alternately down to 0004 and up to 0034
STOP_TIMEOUT = 30  # seconds a signalled migrate may take to stop before it counts as hung
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}
# Sessions still open on the test's database, other than the one asking.
OTHER_SESSIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()",
    "mariadb": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
}


def tables_of(revision: str) -> tuple[str, str]:
    """``0005_step05`` creates t05a, then t05b."""
    return f"t{revision[2:4]}a", f"t{revision[2:4]}b"


def applied_steps(version: str) -> list[str]:
    return STEPS[:STEPS.index(version) + 1] if version in STEPS else []


def tables_up_to(version: str) -> set:
    return {table for step in applied_steps(version) for table in tables_of(step)}


def add_thirty_migrations(project) -> None:
    for revision in STEPS:
        a, b = tables_of(revision)
        write_migration(project, revision, PARENT[revision], UPGRADE.format(a=a, b=b), DOWNGRADE.format(a=a, b=b),
                        head="import time")


def advice(revision: str, forward: bool) -> str:
    """What migrate says of a migration that did not finish on MariaDB (recorder.unfinished_error)."""
    done, undone = (revision, PARENT[revision]) if forward else (PARENT[revision], revision)
    return (f"{'Migration' if forward else 'Unapplying'} {revision} was started and did not finish, and this "
            f"database cannot roll back what it did: if all of it is in, run 'python manage.py fake {done}'; if "
            f"not, undo what it did and run 'python manage.py fake {undone}'.")


def execute(url: str, statement: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.exec_driver_sql(statement)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def state(url: str) -> tuple[list, set, list]:
    """alembic_version's rows, the step tables there are, and the migrations recorded unfinished."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
            unfinished = []
            if "manage_migrations_unfinished" in names:
                rows = connection.exec_driver_sql("SELECT revision, forward FROM manage_migrations_unfinished")
                unfinished = [(revision, bool(forward)) for revision, forward in rows]
    finally:
        engine.dispose()
    return versions, {name for name in names if re.fullmatch(r"t\d\d[ab]", name)}, unfinished


def wait_for_other_sessions_to_end(url: str, backend: str) -> None:
    """A killed client's last statement may still be running on the server (MariaDB finishes a
    CREATE TABLE, PostgreSQL a COMMIT): what it leaves is read once its sessions are gone."""
    if backend not in OTHER_SESSIONS:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while execute(url, OTHER_SESSIONS[backend])[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)


def migrate_in_background(project, env: dict, target: list, folder) -> tuple[subprocess.Popen, float]:
    """``python manage.py migrate [target]`` started, once it has printed "Running migrations:":
    the process and that moment. Its output goes to files in ``folder`` (``out``, ``err``)."""
    with open(folder / "out", "w") as out, open(folder / "err", "w") as err:
        process = subprocess.Popen([sys.executable, str(project / "manage.py"), "migrate", *target], env=env,
                                   stdout=out, stderr=err)
    deadline = time.monotonic() + STOP_TIMEOUT
    while ("Running migrations:" not in (folder / "out").read_text() and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.005)
    return process, time.monotonic()


def stop(process: subprocess.Popen) -> int | None:
    """Its exit status, or None if it had not stopped STOP_TIMEOUT seconds later (it is killed)."""
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def check_consistent(url: str, backend: str, going_up: bool, point: str) -> tuple[str, tuple | None, set]:
    """The database is at one migration with exactly the tables up to it, or (MariaDB only) one
    migration of this run is recorded unfinished, with part of its tables: the version, that
    record (or None) and the step tables."""
    wait_for_other_sessions_to_end(url, backend)
    versions, tables, unfinished = state(url)
    assert len(versions) == 1 and versions[0] in (BEFORE, *STEPS), f"{point}: alembic_version {versions}"
    version = versions[0]
    if not unfinished:
        assert tables == tables_up_to(version), f"{point}: at {version} with {sorted(tables ^ tables_up_to(version))}"
        return version, None, tables
    assert backend == "mariadb" and len(unfinished) == 1, f"{point}: unfinished {unfinished}"
    revision, forward = unfinished[0]
    assert forward == going_up and version in (PARENT[revision], revision), f"{point}: {unfinished} at {version}"
    a, b = tables_of(revision)
    part = tables - tables_up_to(PARENT[revision])
    # Created a, then b; dropped b, then a. Recorded in alembic_version only once all of it is done.
    assert part in ({a, b}, {a}, set()), f"{point}: {revision} half-done with {sorted(part)} at {version}"
    assert tables >= tables_up_to(PARENT[revision]), f"{point}: {sorted(tables_up_to(PARENT[revision]) - tables)} gone"
    if version == (revision if forward else PARENT[revision]):
        assert part == ({a, b} if forward else set()), f"{point}: {revision} recorded done with {sorted(part)}"
    return version, unfinished[0], tables


def resolve(url: str, unfinished: tuple, tables: set) -> str:
    """What a user does with migrate's advice: where all of the migration (or of its unapply) is
    in, nothing; otherwise undo the part that is in. The revision to fake then."""
    revision, forward = unfinished
    whole, in_now = set(tables_of(revision)), set(tables_of(revision)) & tables
    if forward:
        if in_now == whole:
            return revision
        for table in in_now:
            execute(url, f"DROP TABLE {table}")
        return PARENT[revision]
    if not in_now:
        return PARENT[revision]
    for table in whole - in_now:
        execute(url, f"CREATE TABLE {table} (id INTEGER NOT NULL PRIMARY KEY)")
    return revision


def interrupted_lines(version: str, unfinished: tuple | None, going_up: bool) -> set:
    """What SIGINT or SIGTERM may make migrate say, the database being at ``version``: that, with
    the migration it was running (stopped in it, or after its commit and before its OK) or, between
    two, none; on MariaDB, the migration it left unfinished, and then the fakes that resolve it."""
    verb = "applying" if going_up else "unapplying"
    running = [unfinished[0]] if unfinished else [step for step in (version, CHILD.get(version)) if step in STEPS]
    lines = {f"Interrupted: the database is at {version}.",
             *(f"Interrupted while {verb} {revision}: the database is at {version}." for revision in running)}
    return {f"{line} {advice(*unfinished)}\n" if unfinished else f"{line}\n" for line in lines}


@pytest.fixture
def seed() -> int:
    """A new one for each test, or RANDOM_KILLS_SEED's, to draw a failure's points again."""
    return int(os.environ.get("RANDOM_KILLS_SEED") or random.randrange(1_000_000))


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda signum: signum.name)
@pytest.mark.parametrize("backend", list(URL_FIXTURES))
def test_signals_at_random_points_of_a_long_run_leave_a_consistent_database(project_copy, run_manage, tmp_path,
                                                                             request, backend, signum, seed):
    """A deploy stopped anywhere: each run, down to 0004 or up to 0034, gets the signal at a random
    moment after "Running migrations:". Then the database is checked, a MariaDB leftover resolved as
    migrate's advice says, and the same migrate run again to the end, as after a failed deploy."""
    url = request.getfixturevalue(URL_FIXTURES[backend])
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": url,
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    replay = f"RANDOM_KILLS_SEED={seed} {request.node.nodeid}"
    add_thirty_migrations(project_copy)
    points = random.Random(seed)
    # Timed: 0001 to 0034 takes a little longer than the 30 steps, so some signals come after the end.
    process, running = migrate_in_background(project_copy, env, [], tmp_path)
    assert stop(process) == 0, f"{replay}: {(tmp_path / 'err').read_text()}"
    full_run = time.monotonic() - running

    for run in range(RUNS):
        going_up = run % 2 == 1
        target, end = ([], HEAD) if going_up else ([BEFORE], BEFORE)
        fraction = points.random()
        point = f"{replay}, run {run + 1}: migrate {' '.join(target)} signalled {fraction:.0%} into it"
        process, running = migrate_in_background(project_copy, env, target, tmp_path)
        time.sleep(max(0.0, running + fraction * full_run - time.monotonic()))
        process.send_signal(signum)
        status, err = stop(process), (tmp_path / "err").read_text()

        assert status is not None, f"{point}: still running {STOP_TIMEOUT} s later"
        # Exit 0, or killed by the signal itself (-signum): it came after the end (Python puts the
        # default handlers back as it exits, and a shell shows that as 130 or 143 too).
        assert status in (0, -signum, EXIT_STATUS[signum]), f"{point}: exit {status}: {err}"
        version, unfinished, tables = check_consistent(url, backend, going_up, point)
        if status == 0 or (status == -signum and signum != signal.SIGKILL):
            assert (version, unfinished) == (end, None), f"{point}: exit {status} at {version}"
        elif signum != signal.SIGKILL:
            assert err in interrupted_lines(version, unfinished, going_up), f"{point}: {err!r} at {version}"
        if unfinished:
            refused = run_manage(project_copy, "migrate", *target, database_url=url)
            assert (refused.returncode, refused.stderr) == (1, f"CommandError: {advice(*unfinished)}\n"), \
                f"{point}: {refused.stderr}"
            faked_to = resolve(url, unfinished, tables)
            faked = run_manage(project_copy, "fake", faked_to, database_url=url)
            assert f"  Forgetting that {unfinished[0]} did not finish." in faked.stdout.splitlines(), \
                f"{point}: fake {faked_to}: {faked.stdout}{faked.stderr}"
            version, unfinished, tables = check_consistent(url, backend, going_up, point)
            assert (version, unfinished) == (faked_to, None), f"{point}: fake {faked_to} left it at {version}"
        shown = run_manage(project_copy, "showmigrations", database_url=url)
        assert [line for line in shown.stdout.splitlines() if "_step" in line] == [
            f" [{'X' if step in applied_steps(version) else ' '}] {step}" for step in STEPS
        ], f"{point}: at {version}: {shown.stdout}{shown.stderr}"
        again = run_manage(project_copy, "migrate", *target, database_url=url)
        assert again.returncode == 0, f"{point}: migrate again: {again.stderr}"
        assert check_consistent(url, backend, going_up, point)[:2] == (end, None), f"{point}: migrate again"

    assert run_manage(project_copy, "migrate", database_url=url).returncode == 0
    versions, tables, unfinished = state(url)
    assert (versions, len(tables), unfinished) == ([HEAD], 60, []), f"{replay}: {versions}, {unfinished}"
