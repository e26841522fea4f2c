"""Every way to name a migrate target, through ``python manage.py``; -v typed before or after the
command name; and the one-line errors (or, with --traceback, the traceback) for targets that
name nothing."""
import re

HOTELS, ROOMS, USERS, EMAIL = ("0001_create_table_hotels", "0002_create_table_rooms", "0003_add_users",
                               "0004_make_email_unique")
TABLES_AT = {
    None: set(),
    HOTELS: {"hotels"},
    ROOMS: {"hotels", "rooms"},
    USERS: {"hotels", "rooms", "users"},
    EMAIL: {"hotels", "rooms", "users"},
}
ORDER = [HOTELS, ROOMS, USERS, EMAIL]
HEADER = ["Operations to perform:", "Running migrations:"]
TIMING = re.compile(r" \(\d+\.\d{3}s\)$")


def steps_between(start, end) -> list[str]:
    """The lines migrate prints going from one revision (None for none) to another."""
    here, there = (ORDER.index(rev) + 1 if rev else 0 for rev in (start, end))
    if there >= here:
        return [f"  Applying {rev}... OK" for rev in ORDER[here:there]]
    return [f"  Unapplying {rev}... OK" for rev in reversed(ORDER[there:here])]


def test_every_target_form_lands_on_its_revision(project_copy, run_manage, tmp_path, succeeded, app_tables,
                                                 revision, together):
    """Two walks on two databases, run side by side. Each step starts where the one before it
    ended; the relative ones (+1, -1, 0003-1, ...) count from there. Three steps also set -v."""
    first_walk = [
        # (arguments to manage.py, the revision it must land on)
        (["migrate", "0002_create_table_rooms"], ROOMS),  # full name
        (["migrate", "+1"], USERS),
        (["migrate", "head", "-v", "2"], EMAIL),          # -v after the command: timings
        (["migrate", "-1"], USERS),                       # typed as is: manage.py migrate -1
        (["-v", "0", "migrate", "zero"], None),           # -v before the command: silence
        (["migrate", "base+3"], USERS),
    ]
    second_walk = [
        (["migrate", "0002"], ROOMS),                     # the number alone
        (["migrate", "head-1"], USERS),
        (["migrate", "0003-1"], ROOMS),
        (["migrate", "0004_make"], EMAIL),                # a unique prefix
        (["migrate", "base", "-v", "0"], None),           # -v after the command: silence
    ]

    def walk(steps, url):
        current = None
        for args, landing in steps:
            lines = succeeded(run_manage(project_copy, *args, database_url=url))
            assert revision(url) == landing, (args, lines)
            assert app_tables(url) == TABLES_AT[landing], args
            verbosity = int(args[args.index("-v") + 1]) if "-v" in args else 1
            if verbosity == 0:
                assert lines == [], (args, lines)
                current = landing
                continue
            assert [lines[0], lines[2]] == HEADER, (args, lines)
            if landing is None:
                assert lines[1] == "  Unapply all migrations: project", (args, lines)
            elif landing == EMAIL:
                assert lines[1] == "  Apply all migrations: project", (args, lines)
            else:
                assert lines[1] == f"  Target specific migration: {landing}, from project", (args, lines)
            timed = [bool(TIMING.search(line)) for line in lines[3:]]
            assert timed == [verbosity == 2] * len(timed), (args, lines)  # timings at -v 2 only
            assert [TIMING.sub("", line) for line in lines[3:]] == steps_between(current, landing), (args, lines)
            current = landing

    together(lambda: walk(first_walk, f"sqlite:///{tmp_path / 'first.sqlite3'}"),
             lambda: walk(second_walk, f"sqlite:///{tmp_path / 'second.sqlite3'}"))


def test_targets_that_name_nothing(project_copy, run_manage, sqlite_url, revision, together):
    """One line on stderr and exit status 1, no traceback; --traceback, after the command name or
    before it, adds the traceback. The database does not move."""
    def manage(*args):
        return run_manage(project_copy, *args, database_url=sqlite_url)

    unknown, ambiguous, traceback_after, traceback_before = together(
        lambda: manage("migrate", "x"),
        lambda: manage("migrate", "0"),
        lambda: manage("migrate", "x", "--traceback"),
        lambda: manage("--traceback", "migrate", "0"),
    )
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (
        1, "", "CommandError: Cannot find a migration matching 'x'.\n")
    assert (ambiguous.returncode, ambiguous.stdout) == (1, "")
    assert ambiguous.stderr.startswith("CommandError: More than one migration matches '0'"), ambiguous.stderr
    assert len(ambiguous.stderr.splitlines()) == 1, ambiguous.stderr
    for result, message in ((traceback_after, "Cannot find a migration matching 'x'."),
                            (traceback_before, "More than one migration matches '0'")):
        assert result.returncode == 1, result
        assert "Traceback (most recent call last):" in result.stderr, result.stderr
        assert message in result.stderr, result.stderr
    assert revision(sqlite_url) is None
