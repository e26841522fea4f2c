"""Small JSON files in this user's cache for this project (``Settings.cache_dir``).

A cache only saves time: one that cannot be read is empty, one that cannot be written is
skipped, and every entry carries what it depends on so that a stale one is never used.
"""
import contextlib
import json
import os
from pathlib import Path


def load(cache_dir: Path | None, name: str) -> dict:
    """What was saved under ``name``; empty when missing, unreadable or not what ``save`` writes."""
    try:
        data = json.loads((cache_dir / name).read_text()) if cache_dir else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(cache_dir: Path | None, name: str, data: dict) -> None:
    """Written whole and renamed into place, so a reader never sees half a file."""
    if cache_dir is None:
        return
    partial = cache_dir / f"{name}.{os.getpid()}"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(data))
        os.replace(partial, cache_dir / name)
    except OSError:
        with contextlib.suppress(OSError):  # a disk full half-way leaves no stray file behind
            partial.unlink()


def move(source: Path, destination: Path) -> None:
    """Rename a cached file; one that cannot be moved is dropped, never an error."""
    try:
        os.replace(source, destination)
    except OSError:
        source.unlink(missing_ok=True)


def stamp(path) -> list[int] | None:
    """What changes whenever a file is edited, replaced or touched; None once it is gone."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns]
