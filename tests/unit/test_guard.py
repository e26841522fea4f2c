"""The guard's check of each migration (``executor.Guard``) gives ``graph.applied``'s answer,
walking only what each migration adds, whatever the database does between two checks."""
import random

import pytest

from manage_migrations import graph
from manage_migrations.executor import Guard, Replan
from manage_migrations.graph import Migration


def history() -> list[Migration]:
    """A trunk, two branches off it that merge, and a branch that depends on the trunk."""
    migrations = [Migration("a1"), Migration("a2", ("a1",)), Migration("b1", ("a2",)), Migration("c1", ("a2",)),
                  Migration("b2", ("b1",)), Migration("m", ("b2", "c1")), Migration("a3", ("m",))]
    migrations += [Migration(f"d{n}", (f"d{n - 1}",) if n > 1 else (), depends_on=("a2",) if n == 1 else ())
                   for n in range(1, 6)]
    return migrations


def guard(migrations) -> Guard:
    return Guard(None, None, migrations, {})


def test_each_migration_applied_in_turn():
    migrations = history()
    checking = guard(migrations)
    state: tuple[str, ...] = ()
    for step in graph.plan(migrations, (), graph.heads(migrations)):
        revision, _ = step
        checking.check(state, revision, True)
        assert checking.last[1] == graph.applied(state, migrations)
        state = tuple(sorted(set(state) - set(next(m for m in migrations if m.revision == revision).needs)
                             | {revision}))


@pytest.mark.parametrize("seed", range(20))
def test_any_state_after_any_other(seed):
    """Between two checks the database may go anywhere (another migrate, a hand-made stamp)."""
    migrations, chance = history(), random.Random(seed)
    checking = guard(migrations)
    for _ in range(30):
        state = tuple(chance.sample([m.revision for m in migrations], chance.randint(0, 3)))
        expected = graph.applied(state, migrations)
        revision = chance.choice(migrations).revision
        ready = revision not in expected and set(checking.needs[revision]) <= expected
        if ready:
            checking.check(state, revision, True)
        else:
            with pytest.raises(Replan):
                checking.check(state, revision, True)
        assert checking.last == (state, expected)
