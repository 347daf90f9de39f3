"""Role status and state aggregation: products, critical-only propagation, incremental updates."""

from __future__ import annotations

import random
from collections import Counter

from ecs_engine.environment.aggregation import INVARIANT, RoleStates, counts_upward, state_product, status_product
from ecs_engine.template.model import EnvVars, Role, Traits
from ecs_engine.template.triggers import Trigger


def role(kind, name, parent=None, critical=True):
    r = Role(
        kind=kind,
        name=name,
        path=f"{parent.path}.{name}" if parent else name,
        parent=parent,
        env_vars=EnvVars(),
        file="",
        line=0,
    )
    if kind in ("task", "call"):
        r.traits = Traits(critical=critical)
    if parent is not None:
        parent.children.append(r)
    return r


def test_status_product_rules():
    assert status_product(Counter(["ACTIVE", "ACTIVE"])) == "ACTIVE"
    assert status_product(Counter(["ACTIVE", "INACTIVE"])) == "PARTIAL"
    assert status_product(Counter(["PARTIAL", "ACTIVE"])) == "PARTIAL"
    assert status_product(Counter(["ACTIVE", "UNDEPLOYABLE", "INACTIVE"])) == "UNDEPLOYABLE"
    assert status_product(Counter(["UNDEPLOYABLE", "UNDEFINED"])) == "UNDEFINED"
    assert status_product(Counter(["ACTIVE", "INVARIANT"])) == "ACTIVE"


def test_state_product_rules():
    assert state_product(Counter(["RUNNING", "RUNNING"])) == "RUNNING"
    assert state_product(Counter(["RUNNING", "CONFIGURED"])) == "MIXED"
    assert state_product(Counter(["MIXED", "ERROR"])) == "ERROR"
    assert state_product(Counter(["CONFIGURED", "INVARIANT"])) == "CONFIGURED"
    assert state_product(Counter()) == "INVARIANT"


def test_only_critical_leaves_reach_the_parent_and_changes_are_reported():
    root = role("aggregator", "root")
    group = role("aggregator", "group", root)
    a = role("task", "a", group)
    b = role("task", "b", group)
    spare = role("task", "spare", root, critical=False)
    call = role("call", "c", root)
    changes = []
    states = RoleStates(root, on_change=lambda r, status, state: changes.append((r.path, status, state)))
    for leaf in (a, b, spare):
        states.set(leaf, status="ACTIVE", state="CONFIGURED")
    states.set(call, status="ACTIVE")
    assert (states.status["root"], states.state["root"]) == ("ACTIVE", "CONFIGURED")
    assert states.state["root.c"] == "INVARIANT"
    states.set(spare, state="ERROR")
    assert states.state["root"] == "CONFIGURED"  # non-critical never forwards
    states.set(a, state="RUNNING")
    assert (states.state["root.group"], states.state["root"]) == ("MIXED", "MIXED")
    states.set(b, state="ERROR")
    assert states.state["root"] == "ERROR"
    states.set(b, status="INACTIVE")
    assert states.status["root"] == "PARTIAL"
    assert changes[-1] == ("root", "PARTIAL", "ERROR")
    count = len(changes)
    states.set(b, status="INACTIVE")  # no change, no report
    assert len(changes) == count


STATUSES = ["ACTIVE", "INACTIVE", "UNDEFINED", "UNDEPLOYABLE"]
STATES = ["UNKNOWN", "STANDBY", "CONFIGURED", "RUNNING", "ERROR", "DONE"]


def random_tree(rng):
    """Aggregators (some empty) over tasks, hook tasks and calls, critical or not, up to 5 levels deep."""
    root = role("aggregator", "r")
    aggregators, leaves = [root], []
    for i in range(rng.randint(1, 40)):
        parent = rng.choice([a for a in aggregators if a.path.count(".") < 4])
        kind = rng.choice(["aggregator", "task", "task", "task", "call"])
        child = role(kind, f"n{i}", parent, critical=rng.random() < 0.7)
        if kind == "aggregator":
            aggregators.append(child)
        else:
            if kind == "task" and rng.random() < 0.1:
                child.traits.trigger = Trigger("enter_RUNNING")
            leaves.append(child)
    return root, leaves


def full_products(root, leaf_values):
    """Every role's (status, state) taken from scratch, bottom-up: the reference the incremental one must equal."""
    out = {}
    product(root, leaf_values, out)
    return out


def product(role, leaf_values, out):
    if role.kind in ("task", "call"):
        out[role.path] = leaf_values[role.path]
    elif not role.children:
        out[role.path] = ("UNDEFINED", INVARIANT)
    else:
        counted = [product(c, leaf_values, out) for c in role.children if counts_upward(c)]
        for c in role.children:
            if not counts_upward(c):
                product(c, leaf_values, out)
        out[role.path] = (status_product(Counter(s for s, _ in counted)), state_product(Counter(t for _, t in counted)))
    return out[role.path]


def test_incremental_aggregation_equals_the_full_one_over_random_trees_and_reports_each_change():
    rng = random.Random(19)
    for _ in range(200):
        root, leaves = random_tree(rng)
        changes = []
        states = RoleStates(root, on_change=lambda r, status, state, seen=changes: seen.append((r.path, status, state)))
        leaf_values = {leaf.path: (states.status[leaf.path], states.state[leaf.path]) for leaf in leaves}
        before = full_products(root, leaf_values)
        assert before == {p: (states.status[p], states.state[p]) for p in before}
        for _ in range(60):
            if not leaves:
                break
            leaf = rng.choice(leaves)
            status = rng.choice([*STATUSES, None])
            state = rng.choice([*STATES, None])
            old_status, old_state = leaf_values[leaf.path]
            leaf_values[leaf.path] = (
                old_status if status is None else status,
                INVARIANT if leaf.kind == "call" or leaf.is_hook else (old_state if state is None else state),
            )
            changes.clear()
            states.set(leaf, status=status, state=state)
            after = full_products(root, leaf_values)
            assert after == {p: (states.status[p], states.state[p]) for p in after}
            assert sorted(changes) == sorted((p, *v) for p, v in after.items() if before[p] != v)
            before = after
