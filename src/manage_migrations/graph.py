"""Questions about the revision graph, answered without a database.

A migration is its revision id (for the files ``makemigrations`` writes, also its name,
``0002_create_table_rooms``), the ids of its parents (``down_revision``), what else it needs
(``depends_on``) and the branch labels it declares. A *state* is the tuple of revisions Alembic
keeps in ``alembic_version``: the heads of what is applied, ``()`` for none.

Alembic's branch labels play the part of Django's apps: a labelled branch is an app, the
unlabelled migrations are the project's own app (its ``app_label``, ``migrations`` unless said). As in Django, a target names the state to
be in, and the plan is what leads there, in the order Alembic runs it.
"""
import dataclasses
import functools
import re
from dataclasses import dataclass, field

from manage_migrations.output import APP_LABEL, CommandError

RELATIVE = re.compile(r"^(?P<anchor>.*?)(?P<sign>[+-])(?P<count>\d+)$")


@dataclass(frozen=True)
class Migration:
    revision: str
    parents: tuple[str, ...] = ()  # down_revision
    path: str = field(default="", compare=False)  # the file, where it was read from one
    depends_on: tuple[str, ...] = ()  # revisions (branch labels resolved)
    branch_labels: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()  # a squashed migration's: the migrations it stands for, oldest first
    # The app of a migration that no branch label reaches: the project's (Django's app label).
    app_label: str = field(default=APP_LABEL, compare=False)
    # The file's loader.checksum as the index last read it (None: not read), for showmigrations and check.
    checksum: str | None = field(default=None, compare=False)

    @functools.cached_property  # asked for again and again by each walk of the graph
    def needs(self) -> tuple[str, ...]:
        """Everything that must be applied before it: its parents and what it depends on."""
        return tuple(dict.fromkeys(self.parents + self.depends_on))


def reachable(start, next_of) -> set[str]:
    """The revisions in ``start`` and every revision reached from them through ``next_of``."""
    seen, todo = set(), list(start)
    while todo:
        revision = todo.pop()
        if revision not in seen:
            seen.add(revision)
            todo.extend(next_of(revision))
    return seen


def ancestors(revisions, migrations: list[Migration]) -> set[str]:
    """The revisions and everything they need, directly or not."""
    by_id = {m.revision: m for m in migrations}
    return reachable(revisions, lambda revision: by_id[revision].needs)


def descendants(revisions, migrations: list[Migration]) -> set[str]:
    """The revisions and everything that needs them, directly or not."""
    needed_by = {m.revision: [] for m in migrations}
    for m in migrations:
        for parent in m.needs:
            needed_by[parent].append(m.revision)
    return reachable(revisions, needed_by.__getitem__)


def newest_first(migrations: list[Migration], todo: set[str], heads) -> list[str]:
    """``todo`` in Alembic's order (``RevisionMap._topological_sort``): from each head down,
    heads in the order their files load, a line left for another head that still needs
    what comes next. Upgrades run it reversed; downgrades as it is. Matching Alembic here
    means sibling branches run in the order ``alembic upgrade heads`` runs them."""
    by_id = {m.revision: m for m in migrations}
    loaded = {m.revision: i for i, m in enumerate(migrations)}
    # A dependency a parent already has is not a line of its own (Alembic's normalized depends_on).
    extra = {m.revision: tuple(d for d in m.depends_on if not any(
        d in by_id[a].depends_on for a in _lineage(m.revision, by_id) if a != m.revision)) if m.depends_on else ()
        for m in migrations}
    down = {r: tuple(dict.fromkeys(by_id[r].parents + extra[r])) for r in by_id}

    def below(revision):
        return reachable([revision], down.__getitem__)

    todo = set(todo)
    current = sorted({h for h in heads if h in todo}, key=loaded.__getitem__)
    lines = [below(h) for h in current]
    ordered, i = [], 0
    while current:
        candidate = current[i]
        other = next((j for j, line in enumerate(lines) if j != i and candidate in line), None)
        if other is not None:  # another head still needs it: walk that line first
            i = other
            continue
        if candidate in todo:
            ordered.append(candidate)
            todo.remove(candidate)
        more = [r for r in down[candidate] if r in todo and r not in current]
        if not more:
            del current[i], lines[i]
            i = max(i - 1, 0)
        elif not extra[candidate] and len(by_id[candidate].parents) == 1:
            current[i] = more[0]
            lines[i].discard(candidate)
        else:
            current[i] = more[0]
            current.extend(more[1:])
            lines[i] = below(more[0])
            lines.extend(below(r) for r in more[1:])
    return ordered


