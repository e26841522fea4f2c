"""manage_migrations.questioner: Django's makemigrations questions, answered on standard input.

Each test runs the questioner inside ``CliRunner().isolation(input=...)``, which puts the given
text on ``sys.stdin`` and collects what ``click.echo`` prints; nothing touches the real terminal,
os.environ or the working directory."""
import datetime
import sys
from decimal import Decimal

import click
import pytest
from click.testing import CliRunner

from manage_migrations.questioner import NOT_PROVIDED, Questioner, Quit

ADDITION_MENU = (
    "It is impossible to add a non-nullable column 'nickname' to users without specifying a default. "
    "This is because the database needs something to populate existing rows.\n"
    "Please select a fix:\n"
    " 1) Provide a one-off default now (will be set on all existing rows with a null value for this column)\n"
    " 2) Quit and manually define a default value in the models.\n"
    "Select an option: "
)
DEFAULT_PROMPT = (
    "Please enter the default value as valid Python.\n"
    "The datetime and decimal modules are available, so it is possible to provide e.g. "
    "datetime.date.today() as a value.\n"
    "Type 'exit' to exit this prompt\n"
    ">>> "
)
NOT_MIGRATED = ("Column 'nickname' on table 'users' not migrated: it is impossible to add a non-nullable "
                "column without specifying a default.\n")
NOT_PROVIDED_LINE = "Column 'phone' on table 'users' given a default of NOT PROVIDED and must be corrected.\n"


class Asked:
    """What one question gave: its answer or the exception it raised, what it printed, and the input left."""

    def __init__(self, result, error, output, rest):
        self.result, self.error, self.output, self.rest = result, error, output, rest


def ask(questioner: Questioner, method: str, *args, input: str = "") -> Asked:
    result = error = None
    with CliRunner().isolation(input=input) as (stdout, _stderr, _mixed):
        try:
            result = getattr(questioner, method)(*args)
        except click.exceptions.Exit as exc:
            error = exc
        rest = sys.stdin.read()
        sys.stdout.flush()
        output = stdout.getvalue().decode()
    return Asked(result, error, output, rest)


def rename(input: str, questioner: Questioner | None = None) -> Asked:
    return ask(questioner or Questioner(), "ask_rename", "users", "full_name", "display_name", "VARCHAR(200)",
               input=input)


# ask_rename and ask_rename_table


@pytest.mark.parametrize("answer, expected", [
    ("y", True), ("Y", True), ("yes", True), ("Yes please", True),
    ("n", False), ("N", False), ("no", False), ("", False),
])
def test_ask_rename_answers(answer, expected):
    asked = rename(f"{answer}\nleft over\n")
    assert asked.result is expected
    assert asked.output == "Was users.full_name renamed to users.display_name (a VARCHAR(200))? [y/N] "
    assert asked.rest == "left over\n"  # exactly one line was read


def test_ask_rename_table_asks_djangos_question():
    asked = ask(Questioner(), "ask_rename_table", "users", "accounts", input="y\n")
    assert asked.result is True
    assert asked.output == "Was the table users renamed to accounts? [y/N] "


def test_an_answer_that_is_not_yes_or_no_is_asked_again():
    asked = rename("maybe\n?\nyes\n")
    assert asked.result is True
    assert asked.output == ("Was users.full_name renamed to users.display_name (a VARCHAR(200))? [y/N] "
                            "Please answer yes or no: Please answer yes or no: ")
    assert asked.rest == ""


def test_a_windows_line_ending_is_not_part_of_the_answer():
    assert rename("y\r\n").result is True


def test_the_end_of_input_answers_no_and_stops_asking():
    questioner = Questioner()
    first = rename("", questioner)
    assert first.result is False
    assert first.output == "Was users.full_name renamed to users.display_name (a VARCHAR(200))? [y/N] \n"
    assert questioner.interactive is False

    second = rename("y\n", questioner)  # from now on Django's non-interactive answers: nothing is read
    assert second.result is False
    assert second.output == ""
    assert second.rest == "y\n"


def test_the_end_of_input_after_a_wrong_answer_is_no():
    questioner = Questioner()
    asked = rename("maybe\n", questioner)
    assert asked.result is False
    assert asked.output.endswith("Please answer yes or no: \n")
    assert questioner.interactive is False


