"""Names of new migrations, built as Django builds them: ``0006_users_nickname_users_phone``.

Each operation gives a fragment (Django's ``migration_name_fragment``, built by
``autodetector.phrase_and_fragment``): ``users_phone`` for a column added, ``alter_rooms_number``,
``delete_bookings``, the table's name for a table created. ``suggest_name`` joins them as
Django's ``Migration.suggest_name`` does.

The name is also the Alembic revision id. Django's names can be longer than the 32 characters
Alembic gives ``alembic_version.version_num``, so the version table is made (or widened) to
hold 255: see ``database.ensure_version_table``.
"""
import re
from datetime import datetime
from pathlib import Path

MAX_NAME = 52  # Django: past this, the rest of the fragments become "_and_more"
MAX_MERGE_NAMES = 47  # Django: past this, a merge is named by its timestamp


def slugify(text: str) -> str:
    """Lower case ``[a-z0-9_]``, runs of anything else folded into one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def number_of(revision: str) -> int:
    """The leading number of ``0004_make_email_unique``; 0 for an id with none (e.g. Alembic's hex)."""
    digits = re.match(r"(\d+)_", revision)
    return int(digits.group(1)) if digits else 0


def next_number(revisions) -> int:
    """Django's: one past the highest number among ``revisions`` (an app's), whatever ids sit
    between. An app none of whose ids has a number (an Alembic project's hex ids) goes on one
    past their count: 0005 after four."""
    numbers = [number_of(revision) for revision in revisions]
    return max(numbers) + 1 if any(numbers) else len(numbers) + 1


def file_name(template: str, revision: str, now: datetime | None = None) -> str:
    """A new migration's file name from the project's Alembic ``file_template``. Our revision
    ids are Django's names (``0005_users_phone``), which carry the slug already: ``%(slug)s``
    is that part, written once, so Alembic's default ``%(rev)s_%(slug)s`` gives
    ``0005_users_phone.py`` and a dated template ``2026_12_06_1930-0005_users_phone.py``."""
    now = now or datetime.now()
    try:
        name = template % {"rev": revision, "slug": "", "epoch": int(now.timestamp()), "year": now.year,
                           "month": now.month, "day": now.day, "hour": now.hour, "minute": now.minute,
                           "second": now.second}
    except (KeyError, ValueError, TypeError) as exc:
        from manage_migrations.output import CommandError

        raise CommandError(f"The Alembic file_template {template!r} cannot name a migration: {exc!r}.") from None
    return re.sub(r"[-_. ]+$", "", name) + ".py"


def timestamp(now: datetime | None = None) -> str:
    """Django's ``get_migration_name_timestamp``."""
    return (now or datetime.now()).strftime("%Y%m%d_%H%M")


def suggest_name(fragments: list[str | None], initial: bool = False, now: datetime | None = None) -> str:
    """Django's ``Migration.suggest_name``: ``initial`` for an app's first migration, the
    operations' fragments joined while they fit, ``auto_<timestamp>`` when any operation has
    none (None: such as a data step) or there are no operations. An empty fragment is an
    operation covered by another (the index of a table created alongside)."""
    if initial:
        return "initial"
    fragments = [fragment for fragment in fragments if fragment != ""]
    slugs = [slugify(fragment) for fragment in fragments if fragment]
    if not slugs or len(slugs) != len(fragments):
        return f"auto_{timestamp(now)}"
    name = slugs[0]
    for slug in slugs[1:]:
        if len(f"{name}_{slug}") > MAX_NAME:
            return f"{name}_and_more"
        name = f"{name}_{slug}"
    return name


def merge_name(heads: tuple[str, ...], now: datetime | None = None) -> str:
    """Django's merge name: ``merge_`` and the heads' full names, sorted, while they fit."""
    names = "_".join(sorted(heads))
    return f"merge_{timestamp(now) if len(names) > MAX_MERGE_NAMES else names}"


def revision_id(number: int, slug: str) -> str:
    """``0005_slug``: the file's name, and its Alembic revision id."""
    return f"{number:04d}_{slug}"


def new_file(settings, folder: Path, revision: str) -> Path:
    """Where a new migration of a project's ``Settings`` is written: named by its file_template."""
    return folder / file_name(settings.file_template, revision)
