"""Output for machines: JSON on stdout, and GitHub Actions annotations.

``dump(kind, payload)`` prints one JSON object, ``{"format": 1, "kind": KIND, ...payload}``, on
one line. ``format`` is the version of the shape: a field may be added within a version, never
renamed, removed or given another meaning (that makes ``format`` 2). ``kind`` names the
command and its mode, and says which fields follow; each command documents its own (README,
"CI and deploys"). Times are UTC, ISO 8601 with a ``Z``; paths are relative to the current
folder when inside it, as the text output prints them.

``annotation(level, path, line, message)`` prints a workflow command, which GitHub Actions
shows on that line of the file in the pull request; only when ``GITHUB_ACTIONS=true``, as the
runner sets it, since anywhere else it is noise.
"""
import json
import os
from datetime import datetime, timezone

import click

FORMAT = 1
LEVELS = ("error", "warning", "notice")


def dump(kind: str, payload: dict) -> None:
    """Print ``payload`` as the versioned JSON object of ``kind``."""
    click.echo(json.dumps({"format": FORMAT, "kind": kind, **payload}))


def timestamp(moment: datetime | None) -> str | None:
    """A time in the JSON shape: UTC, ISO 8601, to the second, ending in Z."""
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def repository_path(path: str | None) -> str | None:
    """A file's path (absolute, or relative to the current folder) as an annotation names it:
    relative to the repository the runner checked out (GITHUB_WORKSPACE), which manage.py may
    sit in a folder of; as given elsewhere."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    return os.path.relpath(os.path.abspath(path), workspace) if path and workspace else path


def annotation(level: str, path: str | None, line: int | None, message: str, err: bool = False) -> None:
    """``::error file=PATH,line=N::MESSAGE`` under GitHub Actions, nothing elsewhere. Printed on
    stdout, where the runner reads workflow commands; a command whose stdout is JSON passes
    ``err`` (the runner reads stderr as well). A finding that names no file or line (a
    database's drift) passes None for them: ``::error::MESSAGE``."""
    if level not in LEVELS:
        raise ValueError(f"level is one of {', '.join(LEVELS)}")
    if in_github_actions():
        where = ",".join(f"{name}={_escape(str(value), True)}" for name, value in (("file", path), ("line", line))
                         if value is not None)
        click.echo(f"::{level}{' ' + where if where else ''}::{_escape(message)}", err=err)


def _escape(text: str, property_value: bool = False) -> str:
    """The runner's escapes (actions/toolkit's command.ts): %, CR and LF, and in a property's
    value also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text
