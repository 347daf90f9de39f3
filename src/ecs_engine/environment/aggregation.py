"""Role status and state: what each role of the tree shows, aggregated from its tasks (reference §1.7).

Task and call roles take their values verbatim; an aggregator (or include) takes the product over its
children that count: every non-leaf child, and only the *critical* task/call children (non-critical roles
never forward anything upward). Counters per aggregator make an update O(depth), so a 1,000-task
transition costs 1,000 small updates, not 1,000 tree walks.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable

from ecs_engine.occ.states import ERROR
from ecs_engine.tasks.reports import UNKNOWN
from ecs_engine.template.model import Role


class RoleStatus(enum.StrEnum):
    """Role statuses besides a task's own ACTIVE and INACTIVE (``tasks.reports``), which task roles show as is."""

    UNDEFINED = "UNDEFINED"
    PARTIAL = "PARTIAL"
    UNDEPLOYABLE = "UNDEPLOYABLE"
    INVARIANT = "INVARIANT"


UNDEFINED, PARTIAL = RoleStatus.UNDEFINED, RoleStatus.PARTIAL
UNDEPLOYABLE, INVARIANT = RoleStatus.UNDEPLOYABLE, RoleStatus.INVARIANT
#: the state of an aggregator whose children are in different states (beside the OCC states of tasks)
MIXED = "MIXED"


def status_product(counts: Counter[str]) -> str:
    """UNDEFINED absorbs all; UNDEPLOYABLE beats the rest; ACTIVE with INACTIVE is PARTIAL; INVARIANT is neutral."""
    present = {s for s, n in counts.items() if n > 0 and s != INVARIANT}
    if not present:
        return INVARIANT
    if UNDEFINED in present:
        return UNDEFINED
    if UNDEPLOYABLE in present:
        return UNDEPLOYABLE
    if len(present) == 1:
        return next(iter(present))
    return PARTIAL


def state_product(counts: Counter[str]) -> str:
    """Equal states stay; any ERROR is ERROR; INVARIANT is neutral; anything else is MIXED."""
    present = {s for s, n in counts.items() if n > 0 and s != INVARIANT}
    if not present:
        return INVARIANT
    if ERROR in present:
        return ERROR
    if len(present) == 1:
        return next(iter(present))
    return MIXED


def _is_leaf(role: Role) -> bool:
    return role.kind in ("task", "call")


def counts_upward(role: Role) -> bool:
    """Whether ``role``'s values take part in its parent's product."""
    return not _is_leaf(role) or role.critical


class RoleStates:
    """Status and state of every role of one environment; ``on_change(role, status, state)`` per change."""

    def __init__(self, root: Role, on_change: Callable[[Role, str, str], None] | None = None):
        self.root = root
        self.on_change = on_change
        self.status: dict[str, str] = {}
        self.state: dict[str, str] = {}
        self._status_counts: dict[str, Counter[str]] = {}
        self._state_counts: dict[str, Counter[str]] = {}
        self._init(root)

    def _init(self, role: Role) -> tuple[str, str]:
        values: tuple[str, str]
        if _is_leaf(role):
            values = (UNDEFINED, INVARIANT if role.kind == "call" or role.is_hook else UNKNOWN)
        else:
            status_counts: Counter[str] = Counter()
            state_counts: Counter[str] = Counter()
            for child in role.children:
                child_status, child_state = self._init(child)
                if counts_upward(child):
                    status_counts[child_status] += 1
                    state_counts[child_state] += 1
            self._status_counts[role.path] = status_counts
            self._state_counts[role.path] = state_counts
            values = self._product(role)
        self.status[role.path], self.state[role.path] = values
        return values

    def _product(self, role: Role) -> tuple[str, str]:
        if not role.children:
            return UNDEFINED, INVARIANT
        return status_product(self._status_counts[role.path]), state_product(self._state_counts[role.path])

    def set(self, role: Role, *, status: str | None = None, state: str | None = None) -> None:
        """Set a task or call role's own values and propagate the change upward."""
        old_status, old_state = self.status[role.path], self.state[role.path]
        new_status = old_status if status is None else status
        new_state = old_state if state is None else state
        if role.kind == "call" or role.is_hook:
            new_state = INVARIANT  # hooks and calls do not follow the state machine
        while True:
            if (new_status, new_state) == (old_status, old_state):
                return
            self.status[role.path], self.state[role.path] = new_status, new_state
            if self.on_change is not None:
                self.on_change(role, new_status, new_state)
            parent = role.parent
            if parent is None or not counts_upward(role):
                return
            # only the product whose counters moved is taken again (a transition moves states, not statuses)
            role = parent
            status_now, state_now = self.status[role.path], self.state[role.path]
            new_status = _moved(self._status_counts[role.path], old_status, new_status, status_product, status_now)
            new_state = _moved(self._state_counts[role.path], old_state, new_state, state_product, state_now)
            old_status, old_state = status_now, state_now


def _moved(counts: Counter[str], old: str, new: str, product: Callable[[Counter[str]], str], current: str) -> str:
    """Move one child from ``old`` to ``new`` in ``counts`` and take the product again (``current`` if none moved)."""
    if old == new:
        return current
    counts[old] -= 1
    counts[new] += 1
    return product(counts)
