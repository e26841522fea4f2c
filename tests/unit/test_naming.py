"""manage_migrations.naming: the names makemigrations gives new migrations."""
import re
from datetime import datetime

import pytest

from manage_migrations.naming import file_name, merge_name, next_number, number_of, revision_id, slugify, suggest_name

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
    "revisions, expected",
    [
        ((), 1),
        (("0001_create_table_hotels",), 2),
        (("0004_make_email_unique",), 5),
        (("0004_x", "0007_y"), 8),
        (("0007_y", "0004_x"), 8),
        (("ae1027a6acf5", "0003_c"), 4),
        (("0007_y", "e5f6a1b2c3d4"), 8),  # a teammate's `alembic revision` after 0007: still 0008
        (("ae1027a6acf5",), 2),
        # Four hex ids (an existing Alembic project): Django's numbering goes on at 0005.
        (("4f2a9c1e7b30", "8d13b6e0a5c2", "c7e5f0a2d914", "2b9d4e6f1a87"), 5),
    ],
)
def test_next_number(revisions, expected):
    assert next_number(revisions) == expected


@pytest.mark.parametrize("template, expected", [
    ("%(rev)s", "0005_users_phone.py"),
    ("%(rev)s_%(slug)s", "0005_users_phone.py"),
    ("%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s", "2026_12_06_1930-0005_users_phone.py"),
    ("%(epoch)s_%(rev)s", f"{int(datetime(2026, 12, 6, 19, 30).timestamp())}_0005_users_phone.py"),
])
def test_file_name_follows_the_alembic_file_template(template, expected):
    assert file_name(template, "0005_users_phone", datetime(2026, 12, 6, 19, 30)) == expected


# suggest_name: Django's Migration.suggest_name over the operations' fragments


def test_an_apps_first_migration_is_initial():
    assert suggest_name(["hotels", "rooms"], initial=True, now=NOW) == "initial"


def test_one_operation_names_the_migration():
    assert suggest_name(["users_phone"], now=NOW) == "users_phone"
    assert suggest_name(["alter_rooms_number"], now=NOW) == "alter_rooms_number"


def test_fragments_are_joined_in_order():
    assert suggest_name(["users_nickname", "users_phone"], now=NOW) == "users_nickname_users_phone"


def test_past_52_characters_the_rest_is_and_more():
    fragments = ["alter_hotels_name", "alter_hotels_city", "alter_rooms_number", "alter_rooms_beds"]
    assert suggest_name(fragments, now=NOW) == "alter_hotels_name_alter_hotels_city_and_more"
    joined = "alter_hotels_name_alter_hotels_city_alter_rooms_numb"  # exactly 52: it still fits
    assert suggest_name(["alter_hotels_name", "alter_hotels_city", "alter_rooms_numb"], now=NOW) == joined


def test_an_operation_with_no_fragment_makes_it_auto():
    assert suggest_name(["users_phone", None], now=NOW) == "auto_20240305_0709"
    assert suggest_name([], now=NOW) == "auto_20240305_0709"


def test_an_operation_covered_by_another_does_not_count():
    """The index of a table created in the same migration: Django's CreateModel covers it."""
    assert suggest_name(["bookings", "", ""], now=NOW) == "bookings"


def test_fragments_are_slugified():
    assert suggest_name(["Users_Phone-Number"], now=NOW) == "users_phone_number"


def test_auto_names_default_to_the_current_time():
    assert re.fullmatch(r"auto_\d{8}_\d{4}", suggest_name([]))


# merge_name: Django's merge name, the heads' full names sorted


def test_merge_name_joins_the_sorted_heads():
    assert merge_name(("0015_add_rating", "0015_add_phone"), now=NOW) == "merge_0015_add_phone_0015_add_rating"


def test_merge_name_past_47_characters_is_a_timestamp():
    heads = ("0015_add_a_long_column_name", "0015_add_another_long_column")
    assert merge_name(heads, now=NOW) == "merge_20240305_0709"


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


def test_revision_id_keeps_djangos_long_names_whole():
    """The version table is widened to hold them (recorder.ensure_version_table)."""
    name = "alter_hotels_name_alter_hotels_city_and_more"
    assert revision_id(16, name) == f"0016_{name}"
