"""manage_migrations.graph on small hand-built graphs: ordering, heads, targets and plans."""
import random

import pytest

from manage_migrations.graph import Migration, app_heads, applied, apps, find, heads, in_order, plan, resolve
from manage_migrations.output import CommandError

M = Migration

# 0001_a <- 0002_b <- 0003_c <- 0004_d
CHAIN = [
    M("0001_a"),
    M("0002_b", ("0001_a",)),
    M("0003_c", ("0002_b",)),
    M("0004_d", ("0003_c",)),
]

# 0001_a <- 0002_b <- 0003_c <- 0004_x
#                           ^-- 0004_y          (two heads)
FORKED = CHAIN[:3] + [
    M("0004_x", ("0003_c",)),
    M("0004_y", ("0003_c",)),
]

# ... and the two branches merged again by 0005_merge
BRANCHED = FORKED + [M("0005_merge", ("0004_x", "0004_y"))]


def ids(migrations):
    return [m.revision for m in migrations]


def shuffled(migrations, seed):
    copy = list(migrations)
    random.Random(seed).shuffle(copy)
    return copy


def message(excinfo) -> str:
    return excinfo.value.format_message()


def state_of(target, migrations, current, app=None):
    """The state ``resolve`` names (it also says which app the target is about)."""
    return resolve(target, migrations, current, app)[0]


# in_order


@pytest.mark.parametrize("seed", range(5))
def test_in_order_chain_is_oldest_first_whatever_the_input_order(seed):
    assert ids(in_order(shuffled(CHAIN, seed))) == ["0001_a", "0002_b", "0003_c", "0004_d"]


def test_in_order_siblings_go_as_alembic_walks_them_which_follows_the_files_not_the_ids():
    """Alembic walks down from the last-loaded head first, so it applies that line first."""
    assert ids(in_order(BRANCHED)) == ["0001_a", "0002_b", "0003_c", "0004_y", "0004_x", "0005_merge"]
    swapped = CHAIN[:3] + [FORKED[4], FORKED[3]]
    assert ids(in_order(swapped)) == ["0001_a", "0002_b", "0003_c", "0004_x", "0004_y"]


def test_in_order_of_several_bases_runs_the_last_loaded_line_first():
    migrations = [M("x1"), M("y1"), M("x2", ("x1",)), M("y2", ("y1",)), M("w1")]
    assert ids(in_order(migrations)) == ["w1", "y1", "y2", "x1", "x2"]


def test_in_order_parents_come_first_even_when_their_id_sorts_later():
    migrations = [M("a_child", ("z_parent",)), M("z_parent")]
    assert ids(in_order(migrations)) == ["z_parent", "a_child"]


def test_in_order_of_nothing_is_empty():
    assert in_order([]) == []


# heads


@pytest.mark.parametrize(
    "migrations, expected",
    [
        (CHAIN, ("0004_d",)),
        (FORKED, ("0004_x", "0004_y")),
        (BRANCHED, ("0005_merge",)),
        ([], ()),
    ],
    ids=["chain", "forked", "branched", "empty"],
)
def test_heads(migrations, expected):
    assert heads(shuffled(migrations, 1)) == expected


# applied


@pytest.mark.parametrize(
    "migrations, state, expected",
    [
        (CHAIN, (), set()),
        (CHAIN, ("0001_a",), {"0001_a"}),
        (CHAIN, ("0003_c",), {"0001_a", "0002_b", "0003_c"}),
        (FORKED, ("0004_y",), {"0001_a", "0002_b", "0003_c", "0004_y"}),
        (FORKED, ("0004_x", "0004_y"), {"0001_a", "0002_b", "0003_c", "0004_x", "0004_y"}),
        (BRANCHED, ("0005_merge",), {"0001_a", "0002_b", "0003_c", "0004_x", "0004_y", "0005_merge"}),
    ],
)
def test_applied_is_the_state_and_all_its_ancestors(migrations, state, expected):
    assert applied(state, migrations) == expected


def test_applied_with_a_revision_no_file_has_names_it():
    with pytest.raises(CommandError) as excinfo:
        applied(("zzz_missing",), CHAIN)
    assert "'zzz_missing'" in message(excinfo)
    assert "\n" not in message(excinfo)


def test_applied_with_an_unknown_revision_beside_a_known_one_names_it():
    with pytest.raises(CommandError, match="'ffff0000'"):
        applied(("0002_b", "ffff0000"), CHAIN)


# find


def test_find_exact_name():
    assert find("0003_c", CHAIN) == "0003_c"


def test_find_unique_prefix():
    assert find("0002", CHAIN) == "0002_b"
    assert find("0004_", CHAIN) == "0004_d"


