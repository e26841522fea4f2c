"""Names of new migrations, chosen as Django chooses them: ``0005_add_column_phone_to_users``.

The name is also the Alembic revision id, so it must fit ``alembic_version.version_num``
(32 characters) and stays unique when two branches each add their fifth migration.
"""
import re
from datetime import datetime

MAX_LENGTH = 32


def slugify(text: str) -> str:
    """Lower case ``[a-z0-9_]``, runs of anything else folded into one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def number_of(revision: str) -> int:
    """The leading number of ``0004_make_email_unique``; 0 for an id with none (e.g. Alembic's hex)."""
    digits = re.match(r"(\d+)_", revision)
    return int(digits.group(1)) if digits else 0


def next_number(heads: tuple[str, ...]) -> int:
    return max((number_of(head) for head in heads), default=0) + 1


def auto_slug(changes: list[str], now: datetime | None = None) -> str:
    """A slug from the detected changes (``Create table hotels`` → ``create_table_hotels``), or
    Django's ``auto_<timestamp>`` when there are none or they do not fit. As Django names a
    migration after the models it creates, the indexes of a new table do not count."""
    created = [change.split()[-1] for change in changes if change.startswith("Create table ")]
    rest = [c for c in changes if not c.startswith(("Create table ", "Create index ")) or
            c.startswith("Create index ") and c.split()[-1] not in created]
    parts = ([f"create_table_{'_'.join(created)}"] if created else []) + [slugify(c) for c in rest]
    slug = slugify("_".join(parts))
    if not slug or len(slug) > MAX_LENGTH - 5:
        slug = f"auto_{(now or datetime.now()).strftime('%Y%m%d_%H%M')}"
    return slug


def revision_id(number: int, slug: str) -> str:
    """``0005_slug``, cut to fit the version table."""
    return f"{number:04d}_{slug}"[:MAX_LENGTH].rstrip("_")


def merge_slug(heads: tuple[str, ...], now: datetime | None = None) -> str:
    """Django's merge name: ``merge_`` and the heads' names without their numbers, when it fits."""
    slug = "_".join(["merge", *(re.sub(r"^\d+_", "", head) for head in heads)])
    return slug if len(slug) <= MAX_LENGTH - 5 else f"merge_{(now or datetime.now()).strftime('%Y%m%d_%H%M')}"
