"""Role status and state aggregation: products, critical-only propagation, incremental updates."""

from __future__ import annotations

from collections import Counter

from ecs_engine.environment.aggregation import RoleStates, state_product, status_product
from ecs_engine.template.model import EnvVars, Role, Traits


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