def test_find_exact_name_wins_over_a_longer_name_it_prefixes():
    migrations = [M("0001_a"), M("0001_ab", ("0001_a",))]
    assert find("0001_a", migrations) == "0001_a"


def test_find_ambiguous_prefix():
    with pytest.raises(CommandError) as excinfo:
        find("0", CHAIN)
    assert message(excinfo) == (
        "More than one migration matches '0' in app 'migrations'. Please be more specific."
    )


def test_find_prefix_shared_by_two_branches_is_ambiguous():
    with pytest.raises(CommandError) as excinfo:
        find("0004", FORKED)
    assert message(excinfo) == (
        "More than one migration matches '0004' in app 'migrations'. Please be more specific."
    )


@pytest.mark.parametrize("name", ["x", "0009", "0001_a_and_more", "a"])
def test_find_unknown(name):
    with pytest.raises(CommandError) as excinfo:
        find(name, CHAIN)
    assert message(excinfo) == f"Cannot find a migration matching '{name}'."


# resolve: every form, on the chain


@pytest.mark.parametrize(
    "target, current, expected",
    [
        ("zero", ("0004_d",), ()),
        ("zero", (), ()),
        ("base", ("0002_b",), ()),
        ("head", (), ("0004_d",)),
        ("head", ("0004_d",), ("0004_d",)),
        ("heads", ("0001_a",), ("0004_d",)),
        ("0003_c", (), ("0003_c",)),
        ("0002", ("0004_d",), ("0002_b",)),
        ("0001_", (), ("0001_a",)),
        ("+1", ("0002_b",), ("0003_c",)),
        ("+1", (), ("0001_a",)),
        ("-1", ("0002_b",), ("0001_a",)),
        ("-1", ("0001_a",), ()),
        ("+2", (), ("0002_b",)),
        ("+4", (), ("0004_d",)),
        ("-3", ("0004_d",), ("0001_a",)),
        ("-4", ("0004_d",), ()),
        ("0003-1", ("0001_a",), ("0002_b",)),
        ("0003_c-2", (), ("0001_a",)),
        ("0001+2", ("0004_d",), ("0003_c",)),
        ("base+3", ("0004_d",), ("0003_c",)),
        ("zero+1", (), ("0001_a",)),
        ("head-1", (), ("0003_c",)),
        ("heads-2", (), ("0002_b",)),
        ("0001-1", ("0004_d",), ()),
    ],
)
def test_resolve_on_a_chain(target, current, expected):
    assert state_of(target, CHAIN, current) == expected


# resolve: on branches


@pytest.mark.parametrize(
    "target, current, expected",
    [
        ("heads", (), ("0004_x", "0004_y")),
        ("0004_y", (), ("0004_y",)),
        ("0004_x-1", (), ("0003_c",)),
        ("-1", ("0004_y",), ("0003_c",)),
        ("+1", ("0002_b",), ("0003_c",)),
    ],
)
def test_resolve_on_a_fork(target, current, expected):
    assert state_of(target, FORKED, current) == expected


@pytest.mark.parametrize(
    "target, current, expected",
    [
        ("head", (), ("0005_merge",)),
        ("0005", (), ("0005_merge",)),
        ("+1", ("0004_x",), ("0005_merge",)),
        ("0004_y+1", (), ("0005_merge",)),
        # one step back from a merge is the state of both its parents
        ("0005_merge-1", (), ("0004_x", "0004_y")),
        ("head-1", (), ("0004_x", "0004_y")),
    ],
)
def test_resolve_around_a_merge(target, current, expected):
    assert state_of(target, BRANCHED, current) == expected


# resolve: errors


def test_resolve_back_past_the_first_migration():
    with pytest.raises(CommandError) as excinfo:
        state_of("-1", CHAIN, ())
    assert message(excinfo) == "Relative migration '-1' goes back past the first migration."


def test_resolve_anchored_back_past_the_first_migration():
    with pytest.raises(CommandError) as excinfo:
        state_of("0002-3", CHAIN, ("0004_d",))
    assert message(excinfo) == "Relative migration '0002-3' goes back past the first migration."


def test_resolve_forward_at_head():
    with pytest.raises(CommandError) as excinfo:
        state_of("+1", CHAIN, ("0004_d",))
    assert message(excinfo) == "Relative migration '+1' goes past the last migration."


@pytest.mark.parametrize("target, current", [("+5", ()), ("+3", ("0002_b",)), ("base+5", ("0004_d",)), ("head+1", ())])
def test_resolve_forward_beyond_the_last(target, current):
    with pytest.raises(CommandError) as excinfo:
        state_of(target, CHAIN, current)
    assert message(excinfo) == f"Relative migration '{target}' goes past the last migration."


