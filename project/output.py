"""Every line the commands print, worded as Django words it.

Commands and the Alembic glue call a ``Console``; nothing else prints. Verbosity follows
Django: 0 prints nothing on success, 1 is the default, 2 adds timings.
"""
import os

import click

APP_LABEL = "migrations"
SYMBOLS = {"Create": "+", "Add": "+", "Drop": "-", "Remove": "-", "Alter": "~", "Rename": "~"}


class CommandError(click.ClickException):
    """An expected failure: one line on stderr and exit status 1, as Django's CommandError."""

    def show(self, file=None):
        color = False if os.environ.get("NO_COLOR") else None
        click.echo(click.style(f"CommandError: {self.format_message()}", fg="red"), file=file, err=True, color=color)


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM (a container stopping): the command stops, its open
    transaction rolled back and its locks released, and says where the database stands."""

    received: int | None = None  # the signal, once one arrived: a wait callback may swallow the exception

    def __init__(self, signum: int, message: str = "Interrupted.", running: tuple[str, bool] | None = None):
        super().__init__(message)
        self.signum, self.message, self.running = signum, message, running  # running: (revision, forward)


class Console:
    def __init__(self, verbosity: int = 1):
        self.verbosity = verbosity
        self.color = False if os.environ.get("NO_COLOR") else None

    def line(self, text: str = "", level: int = 1, nl: bool = True) -> None:
        if self.verbosity >= level:
            click.echo(text, nl=nl, color=self.color)

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

    def step_started(self, name: str, forward: bool) -> None:
        # At -v 3 the step's SQL follows on lines of its own.
        self.line(f"  {'Applying' if forward else 'Unapplying'} {name}...", nl=self.verbosity >= 3)

    def step_finished(self, fake: bool, seconds: float) -> None:
        timing = f" ({seconds:.3f}s)" if self.verbosity >= 2 else ""
        indent = "   " if self.verbosity >= 3 else ""
        self.line(indent + self.success(" FAKED" if fake else " OK") + timing)

    def sql(self, statement: str) -> None:
        self.line("\n".join(f"    {line}" for line in statement.strip().splitlines()), level=3)

    def planned(self, steps: list[tuple[str, bool, list[tuple[str, bool]]]]) -> None:
        """``migrate --plan``: each step's operations, those that destroy data marked."""
        self.line(click.style("Planned operations:", bold=True))
        for name, forward, operations in steps:
            self.line(f"  {'Apply' if forward else 'Unapply'} {name}")
            for phrase, destroys in operations:
                mark = click.style("  [destroys data]", fg="red", bold=True) if destroys else ""
                self.line(f"    {phrase}{mark}")
        if not steps:
            self.line("  No planned migration operations.")

    # showmigrations: each list in one write, not one flush per migration

    def migration_list(self, groups: list[tuple[str, list[str]]], applied: set[str], dates: dict,
                       unfinished: set[str] = frozenset()) -> None:
        """Each app's migrations under its label, as Django lists them."""
        lines = []
        for app, names in groups:
            lines.append(click.style(app, bold=True))
            for name in names:
                when = f" (applied at {dates[name]:%Y-%m-%d %H:%M:%S})" if self.verbosity >= 2 and name in applied and name in dates else ""
                if name in unfinished:
                    lines.append(f" [!] {name} (started, not finished)")
                else:
                    lines.append(f" [{'X' if name in applied else ' '}] {name}{when}")
            if not names:
                lines.append(" (no migrations)")
        self.line("\n".join(lines))

    def migration_plan(self, names: list[str], parents: dict, applied: set[str]) -> None:
        rows = []
        for name in names:
            after = f" ... ({', '.join(parents[name])})" if parents[name] else ""
            rows.append(f"[{'X' if name in applied else ' '}]  {name}{after}")
        self.line("\n".join(rows or ["(no migrations)"]))

    # makemigrations

    def no_changes(self) -> None:
        self.line("No changes detected")

    def full_file(self, name: str, text: str) -> None:
        """Django's ``makemigrations --dry-run -v 3``: the file that would be written."""
        self.line(click.style(f"Full migrations file '{name}':", bold=True), level=3)
        self.line(text, level=3)

    def new_migration(self, path: str, changes: list[str], app: str = APP_LABEL) -> None:
        self.line(click.style(f"Migrations for '{app}':", bold=True))
        self.line(f"  {click.style(path, bold=True)}")
        for change in changes:
            self.line(f"    {SYMBOLS.get(change.split()[0], '*')} {change}")