def test_non_interactive_assumes_no_rename_without_asking():
    asked = rename("y\n", Questioner(interactive=False))
    assert asked.result is False
    assert asked.output == ""
    assert asked.rest == "y\n"


def test_a_dry_run_still_asks_about_renames():
    assert rename("y\n", Questioner(dry_run=True)).result is True


# ask_not_null_addition


def addition(input: str, questioner: Questioner | None = None) -> Asked:
    return ask(questioner or Questioner(), "ask_not_null_addition", "nickname", "users", input=input)


@pytest.mark.parametrize("code, value", [
    ("'anon'", "anon"),
    ("0", 0),
    ("datetime.date(2026, 1, 1)", datetime.date(2026, 1, 1)),
    ("Decimal('1.5')", Decimal("1.5")),
    ("decimal.Decimal('9.50')", Decimal("9.50")),
    ("  'padded'", "padded"),
], ids=["string", "zero", "date", "Decimal", "decimal-module", "leading-space"])
def test_a_one_off_default_is_a_python_expression(code, value):
    asked = addition(f"1\n{code}\n")
    assert asked.error is None
    assert asked.result == value and type(asked.result) is type(value)
    assert asked.output == ADDITION_MENU + DEFAULT_PROMPT


def test_a_callable_is_called_for_its_value():
    asked = addition("1\ndatetime.date.today\n")
    assert isinstance(asked.result, datetime.date)


def test_an_invalid_expression_prints_the_error_and_asks_again():
    asked = addition("1\nnickname\n1 +\n'anon'\n")
    assert asked.result == "anon"
    lines = asked.output[len(ADDITION_MENU + DEFAULT_PROMPT):].split("\n")
    assert lines[0] == "NameError: name 'nickname' is not defined"
    assert lines[1].startswith(">>> SyntaxError: ")
    assert lines[2] == ">>> "


def test_an_empty_expression_asks_again():
    asked = addition("1\n\n7\n")
    assert asked.result == 7
    assert asked.output.endswith(">>> Please enter some code, or 'exit' (without quotes) to exit.\n>>> ")


def test_exit_at_the_default_prompt_exits_with_status_1():
    asked = addition("1\nexit\n'never read'\n")
    assert asked.result is None
    assert type(asked.error) is click.exceptions.Exit and asked.error.exit_code == 1
    assert asked.rest == "'never read'\n"


def test_the_end_of_input_at_the_default_prompt_stops_with_an_error_status():
    asked = addition("1\n")
    assert asked.result is None
    assert isinstance(asked.error, click.exceptions.Exit) and asked.error.exit_code != 0


def test_choice_2_quits_with_status_3():
    asked = addition("2\n")
    assert isinstance(asked.error, Quit) and asked.error.exit_code == 3
    assert asked.output == ADDITION_MENU


def test_quit_is_a_click_exit_with_status_3():
    assert isinstance(Quit(), click.exceptions.Exit)
    assert Quit().exit_code == 3


@pytest.mark.parametrize("wrong", ["0", "3", "x", "-1", "1.0"])
def test_a_choice_not_on_the_menu_is_asked_again(wrong):
    asked = addition(f"{wrong}\n1\n'anon'\n")
    assert asked.result == "anon"
    assert asked.output.startswith(ADDITION_MENU + "Please select a valid option: " + DEFAULT_PROMPT)


def test_a_digit_that_is_not_a_number_is_asked_again():
    """``'²'.isdigit()`` is true but ``int('²')`` fails: Django's ``int()`` in a try asks again."""
    asked = addition("²\n1\n'anon'\n")
    assert asked.result == "anon"


def test_a_choice_with_spaces_around_it_is_taken():
    assert addition(" 1 \n'anon'\n").result == "anon"


def test_the_end_of_input_at_the_menu_gives_the_non_interactive_answer():
    questioner = Questioner()
    asked = addition("", questioner)
    assert isinstance(asked.error, Quit) and asked.error.exit_code == 3
    assert asked.output == ADDITION_MENU + "\n" + NOT_MIGRATED
    assert questioner.interactive is False


