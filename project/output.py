"""Every line the commands print, worded as Django words it.

Commands and the Alembic glue call a ``Console``; nothing else prints. Verbosity follows
Django: 0 prints nothing on success, 1 is the default, 2 adds timings.
"""
import os

import click

APP_LABEL = "migrations"
SYMBOLS = {"Create": "+", "Add": "+", "Drop": "-", "Remove": "-", "Alter": "~"}


class CommandError(click.ClickException):
    """An expected failure: one line on stderr and exit status 1, as Django's CommandError."""

    def show(self, file=None):
        click.echo(f"CommandError: {self.format_message()}", file=file, err=True)


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

    def operations(self, state: tuple[str, ...], all_heads: bool) -> None:
        """Django's header: what the run will do, before anything is done."""
        self.line(click.style("Operations to perform:", bold=True))
        if all_heads:
            self.line(f"  Apply all migrations: {APP_LABEL}")
        elif not state:
            self.line(f"  Unapply all migrations: {APP_LABEL}")
        else:
            self.line(f"  Target specific migration: {', '.join(state)}, from {APP_LABEL}")
        self.line(click.style("Running migrations:", bold=True))

    def nothing_to_apply(self) -> None:
        self.line("  No migrations to apply.")

    def step_started(self, name: str, forward: bool) -> None:
        self.line(f"  {'Applying' if forward else 'Unapplying'} {name}...", nl=False)

    def step_finished(self, fake: bool, seconds: float) -> None:
        timing = f" ({seconds:.3f}s)" if self.verbosity >= 2 else ""
        self.line(self.success(" FAKED" if fake else " OK") + timing)

    # showmigrations

    def migration_list(self, names: list[str], applied: set[str]) -> None:
        self.line(click.style(APP_LABEL, bold=True))
        for name in names:
            self.line(f" [{'X' if name in applied else ' '}] {name}")
        if not names:
            self.line(" (no migrations)")

    def migration_plan(self, names: list[str], parents: dict, applied: set[str]) -> None:
        for name in names:
            after = f" ... ({', '.join(parents[name])})" if parents[name] else ""
            self.line(f"[{'X' if name in applied else ' '}]  {name}{after}")
        if not names:
            self.line("(no migrations)")

    # makemigrations

    def no_changes(self) -> None:
        self.line("No changes detected")

    def new_migration(self, path: str, changes: list[str]) -> None:
        self.line(click.style(f"Migrations for '{APP_LABEL}':", bold=True))
        self.line(f"  {click.style(path, bold=True)}")
        for change in changes:
            self.line(f"    {SYMBOLS.get(change.split()[0], '*')} {change}")