def test_resolve_forward_from_nothing_on_an_empty_graph():
    with pytest.raises(CommandError, match="goes past the last migration"):
        state_of("+1", [], ())


@pytest.mark.parametrize("target", ["-1", "+1"])
def test_resolve_relative_from_several_heads(target):
    with pytest.raises(CommandError) as excinfo:
        state_of(target, FORKED, ("0004_x", "0004_y"))
    assert message(excinfo) == (
        f"Cannot move '{target}' from several heads (0004_x, 0004_y); name a migration."
    )


@pytest.mark.parametrize("target", ["head", "head-1"])
def test_resolve_head_with_two_heads_is_alembics_error(target):
    with pytest.raises(CommandError) as excinfo:
        state_of(target, FORKED, ())
    assert message(excinfo) == (
        "Multiple head revisions are present for given argument 'head'; please specify a specific target "
        "revision, '<branchname>@head' to narrow to a specific head, or 'heads' for all heads")


def test_resolve_heads_minus_one_with_two_heads():
    with pytest.raises(CommandError) as excinfo:
        state_of("heads-1", FORKED, ())
    assert message(excinfo) == "Cannot move 'heads-1' from several heads (0004_x, 0004_y); name a migration."


def test_resolve_two_back_from_a_merge_must_cross_several_heads():
    with pytest.raises(CommandError, match=r"from several heads \(0004_x, 0004_y\)"):
        state_of("0005_merge-2", BRANCHED, ())


@pytest.mark.parametrize("graph", [FORKED, BRANCHED], ids=["forked", "branched"])
@pytest.mark.parametrize("target, current", [("+1", ("0003_c",)), ("0003+1", ()), ("+4", ())])
def test_resolve_forward_into_a_fork(graph, target, current):
    with pytest.raises(CommandError) as excinfo:
        state_of(target, graph, current)
    assert message(excinfo) == f"Relative migration '{target}' is ambiguous: 0004_x, 0004_y follow; name one."


def test_resolve_ambiguous_anchor():
    with pytest.raises(CommandError, match="More than one migration matches '0004'"):
        state_of("0004-1", FORKED, ())


def test_resolve_unknown_name():
    with pytest.raises(CommandError) as excinfo:
        state_of("nope", CHAIN, ())
    assert message(excinfo) == "Cannot find a migration matching 'nope'."


@pytest.mark.parametrize("target", ["-1", "+1"])
def test_resolve_relative_from_a_revision_no_file_has_names_it(target):
    """The database is at a revision with no file (e.g. from another branch of the code):
    a relative move from it must be a CommandError naming that revision, as ``applied`` does,
    not a KeyError (``-1``) or a claim that it is past the last migration (``+1``)."""
    with pytest.raises(CommandError) as excinfo:
        state_of(target, CHAIN, ("zzz_missing",))
    assert "'zzz_missing'" in message(excinfo)


# plan


def test_plan_forward_from_empty():
    assert plan(CHAIN, (), ("0004_d",)) == [
        ("0001_a", True), ("0002_b", True), ("0003_c", True), ("0004_d", True),
    ]


def test_plan_forward_part_way():
    assert plan(CHAIN, ("0001_a",), ("0003_c",)) == [("0002_b", True), ("0003_c", True)]


def test_plan_backward_to_an_earlier_target_newest_first():
    assert plan(CHAIN, ("0004_d",), ("0002_b",)) == [("0004_d", False), ("0003_c", False)]


def test_plan_to_zero_unapplies_everything_newest_first():
    assert plan(CHAIN, ("0003_c",), ()) == [("0003_c", False), ("0002_b", False), ("0001_a", False)]


@pytest.mark.parametrize("state", [(), ("0001_a",), ("0004_d",)])
def test_plan_is_empty_when_already_at_the_target(state):
    assert plan(CHAIN, state, state) == []


def test_plan_to_another_branch_leaves_the_first_applied_as_django_does():
    assert plan(FORKED, ("0004_x",), ("0004_y",)) == [("0004_y", True)]
    assert plan(FORKED, ("0004_x", "0004_y"), ("0004_x",)) == []


def test_plan_to_an_applied_target_unapplies_what_depends_on_it_in_every_branch():
    assert plan(FORKED, ("0004_x", "0004_y"), ("0003_c",)) == [("0004_x", False), ("0004_y", False)]


def test_plan_to_both_heads_of_a_fork_in_alembics_order():
    assert plan(FORKED, ("0003_c",), ("0004_x", "0004_y")) == [("0004_y", True), ("0004_x", True)]


