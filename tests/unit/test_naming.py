"""project.naming: the names makemigrations gives new migrations."""
import re
from datetime import datetime

import pytest

from project.naming import MAX_LENGTH, auto_slug, next_number, number_of, revision_id, slugify

NOW = datetime(2024, 3, 5, 7, 9, 41)


# slugify


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Add Phone-Number!", "add_phone_number"),
        ("Create table hotels", "create_table_hotels"),
        ("already_a_slug", "already_a_slug"),
        ("__leading and trailing__", "leading_and_trailing"),
        ("many   spaces -- and ** symbols", "many_spaces_and_symbols"),
        ("Room 42b", "room_42b"),
        ("Café Crème", "caf_cr_me"),
        ("!!!", ""),
        ("___", ""),
        ("", ""),
    ],
)
def test_slugify(text, expected):
    assert slugify(text) == expected


@pytest.mark.parametrize("text", ["Add Phone-Number!", "  ÜBER   größe\t\n", "a__b", "x.y/z\\w", "_-_-_"])
def test_slugify_uses_only_lowercase_letters_digits_and_single_inner_underscores(text):
    slug = slugify(text)
    assert re.fullmatch(r"[a-z0-9_]*", slug)
    assert not slug.startswith("_") and not slug.endswith("_")
    assert "__" not in slug


# number_of


@pytest.mark.parametrize(
    "revision, expected",
    [
        ("0004_x", 4),
        ("0004_make_email_unique", 4),
        ("0001_create_table_hotels", 1),
        ("0120_something", 120),
        ("12345_big", 12345),
        ("ae1027a6acf5", 0),
        ("auto_20240305_0709", 0),
        ("", 0),
    ],
)
def test_number_of(revision, expected):
    assert number_of(revision) == expected


@pytest.mark.parametrize("revision", ["1975ea83b712", "27c6a30d7c24", "3b2f1a9c0d4e"])
def test_number_of_alembic_hex_id_starting_with_digits_is_zero(revision):
    """Alembic's own ids are 12 hex digits; most begin with a decimal digit. Their leading
    digits are not a migration number (the docstring: "0 for an id with none (e.g. Alembic's
    hex)"), or the next migration after ``1975ea83b712`` would be numbered 1976."""
    assert number_of(revision) == 0


# next_number


@pytest.mark.parametrize(
    "heads, expected",
    [
        ((), 1),
        (("0001_create_table_hotels",), 2),
        (("0004_make_email_unique",), 5),
        (("0004_x", "0007_y"), 8),
        (("0007_y", "0004_x"), 8),
        (("ae1027a6acf5",), 1),
        (("ae1027a6acf5", "0003_c"), 4),
    ],
)
def test_next_number(heads, expected):
    assert next_number(heads) == expected


# auto_slug


def test_auto_slug_one_change():
    assert auto_slug(["Create table hotels"], now=NOW) == "create_table_hotels"


def test_auto_slug_several_changes_are_joined():
    assert auto_slug(["Drop table a", "Drop table b"], now=NOW) == "drop_table_a_drop_table_b"


def test_auto_slug_the_indexes_of_a_new_table_do_not_name_it():
    changes = ["Create table bookings", "Create index ix_bookings_room_id on bookings",
               "Create index ix_bookings_user_id on bookings"]
    assert auto_slug(changes, now=NOW) == "create_table_bookings"


def test_auto_slug_new_tables_are_named_together_and_other_indexes_count():
    assert auto_slug(["Create table a", "Create table b"], now=NOW) == "create_table_a_b"
    assert auto_slug(["Create table a", "Drop table b"], now=NOW) == "create_table_a_drop_table_b"
    assert auto_slug(["Create table a", "Create index ix on b"], now=NOW) == "auto_20240305_0709"


def test_auto_slug_without_changes_is_a_timestamp():
    assert auto_slug([], now=NOW) == "auto_20240305_0709"


def test_auto_slug_too_long_is_a_timestamp():
    changes = ["Create table hotels", "Create table rooms", "Add column phone to users"]
    assert auto_slug(changes, now=NOW) == "auto_20240305_0709"


def test_auto_slug_longest_that_fits_and_one_more():
    longest = "a" * (MAX_LENGTH - len("0005_"))  # 27: "0005_" + slug is exactly 32
    assert auto_slug([longest], now=NOW) == longest
    assert auto_slug([longest + "b"], now=NOW) == "auto_20240305_0709"


def test_auto_slug_defaults_to_the_current_time():
    assert re.fullmatch(r"auto_\d{8}_\d{4}", auto_slug([]))


# revision_id


@pytest.mark.parametrize(
    "number, slug, expected",
    [
        (1, "create_table_hotels", "0001_create_table_hotels"),
        (5, "add_phone", "0005_add_phone"),
        (42, "x", "0042_x"),
        (12345, "big", "12345_big"),
        (5, "auto_20240305_0709", "0005_auto_20240305_0709"),
    ],
)
def test_revision_id_is_zero_padded(number, slug, expected):
    assert revision_id(number, slug) == expected


def test_revision_id_is_cut_to_the_version_table():
    assert revision_id(5, "x" * 100) == "0005_" + "x" * 27
    assert len(revision_id(5, "x" * 100)) == MAX_LENGTH == 32


def test_revision_id_has_no_trailing_underscore_after_the_cut():
    slug = "a" * 26 + "_bbbb"  # the cut at 32 falls just after this underscore
    assert revision_id(5, slug) == "0005_" + "a" * 26


@pytest.mark.parametrize("number", [1, 99, 9999, 123456])
@pytest.mark.parametrize("length", range(0, 60, 3))
def test_revision_id_always_fits_and_never_ends_in_underscore(number, length):
    slug = "_".join(["ab"] * 30)[:length].strip("_")
    rev = revision_id(number, slug)
    assert len(rev) <= MAX_LENGTH
    assert not rev.endswith("_")
    assert rev.startswith(f"{number:04d}")
