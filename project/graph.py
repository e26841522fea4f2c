"""Questions about the revision graph, answered without Alembic or a database.

A migration is its revision id (for the files ``makemigrations`` writes, also its name,
``0002_create_table_rooms``) and the ids of its parents. A *state* is the tuple of revisions
Alembic keeps in ``alembic_version``: the heads of what is applied, ``()`` for none.
As in Django, a target names the state to be in, and the plan is what leads there.
"""
import re
from dataclasses import dataclass, field

from project.output import APP_LABEL, CommandError

RELATIVE = re.compile(r"^(?P<anchor>.*?)(?P<sign>[+-])(?P<count>\d+)$")


@dataclass(frozen=True)
class Migration:
    revision: str
    parents: tuple[str, ...] = ()
    path: str = field(default="", compare=False)  # the file, where it was read from one


def in_order(migrations: list[Migration]) -> list[Migration]:
    """Oldest first, each after all of its parents; ties go by revision id, so numbers sort."""
    by_id = {m.revision: m for m in migrations}
    waiting = {m.revision: len([p for p in m.parents if p in by_id]) for m in migrations}
    children = {m.revision: [] for m in migrations}
    for m in migrations:
        for parent in m.parents:
            if parent in children:
                children[parent].append(m.revision)
    ready = sorted(rev for rev, count in waiting.items() if count == 0)
    ordered = []
    while ready:
        revision = ready.pop(0)
        ordered.append(by_id[revision])
        for child in children[revision]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready = sorted(ready + [child])
    return ordered


def heads(migrations: list[Migration]) -> tuple[str, ...]:
    """The migrations nothing depends on yet: Django's leaf nodes."""
    parents = {p for m in migrations for p in m.parents}
    return tuple(m.revision for m in in_order(migrations) if m.revision not in parents)


def single_head(migrations: list[Migration]) -> tuple[str, ...]:
    """The heads, when there is at most one; otherwise Django's conflict error."""
    leaves = heads(migrations)
    if len(leaves) > 1:
        raise CommandError(
            f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({', '.join(leaves)}).\n"
            "To fix them run 'python manage.py makemigrations --merge'"
        )
    return leaves


def applied(state: tuple[str, ...], migrations: list[Migration]) -> set[str]:
    """Every revision applied in a state: its heads and all their ancestors."""
    by_id = {m.revision: m for m in migrations}
    seen, todo = set(), list(state)
    while todo:
        revision = todo.pop()
        if revision in seen:
            continue
        if revision not in by_id:
            raise CommandError(
                f"The database is at revision '{revision}', which no migration file has. "
                "Restore that file, or mark the database with 'fake' at a migration that exists."
            )
        seen.add(revision)
        todo.extend(by_id[revision].parents)
    return seen


def find(name: str, migrations: list[Migration]) -> str:
    """A revision by its full id or a unique prefix of it, as Django finds a migration name."""
    matches = [m.revision for m in migrations if m.revision.startswith(name)]
    if name in matches:
        return name
    if len(matches) > 1:
        raise CommandError(
            f"More than one migration matches '{name}' in app '{APP_LABEL}'. Please be more specific."
        )
    if not matches:
        raise CommandError(f"Cannot find a migration matching '{name}'.")
    return matches[0]



def resolve(target: str, migrations: list[Migration], current: tuple[str, ...]) -> tuple[str, ...]:
    """The state a target names: ``zero``/``base``, ``head``, a name or prefix, or a relative move
    (``+1``, ``-1``, ``0003-1``, ``base+3``, ``head-1``) as Alembic spells them."""
    if not target.strip():
        raise CommandError("The migration target is empty: name a migration, or zero to unapply them all.")
    if target in ("zero", "base"):
        return ()
    if target in ("head", "heads"):
        return heads(migrations)
    relative = RELATIVE.match(target)
    if relative is None:
        return (find(target, migrations),)
    anchor = relative["anchor"]
    if anchor == "":
        start = current
    else:
        start = resolve(anchor, migrations, current)
    count = int(relative["count"]) * (1 if relative["sign"] == "+" else -1)
    return move(start, count, migrations, target)


def move(state: tuple[str, ...], count: int, migrations: list[Migration], target: str):
    """Walk ``count`` migrations forward (positive) or back along a single line of history."""
    applied(state, migrations)  # names a revision that no file has
    by_id = {m.revision: m for m in migrations}
    for _ in range(abs(count)):
        if len(state) > 1:
            raise CommandError(f"Cannot move '{target}' from several heads ({', '.join(state)}); name a migration.")
        if count < 0:
            if not state:
                raise CommandError(f"Relative migration '{target}' goes back past the first migration.")
            state = by_id[state[0]].parents
        else:
            after = state[0] if state else None
            nexts = [m.revision for m in in_order(migrations)
                     if (after in m.parents if after else not m.parents)]
            if not nexts:
                raise CommandError(f"Relative migration '{target}' goes past the last migration.")
            if len(nexts) > 1:
                raise CommandError(f"Relative migration '{target}' is ambiguous: {', '.join(nexts)} follow; name one.")
            state = (nexts[0],)
    return state


def descendants(revision: str, migrations: list[Migration]) -> set[str]:
    """Every migration that depends on ``revision``, directly or not."""
    found, todo = set(), [revision]
    while todo:
        parent = todo.pop()
        for m in migrations:
            if parent in m.parents and m.revision not in found:
                found.add(m.revision)
                todo.append(m.revision)
    return found


def plan(migrations: list[Migration], current: tuple[str, ...], target: tuple[str, ...]) -> list[tuple[str, bool]]:
    """The steps from the current state towards a target, as ``(revision, forward)``.

    Django's rule: an applied target means unapply what depends on it; a target not yet
    applied means apply it and what it needs; the empty target means unapply everything.
    Other branches are left as they are. Unapplying goes newest first, applying oldest first.
    """
    have = applied(current, migrations)
    want = set(have) if target else set()
    for revision in target:
        if revision in have:
            want -= descendants(revision, migrations)
        else:
            want |= applied((revision,), migrations)
    order = [m.revision for m in in_order(migrations)]
    backward = [(rev, False) for rev in reversed(order) if rev in have and rev not in want]
    forward = [(rev, True) for rev in order if rev in want and rev not in have]
    return backward + forward