def test_plan_forward_through_a_merge_is_in_order():
    assert plan(BRANCHED, (), ("0005_merge",)) == [
        ("0001_a", True), ("0002_b", True), ("0003_c", True),
        ("0004_y", True), ("0004_x", True), ("0005_merge", True),
    ]


def test_plan_back_from_a_merge_to_one_branch_unapplies_only_the_merge():
    assert plan(BRANCHED, ("0005_merge",), ("0004_x",)) == [("0005_merge", False)]


def test_plan_with_an_unknown_current_revision_is_a_command_error():
    with pytest.raises(CommandError, match="'zzz_missing'"):
        plan(CHAIN, ("zzz_missing",), ("0004_d",))


# Alembic's own RevisionMap as the oracle: on random histories (merges, several bases,
# depends_on, files loaded in any order) the order and the steps are exactly Alembic's.


def random_history(seed: int) -> list[Migration]:
    """Up to 12 migrations in a random load order; at most one depends_on each (with more,
    Alembic's own order follows Python's string hashing)."""
    rnd = random.Random(seed)
    ids = [f"r{i:02d}" for i in range(rnd.randint(1, 12))]
    migrations = []
    for i, revision in enumerate(ids):
        parents = tuple(rnd.sample(ids[:i], min(rnd.choice([0, 1, 1, 1, 1, 2]), i))) if i else ()
        others = [r for r in ids[:i] if r not in parents]
        depends_on = (rnd.choice(others),) if others and rnd.random() < 0.3 else ()
        migrations.append(M(revision, parents, depends_on=depends_on))
    rnd.shuffle(migrations)
    return migrations


def alembic_map(migrations):
    from alembic.script.revision import Revision, RevisionMap

    def scalar(names):
        return None if not names else names[0] if len(names) == 1 else names

    return RevisionMap(lambda: [Revision(m.revision, scalar(m.parents), scalar(m.depends_on)) for m in migrations])


@pytest.mark.parametrize("seed", range(300))
def test_order_and_plans_are_alembics(seed):
    from alembic.script.revision import RangeNotAncestorError

    migrations = random_history(seed)
    revision_map = alembic_map(migrations)
    everything = [r.revision for r in revision_map.iterate_revisions("heads", None, implicit_base=True)]
    assert heads(migrations) == tuple(r.revision for r in revision_map.get_revisions("heads"))
    assert ids(in_order(migrations)) == everything[::-1]
    # Up to every head from part-way (one revision and what it needs applied).
    rnd = random.Random(seed)
    part_way = rnd.choice(everything)
    upgrade = [r.revision for r in revision_map.iterate_revisions("heads", (part_way,), implicit_base=True)][::-1]
    assert plan(migrations, (part_way,), heads(migrations)) == [(r, True) for r in upgrade]
    # Down from every head to an applied revision: what Alembic's downgrade unapplies, in its order.
    # (Alembic refuses a target with nothing after it to unapply; there the plan is empty.)
    target = rnd.choice(everything)
    try:
        downgrade = [r.revision for r in revision_map.iterate_revisions(heads(migrations), target,
                                                                        select_for_downgrade=True)]
    except RangeNotAncestorError:
        downgrade = []
    assert plan(migrations, heads(migrations), (target,)) == [(r, False) for r in downgrade]


# apps: Alembic's branch labels


def test_apps_without_labels_are_all_migrations():
    assert set(apps(CHAIN).values()) == {"migrations"}


def test_a_label_covers_its_branch_and_the_unlabelled_trunk_stays_migrations():
    migrations = CHAIN[:2] + [M("0003_e", ("0002_b",), branch_labels=("expand",)), M("0004_e", ("0003_e",)),
                              M("0003_c", ("0002_b",), branch_labels=("contract",))]
    assert apps(migrations) == {"0001_a": "migrations", "0002_b": "migrations", "0003_e": "expand",
                                "0004_e": "expand", "0003_c": "contract"}
    assert app_heads(migrations) == {"migrations": ("0002_b",), "expand": ("0004_e",), "contract": ("0003_c",)}


def test_a_branch_labelled_off_another_labelled_branch_is_its_own_app():
    """Alembic gives b1 and b2 both labels (B's root descends from A); the nearer one is their app."""
    migrations = [M("a1", branch_labels=("A",)), M("a2", ("a1",)), M("b1", ("a2",), branch_labels=("B",)),
                  M("b2", ("b1",))]
    assert apps(migrations) == {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    assert app_heads(migrations) == {"A": ("a2",), "B": ("b2",)}
