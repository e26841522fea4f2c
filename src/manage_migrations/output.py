"""Every line the commands print, worded as Django words it.

Commands and the Alembic glue call a ``Console``; nothing else prints. Verbosity follows
Django: 0 prints nothing on success, 1 is the default, 2 adds timings.
"""
import os
import sys
import threading
from collections.abc import Collection
from pathlib import Path

import click

APP_LABEL = "migrations"
SYMBOLS = {"Create": "+", "Add": "+", "Drop": "-", "Remove": "-", "Alter": "~", "Rename": "~"}


def color_choice() -> bool | None:
    """Django's colours: None lets Click decide (the context's colour, which ``--force-color`` and
    ``--no-color`` set, else only on a terminal); NO_COLOR turns them off unless forced."""
    context = click.get_current_context(silent=True)
    if (context is None or context.color is None) and os.environ.get("NO_COLOR"):
        return False
    return None


class CommandError(click.ClickException):
    """An expected failure: one line on stderr and exit status 1, as Django's CommandError."""

    def show(self, file=None):
        click.echo(click.style(f"CommandError: {self.format_message()}", fg="red"), file=file, err=True,
                   color=color_choice())


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM (a container stopping): the command stops, its open
    transaction rolled back and its locks released, and says where the database stands."""

    received: int | None = None  # the signal, once one arrived: a wait callback may swallow the exception

    def __init__(self, signum: int, message: str = "Interrupted.", running: tuple[str, bool] | None = None):
        super().__init__(message)
        self.signum, self.message, self.running = signum, message, running  # running: (revision, forward)


class Console:
    def __init__(self, verbosity: int = 1, scriptable: bool = False):
        self.verbosity = verbosity
        self.color = color_choice()
        self.scriptable = scriptable  # makemigrations --scriptable: stdout has the new files' paths alone
        self.ticker: Ticker | None = None  # a running migration's time so far, on a terminal

    def line(self, text: str = "", level: int = 1, nl: bool = True) -> None:
        if self.ticker is not None:  # whatever is said next ends the running migration's tick
            self.ticker.stop()
            self.ticker = None
        if self.verbosity >= level:
            click.echo(text, nl=nl, color=self.color, err=self.scriptable)

    def success(self, text: str) -> str:
        return click.style(text, fg="green", bold=True)

    # migrate and fake

    def operations(self, state: tuple[str, ...], everything: bool, apps: str) -> None:
        """Django's header: what the run will do, before anything is done."""
        self.line(click.style("Operations to perform:", bold=True))
        if everything:
            self.line(f"  Apply all migrations: {apps}")
        elif not state:
            self.line(f"  Unapply all migrations: {apps}")
        else:
            self.line(f"  Target specific migration: {', '.join(state)}, from {apps}")
        self.line(click.style("Running migrations:", bold=True))

    def nothing_to_apply(self) -> None:
        self.line("  No migrations to apply.")

    def warning(self, text: str) -> None:
        """What the run goes on despite, on stderr, out of what a script reads from stdout."""
        if self.verbosity >= 1:
            click.echo(click.style(f"Warning: {text}", fg="yellow"), err=True, color=self.color)

    def step_started(self, name: str, forward: bool) -> None:
        # At -v 3 the step's SQL follows on lines of its own.
        started = f"  {'Applying' if forward else 'Unapplying'} {name}..."
        self.line(started, nl=self.verbosity >= 3)
        if self.verbosity in (1, 2) and not self.scriptable and sys.stdout.isatty():
            self.ticker = Ticker(started)

    def step_finished(self, fake: bool, seconds: float) -> None:
        timing = f" ({seconds:.3f}s)" if self.verbosity >= 2 else ""
        indent = "   " if self.verbosity >= 3 else ""
        self.line(indent + self.success(" FAKED" if fake else " OK") + timing)

    def sql(self, statement: str) -> None:
        self.line("\n".join(f"    {line}" for line in statement.strip().splitlines()), level=3)

    def planned(self, steps: list[tuple[str, bool, list[tuple[str, bool, list[str]]]]],
                record_now: dict | None = None, record_after: dict | None = None) -> None:
        """``migrate --plan``: each step's operations, those that destroy data marked, and those
        lintmigrations finds (an operation's third item: the rules it breaks). The answer
        the option exists to give, so printed at every verbosity, as Django's. A squashed
        migration is recorded in place of the last it replaces now, or after that one's step
        ({last: squashed})."""
        self.line(click.style("Planned operations:", bold=True), level=0)
        for last, squashed in (record_now or {}).items():
            self.line(f"  Record {squashed} in place of {last}", level=0)
        for name, forward, operations in steps:
            self.line(f"  {'Apply' if forward else 'Unapply'} {name}", level=0)
            for phrase, destroys, rules in operations:
                mark = click.style("  [destroys data]", fg="red", bold=True) if destroys else ""
                mark += "".join(click.style(f"  [{rule}]", fg="yellow") for rule in rules)
                self.line(f"    {phrase}{mark}", level=0)
            if forward and name in (record_after or {}):
                self.line(f"  Record {record_after[name]} in place of {name}", level=0)
        if not steps and not record_now:
            self.line("  No planned migration operations.", level=0)

    # showmigrations: each list in one write, not one flush per migration, at every verbosity

    def migration_list(self, groups: list[tuple[str, list[str]]], applied: set[str], dates: dict,
                       unfinished: set[str] = frozenset(), squashed: dict | None = None,
                       changed: Collection[str] = frozenset()) -> None:
        """Each app's migrations under its label, as Django lists them; a squashed migration
        with the number it replaces; an applied one whose file was edited since, marked."""
        lines = []
        for app, names in groups:
            lines.append(click.style(app, bold=True))
            for name in names:
                when = f" (applied at {dates[name]:%Y-%m-%d %H:%M:%S})" if self.verbosity >= 2 and name in applied and name in dates else ""
                if name in unfinished:
                    lines.append(f" [!] {name} (started, not finished)")
                else:
                    replaces = f" ({squashed[name]} squashed migrations)" if name in (squashed or {}) else ""
                    lines.append(f" [{'X' if name in applied else ' '}] {name}{replaces}{when}{edited(name, changed)}")
            if not names:
                lines.append(" (no migrations)")
        self.line("\n".join(lines), level=0)

    def migration_plan(self, names: list[str], parents: dict, applied: set[str],
                       changed: Collection[str] = frozenset()) -> None:
        rows = []
        for name in names:  # what each needs, at -v 2 as in Django
            after = f" ... ({', '.join(parents[name])})" if parents[name] and self.verbosity >= 2 else ""
            rows.append(f"[{'X' if name in applied else ' '}]  {name}{after}{edited(name, changed)}")
        self.line("\n".join(rows or ["(no migrations)"]), level=0)

    # makemigrations

    def no_changes(self, app: str | None = None) -> None:
        self.line(f"No changes detected in app '{app}'" if app else "No changes detected")

    def unwritten(self, difference: str) -> None:
        """A difference the comparison saw and makemigrations does not write, in Alembic's words."""
        if self.verbosity >= 1:
            click.echo(f"Not written by makemigrations: {difference}", err=True, color=self.color)

    def full_file(self, name: str, text: str) -> None:
        """Django's ``makemigrations --dry-run -v 3``: the file that would be written."""
        self.line(click.style(f"Full migrations file '{name}':", bold=True), level=3)
        self.line(text, level=3)

    def new_migration(self, path: str, changes: list[str], app: str) -> None:
        self.line(click.style(f"Migrations for '{app}':", bold=True))
        self.line(f"  {click.style(path, bold=True)}")
        self.changes(changes)
        self.path(path)

    def changes(self, phrases: list[str]) -> None:
        """Django's ``formatted_description``: ``+ Add column phone to users``, in makemigrations
        and in a merge alike."""
        for phrase in phrases:
            self.line(f"    {SYMBOLS.get(phrase.split()[0], '*')} {phrase}")

    def path(self, path: str) -> None:
        """With --scriptable, each new file's path is all that goes to stdout."""
        if self.scriptable:
            click.echo(path)

    # lintmigrations

    def lint_findings(self, findings: list) -> None:
        """What lintmigrations finds in a migration makemigrations just wrote, under its changes:
        on a terminal, for the developer who wrote it (as migrate's notice of model changes);
        scripts and CI run lintmigrations, whose exit status is the gate."""
        if not sys.stdout.isatty():
            return
        for finding in findings:
            self.line(click.style(f"  Warning: {finding}", fg="yellow"))


def edited(name: str, changed: Collection[str]) -> str:
    """showmigrations' mark of an applied migration whose file changed since it ran (checksums)."""
    return click.style(" (changed since applied)", fg="yellow", bold=True) if name in changed else ""


def display_path(path: Path) -> str:
    """Relative to the current folder when inside it, as Django prints new migration files."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


class Ticker:
    """On a terminal, a migration that runs past a couple of seconds shows that it is still
    running: its line, rewritten each second with the time so far ("Applying 0005_x... 12 s").
    ``stop`` puts the line back as it was, for " OK" to follow."""

    AFTER = 2  # seconds before the first tick: most migrations are done by then

    def __init__(self, line: str):
        self.line, self.done, self.shown = line, threading.Event(), ""
        self.thread = threading.Thread(target=self.tick, name="progress", daemon=True)
        self.thread.start()

    def tick(self) -> None:
        seconds = self.AFTER
        if self.done.wait(seconds):
            return
        while True:
            self.shown = f" {seconds} s"
            click.echo(f"\r{self.line}{self.shown}", nl=False)
            if self.done.wait(1):
                return
            seconds += 1

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        if self.shown:
            click.echo(f"\r{self.line}{' ' * len(self.shown)}\r{self.line}", nl=False)