def _lineage(revision: str, by_id: dict) -> set[str]:
    """A revision and its ancestors through ``down_revision`` alone."""
    return reachable([revision], lambda r: by_id[r].parents)


def in_order(migrations: list[Migration]) -> list[Migration]:
    """Oldest first, in the order ``alembic upgrade heads`` applies them."""
    by_id = {m.revision: m for m in migrations}
    return [by_id[r] for r in reversed(newest_first(migrations, set(by_id), heads(migrations)))]


def heads(migrations: list[Migration]) -> tuple[str, ...]:
    """The migrations nothing needs yet (Django's leaf nodes, Alembic's ``heads``), in the
    order their files load."""
    needed = {p for m in migrations for p in m.needs}
    return tuple(m.revision for m in migrations if m.revision not in needed)


def apps(migrations: list[Migration]) -> dict[str, str]:
    """Each migration's app: the branch label Alembic gives it (declared on it, or inherited
    along its branch), else the project's app label."""
    if not any(m.branch_labels for m in migrations):
        return {m.revision: m.app_label for m in migrations}
    return dict(_labelled_apps(tuple(migrations)))


@functools.lru_cache(maxsize=2)
def _labelled_apps(migrations: tuple[Migration, ...]) -> dict[str, str]:
    """``apps`` for a history with labels, worked out once per command however often asked."""
    from alembic.script.revision import Revision, RevisionMap  # only for histories with labels

    def scalar(names):
        return None if not names else names[0] if len(names) == 1 else names

    revision_map = RevisionMap(lambda: [Revision(m.revision, scalar(m.parents), scalar(m.depends_on),
                                                 scalar(m.branch_labels)) for m in migrations])
    by_id = {m.revision: m for m in migrations}

    def nearest(revision: str) -> str:
        """Of the labels Alembic gives it, the one declared nearest above it (or on it): a
        branch labelled off another labelled branch carries both labels, and is its own app."""
        found = revision_map.get_revision(revision).branch_labels
        walked = revision
        while walked is not None:
            declared = [label for label in by_id[walked].branch_labels if label in found]
            if declared:
                return declared[0]
            walked = by_id[walked].parents[0] if by_id[walked].parents else None
        return min(found, default=by_id[revision].app_label)

    return {m.revision: nearest(m.revision) for m in migrations}


def project_app(migrations: list[Migration]) -> str:
    """The app label of the project's unlabelled migrations."""
    return migrations[0].app_label if migrations else APP_LABEL


def app_heads(migrations: list[Migration]) -> dict[str, tuple[str, ...]]:
    """The heads of each app, as Django finds an app's leaf nodes: its migrations that nothing
    in the same app needs (another app's migration may build on one)."""
    app_of, found = apps(migrations), {}
    needed_in_app = {(parent, app_of[m.revision]) for m in migrations for parent in m.needs}
    for m in migrations:
        if (m.revision, app_of[m.revision]) not in needed_in_app:
            found[app_of[m.revision]] = found.get(app_of[m.revision], ()) + (m.revision,)
    return found


def single_head(migrations: list[Migration]) -> tuple[str, ...]:
    """Every head, when no app has two; otherwise Django's conflict error. Heads of different
    apps (Alembic's branches with labels, several bases on purpose) are no conflict."""
    conflicts = {app: leaves for app, leaves in app_heads(migrations).items() if len(leaves) > 1}
    if conflicts:
        names = "; ".join(f"{', '.join(sorted(leaves))} in {app}" for app, leaves in sorted(conflicts.items()))
        raise CommandError(
            f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({names}).\n"
            "To fix them run 'python manage.py makemigrations --merge'"
        )
    return heads(migrations)


def applied(state: tuple[str, ...], migrations: list[Migration]) -> set[str]:
    """Every revision applied in a state: its heads and everything they need. A database at
    the last migration a squashed one replaces is at the squashed one (Django's rule)."""
    known = {m.revision for m in migrations}
    squashed = squashed_in(state, migrations)
    for revision in state:
        if revision not in known and revision not in squashed:
            part_way = next((m for m in migrations if revision in m.replaces), None)
            if part_way is not None:
                raise CommandError(part_way_error(revision, part_way))
            raise CommandError(unknown_revision_error(revision))
    return ancestors(tuple(squashed.get(revision, revision) for revision in state), migrations)


def unknown_revision_error(revision: str) -> str:
    """The ways out for a recorded revision no file has, the safe ones first: following the last
    where another project shares the version table would erase that project's record."""
    return (f"The database is at revision '{revision}', which no migration file has: restore that file; "
            "if another project keeps its migrations in this database, give this project a version table "
            "of its own (version_table in env.py's context.configure()); only if the database is this "
            "project's alone, mark it with 'fake' at a migration that exists.")