def test_non_interactive_addition_prints_djangos_line_and_quits():
    asked = addition("1\n'anon'\n", Questioner(interactive=False))
    assert isinstance(asked.error, Quit) and asked.error.exit_code == 3
    assert asked.output == NOT_MIGRATED
    assert asked.rest == "1\n'anon'\n"


def test_non_interactive_addition_at_verbosity_0_quits_silently():
    asked = addition("", Questioner(interactive=False, verbosity=0))
    assert isinstance(asked.error, Quit)
    assert asked.output == ""


def test_a_dry_run_asks_no_value_for_an_addition():
    asked = addition("1\n'anon'\n", Questioner(interactive=True, dry_run=True))
    assert asked.result is None and asked.error is None
    assert asked.output == ""
    assert asked.rest == "1\n'anon'\n"


def test_a_non_interactive_dry_run_still_quits():
    asked = addition("", Questioner(interactive=False, dry_run=True))
    assert isinstance(asked.error, Quit)
    assert asked.output == NOT_MIGRATED


# ask_not_null_alteration


ALTERATION_MENU = (
    "It is impossible to change a nullable column 'phone' on users to non-nullable without providing a default. "
    "This is because the database needs something to populate existing rows.\n"
    "Please select a fix:\n"
    " 1) Provide a one-off default now (will be set on all existing rows with a null value for this column)\n"
    " 2) Ignore for now. Existing rows that contain NULL values will have to be handled manually, "
    "for example with an op.execute() in this or an earlier migration.\n"
    " 3) Quit and manually define a default value in the models.\n"
    "Select an option: "
)


def alteration(input: str, questioner: Questioner | None = None) -> Asked:
    return ask(questioner or Questioner(), "ask_not_null_alteration", "phone", "users", input=input)


def test_alteration_choice_1_asks_for_a_value():
    asked = alteration("1\n'unknown'\n")
    assert asked.result == "unknown"
    assert asked.output == ALTERATION_MENU + DEFAULT_PROMPT


def test_alteration_choice_2_is_not_provided():
    asked = alteration("2\n")
    assert asked.result is NOT_PROVIDED and asked.error is None
    assert asked.output == ALTERATION_MENU


def test_alteration_choice_3_quits_with_status_3():
    asked = alteration("3\n")
    assert isinstance(asked.error, Quit) and asked.error.exit_code == 3
    assert asked.output == ALTERATION_MENU


def test_alteration_choice_4_is_asked_again():
    asked = alteration("4\n2\n")
    assert asked.result is NOT_PROVIDED
    assert asked.output == ALTERATION_MENU + "Please select a valid option: "


def test_non_interactive_alteration_prints_djangos_line_and_gives_not_provided():
    asked = alteration("1\n", Questioner(interactive=False))
    assert asked.result is NOT_PROVIDED and asked.error is None
    assert asked.output == NOT_PROVIDED_LINE
    assert asked.rest == "1\n"


def test_non_interactive_alteration_at_verbosity_0_is_silent():
    asked = alteration("", Questioner(interactive=False, verbosity=0))
    assert asked.result is NOT_PROVIDED
    assert asked.output == ""


def test_the_end_of_input_at_the_alteration_menu_gives_the_non_interactive_answer():
    questioner = Questioner()
    asked = alteration("", questioner)
    assert asked.result is NOT_PROVIDED and asked.error is None
    assert asked.output == ALTERATION_MENU + "\n" + NOT_PROVIDED_LINE
    assert questioner.interactive is False


def test_a_dry_run_asks_no_value_for_an_alteration():
    asked = alteration("1\n'x'\n", Questioner(dry_run=True))
    assert asked.result is NOT_PROVIDED
    assert asked.output == ""
    assert asked.rest == "1\n'x'\n"


def test_answers_are_read_in_order_across_questions():
    questioner = Questioner()
    with CliRunner().isolation(input="n\ny\n1\n'anon'\n2\n"):
        answers = [questioner.ask_rename("users", "a", "b", "INTEGER"),
                   questioner.ask_rename_table("users", "accounts"),
                   questioner.ask_not_null_addition("nickname", "users"),
                   questioner.ask_not_null_alteration("phone", "users")]
    assert answers == [False, True, "anon", NOT_PROVIDED]
