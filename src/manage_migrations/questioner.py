"""The questions ``makemigrations`` asks when the models alone cannot say what was meant, worded
and answered as Django's ``InteractiveMigrationQuestioner`` and ``NonInteractiveMigrationQuestioner``.

Answers are read from standard input line by line, so ``printf 'y\\n' | python manage.py
makemigrations`` works. With ``--noinput``, or once the input has ended, each question gets
the answer Django's non-interactive questioner gives: no rename, and no migration for a NOT
NULL column that has no default (``Quit``, exit status 3).
"""
import datetime
import decimal
import sys

import click

NOT_PROVIDED = object()  # "Ignore for now": change the column to NOT NULL with no fill
ONE_OFF_DEFAULT = "Provide a one-off default now (will be set on all existing rows with a null value for this column)"
QUIT = "Quit and manually define a default value in the models."


class Quit(click.exceptions.Exit):
    """Django's ``sys.exit(3)``: makemigrations stops and writes nothing."""

    def __init__(self):
        super().__init__(3)


class Questioner:
    def __init__(self, interactive: bool = True, dry_run: bool = False, verbosity: int = 1, err: bool = False):
        self.interactive = interactive
        self.err = err  # makemigrations --scriptable: questions on stderr, stdout kept for the paths
        self.dry_run = dry_run  # as in Django, --dry-run and --check ask no default values
        self.verbosity = verbosity

    # What to ask

    def ask_rename(self, table: str, old: str, new: str, type_name: str) -> bool:
        """Was this column renamed?"""
        return self._boolean(f"Was {table}.{old} renamed to {table}.{new} (a {type_name})? [y/N]")

    def ask_rename_table(self, old: str, new: str) -> bool:
        """Was this table renamed?"""
        return self._boolean(f"Was the table {old} renamed to {new}? [y/N]")

    def ask_proceed(self) -> bool:
        """squashmigrations' question; no once the input has ended."""
        return self._boolean("Do you wish to proceed? [y/N]")

    def ask_not_null_addition(self, column: str, table: str):
        """A NOT NULL column added to a table that may have rows: the value for those rows."""
        if self.interactive and not self.dry_run:
            choice = self._choice(
                f"It is impossible to add a non-nullable column '{column}' to {table} without "
                "specifying a default. This is because the database needs something to populate "
                "existing rows.\nPlease select a fix:",
                [ONE_OFF_DEFAULT, QUIT],
            )
            if choice == 2:
                raise Quit()
            value = self._ask_default() if choice == 1 else None
            if value is not None:
                return value
        if self.interactive and self.dry_run:
            return None
        self._log(f"Column '{column}' on table '{table}' not migrated: it is impossible to add a "
                  "non-nullable column without specifying a default.")
        raise Quit()

    def ask_not_null_alteration(self, column: str, table: str):
        """A nullable column made NOT NULL: the value for rows that hold NULL, or NOT_PROVIDED."""
        if self.interactive and not self.dry_run:
            choice = self._choice(
                f"It is impossible to change a nullable column '{column}' on {table} to non-nullable "
                "without providing a default. This is because the database needs something to "
                "populate existing rows.\nPlease select a fix:",
                [ONE_OFF_DEFAULT,
                 "Ignore for now. Existing rows that contain NULL values will have to be handled manually, "
                 "for example with an op.execute() in this or an earlier migration.",
                 QUIT],
            )
            if choice == 3:
                raise Quit()
            if choice == 2:
                return NOT_PROVIDED
            value = self._ask_default() if choice == 1 else None
            if value is not None:
                return value
        if self.interactive and self.dry_run:
            return NOT_PROVIDED
        self._log(f"Column '{column}' on table '{table}' given a default of NOT PROVIDED and must be corrected.")
        return NOT_PROVIDED

    # How to ask: Django's prompts over standard input, None once it has ended

    def _input(self, prompt: str) -> str | None:
        if not self.interactive:
            return None
        self._echo(prompt, nl=False)
        line = sys.stdin.readline()
        if not line:
            self._echo()
            self.interactive = False  # input has ended: Django's non-interactive answers from now on
            return None
        return line.rstrip("\r\n")

    def _boolean(self, question: str) -> bool:
        answer = self._input(f"{question} ")
        while answer is not None and answer and answer[0].lower() not in "yn":
            answer = self._input("Please answer yes or no: ")
        return bool(answer) and answer[0].lower() == "y"

    def _choice(self, question: str, choices: list[str]) -> int | None:
        self._echo(question)
        for number, choice in enumerate(choices, 1):
            self._echo(f" {number}) {choice}")
        answer = self._input("Select an option: ")
        while answer is not None:
            if answer.strip().isdecimal() and 0 < int(answer) <= len(choices):
                return int(answer)
            answer = self._input("Please select a valid option: ")
        return None

    def _ask_default(self):
        self._echo("Please enter the default value as valid Python.")
        self._echo("The datetime and decimal modules are available, so it is possible to provide "
                   "e.g. datetime.date.today() as a value.")
        self._echo("Type 'exit' to exit this prompt")
        while True:
            code = self._input(">>> ")
            if code is None:
                return None  # input has ended: the caller answers as Django's non-interactive questioner
            if code == "exit":
                raise click.exceptions.Exit(1)
            if not code:
                self._echo("Please enter some code, or 'exit' (without quotes) to exit.")
                continue
            try:
                value = eval(code, {}, {"datetime": datetime, "decimal": decimal, "Decimal": decimal.Decimal})
                value = value() if callable(value) else value
            except Exception as exc:
                self._echo(f"{type(exc).__name__}: {exc}")
                continue
            if value is None:
                self._echo("None is no value for a NOT NULL column: enter another, or 'exit' to exit.")
                continue
            return value

    def _log(self, text: str) -> None:
        if self.verbosity > 0:
            self._echo(text)

    def _echo(self, text: str = "", nl: bool = True) -> None:
        click.echo(text, nl=nl, err=self.err)