def squashed_in(state: tuple[str, ...], migrations: list[Migration]) -> dict[str, str]:
    """The revisions of a state that no file has and that are the last a squashed migration
    replaces, each with that squashed migration: the database has all it replaces."""
    known = {m.revision for m in migrations}
    last_replaced = {m.replaces[-1]: m.revision for m in migrations if m.replaces}
    return {revision: last_replaced[revision] for revision in state
            if revision not in known and revision in last_replaced}


def part_way(state: tuple[str, ...], migrations: list[Migration]) -> list[Migration]:
    """The squashed migrations that replace a revision of the state other than the last they
    replace, which no file has: the database is part-way through what they replace."""
    known = {m.revision for m in migrations}
    return [m for m in migrations if m.replaces and any(r in m.replaces[:-1] and r not in known for r in state)]


def part_way_error(revision: str, squashed: Migration) -> str:
    return (f"The database is at {revision}, part-way through the migrations that {squashed.revision} replaces "
            f"({squashed.replaces[0]} to {squashed.replaces[-1]}), whose files are gone: restore them into "
            "migrations/replaced/ and migrate, which finishes them; or mark the database with 'fake'.")


def squash_range(migrations: list[Migration], end: str, start: str | None = None) -> list[str]:
    """What ``squashmigrations`` replaces, as Django chooses it: the migrations of END's app
    that END needs, in the order they run, from START (by default the app's first) on."""
    app_of = apps(migrations)
    order = [revision for revision, _ in plan(migrations, (), (end,)) if app_of[revision] == app_of[end]]
    if start is not None and start not in order:
        raise CommandError(f"The migration '{start}' cannot be found. Maybe it comes after the migration '{end}'?\n"
                           f"Have a look at:\n  python manage.py showmigrations {app_of[end]}\nto debug this issue.")
    return order[order.index(start):] if start else order


def squash_needs(migrations: list[Migration], replaced: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The parents and the dependencies of the migration that squashes ``replaced``: what they
    need from outside, less what another of those already needs."""
    by_id, inside = {m.revision: m for m in migrations}, set(replaced)

    def fewest(revisions, covered=frozenset()):
        revisions = [r for r in dict.fromkeys(revisions) if r not in inside and r not in covered]
        below = {a for r in revisions for a in ancestors((r,), migrations) if a != r}
        return tuple(r for r in revisions if r not in below)

    parents = fewest(p for r in replaced for p in by_id[r].parents)
    return parents, fewest((d for r in replaced for d in by_id[r].depends_on), ancestors(parents, migrations))


def before_squash(migrations: list[Migration], squashed: Migration, replaced: list[Migration]) -> list[Migration]:
    """The history as it was before ``squashed`` was made: the migrations it replaces back,
    and what needs it needing the last of them again."""
    last = squashed.replaces[-1]

    def swap(revisions):
        return tuple(last if revision == squashed.revision else revision for revision in revisions)

    return [dataclasses.replace(m, parents=swap(m.parents), depends_on=swap(m.depends_on))
            for m in migrations if m.revision != squashed.revision] + replaced


def find(name: str, migrations: list[Migration], app: str | None = None) -> str:
    """A revision by its full id or a unique prefix of it, as Django finds a migration name
    (within ``app`` when one is named)."""
    if app is not None:
        app_of = apps(migrations)
        migrations = [m for m in migrations if app_of[m.revision] == app]
    matches = [m.revision for m in migrations if m.revision.startswith(name)]
    if name in matches:
        return name
    if len(matches) > 1:
        raise CommandError(
            f"More than one migration matches '{name}' in app '{app or project_app(migrations)}'. Please be more "
            "specific."
        )
    if not matches:
        raise CommandError(f"Cannot find a migration matching '{name}'" + (f" from app '{app}'." if app else "."))
    return matches[0]


def resolve(target: str, migrations: list[Migration], current: tuple[str, ...],
            app: str | None = None) -> tuple[tuple[str, ...], str | None]:
    """The state a target names, and the app it is about (None for all): ``zero``/``base``,
    ``head``/``heads``, a name or prefix, a relative move (``+1``, ``-1``, ``0003-1``,
    ``base+3``, ``head-1``), or Alembic's branch forms (``label@head``, ``label@base``,
    ``label@0003``, ``label@-1``, ``0003@head``). ``app`` is Django's app label, typed before."""
    if not target.strip():
        raise CommandError("The migration target is empty: name a migration, or zero to unapply them all.")
    if "@" in target:
        branch, _, rest = target.partition("@")
        if branch in app_heads(migrations) or any(branch in m.branch_labels for m in migrations):
            return resolve(rest, migrations, current, branch)
        revision, by_id = find(branch, migrations), {m.revision: m for m in migrations}
        found = tuple(h for h in heads(migrations) if revision in _lineage(h, by_id) or h in _lineage(revision, by_id))
        return _one_head(target, found, rest), app
    if target in ("zero", "base"):
        return (), app
    if target in ("head", "heads"):
        if app is not None and app not in app_heads(migrations):
            raise CommandError(f"No installed app with label '{app}'.")
        found = app_heads(migrations)[app] if app else heads(migrations)
        return _one_head(target, found, target), app
    relative = RELATIVE.match(target)
    if relative is None:
        return (find(target, migrations, app),), app
    if relative["anchor"] == "":
        app_of = apps(migrations)
        start = tuple(r for r in current if app is None or app_of[r] == app)
    else:
        start, _ = resolve(relative["anchor"], migrations, current, app)
    count = int(relative["count"]) * (1 if relative["sign"] == "+" else -1)
    return move(start, count, migrations, target, app), app


