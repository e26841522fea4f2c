"""A migration that runs past a couple of seconds shows, on a terminal, that it is still running;
with output to a file or a pipe, nothing is added. Through ``python manage.py`` on a pseudo-terminal."""
from migration_file import write_migration

SLOW = "import time\n            time.sleep(3.6)"


def test_a_long_migration_shows_its_time_on_a_terminal_and_nothing_in_a_pipe(project_copy, run_manage, sqlite_url,
                                                                             on_a_terminal):
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).returncode == 0
    write_migration(project_copy, "0005_slow", "0004_make_email_unique", SLOW)

    status, shown, _ = on_a_terminal(project_copy, "migrate", "--no-color", database_url=sqlite_url)

    assert status == 0, shown
    assert "\r  Applying 0005_slow... 2 s\r  Applying 0005_slow... 3 s" in shown
    # The line ends as it would have without the ticks: the count cleared, then " OK".
    assert shown.endswith("\r  Applying 0005_slow...    \r  Applying 0005_slow... OK\n"), repr(shown[-200:])

    piped = run_manage(project_copy, "migrate", "zero", database_url=sqlite_url)
    assert piped.returncode == 0 and "\r" not in piped.stdout
    assert run_manage(project_copy, "migrate", database_url=sqlite_url).stdout.splitlines()[-1] == (
        "  Applying 0005_slow... OK")