def _one_head(target: str, found: tuple[str, ...], word: str) -> tuple[str, ...]:
    """``heads`` is all of them; ``head`` must be one, as Alembic has it."""
    if word == "head" and len(found) > 1:
        raise CommandError(f"Multiple head revisions are present for given argument '{target}'; please specify a "
                           f"specific target revision, '<branchname>@{target}' to narrow to a specific head, "
                           "or 'heads' for all heads")
    return found


def move(state: tuple[str, ...], count: int, migrations: list[Migration], target: str, app: str | None = None):
    """Walk ``count`` migrations forward (positive) or back along a single line of history
    (of ``app``, when one is named)."""
    applied(state, migrations)  # names a revision that no file has
    by_id = {m.revision: m for m in migrations}
    app_of = apps(migrations)
    for _ in range(abs(count)):
        if len(state) > 1:
            raise CommandError(f"Cannot move '{target}' from several heads ({', '.join(state)}); name a migration.")
        if count < 0:
            if not state:
                raise CommandError(f"Relative migration '{target}' goes back past the first migration.")
            state = by_id[state[0]].parents
        else:
            after = state[0] if state else None
            nexts = [m.revision for m in migrations if (after in m.parents if after else not m.parents)
                     and (app is None or app_of[m.revision] == app)]
            if not nexts:
                raise CommandError(f"Relative migration '{target}' goes past the last migration.")
            if len(nexts) > 1:
                raise CommandError(f"Relative migration '{target}' is ambiguous: {', '.join(nexts)} follow; name one.")
            state = (nexts[0],)
    return state


def plan(migrations: list[Migration], current: tuple[str, ...], target: tuple[str, ...],
         app: str | None = None) -> list[tuple[str, bool]]:
    """The steps from the current state towards a target, as ``(revision, forward)``, in the
    order Alembic runs them.

    Django's rule, which is also Alembic's: a target not yet applied means apply it and what it
    needs; an applied target means unapply the migrations after it (in its app, when one is
    named) and what needs them; the empty target unapplies everything (of the app). Other
    branches are left as they are."""
    have = applied(current, migrations)
    app_of = apps(migrations)
    drop, need = set(), set()
    if not target:
        drop = descendants({r for r in have if app is None or app_of[r] == app}, migrations) & have
    for revision in target:
        if revision in have:
            after = [m.revision for m in migrations if revision in m.parents and (app is None or app_of[m.revision] == app)]
            drop |= descendants(after, migrations) & have
        else:
            need |= ancestors((revision,), migrations) - have
    backward = [(revision, False) for revision in newest_first(migrations, drop, current)]
    forward = [(revision, True) for revision in reversed(newest_first(migrations, need, target))]
    return backward + forward


def app_and_target(migrations: list[Migration], app: str | None, target: str | None, installed=()):
    """Django's ``APP [MIGRATION]``: a lone word that names an app is the app, anything else a
    target (a migration, or one of Alembic's forms). The ``installed`` apps (the project's own,
    and those of its settings' ``APPS``) are apps before they have a migration too, as Django's."""
    labels = set(apps(migrations).values())
    without = next((label for label in installed if label not in labels and label in (app, target)), None)
    if without is not None:
        raise CommandError(f"App '{without}' does not have migrations.")
    if app is None and target in labels:
        return target, None
    if app is not None and app not in labels:
        raise CommandError(f"No installed app with label '{app}'.")
    return app, target
