"""Which hooks run when: task hooks and calls gathered per moment and ordered by weight.

Used by ``coconut template plan`` to show the timeline and by the environment engine to run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ecs_engine import fsm

from .model import Role


@dataclass(frozen=True)
class HookEntry:
    moment: str
    weight: int
    role: Role
    phase: str  # "run" (task hook or call start) | "await" (a call collected here)

    @property
    def critical(self) -> bool:
        return self.role.critical

    def describe(self) -> dict[str, object]:
        traits = self.role.traits
        assert traits is not None
        return {
            "moment": self.moment,
            "weight": self.weight,
            "path": self.role.path,
            "kind": "hook" if self.role.kind == "task" else "call",
            "phase": self.phase,
            "action": self.role.func
            if self.role.kind == "call"
            else (self.role.task_class.name if self.role.task_class else self.role.load),
            "await": str(traits.await_) if traits.await_ else "",
            "timeout": traits.timeout_text,
            "critical": traits.critical,
        }


def moment_matches(trigger_moment: str, moment: str, generic: str | None) -> bool:
    return trigger_moment == moment or (generic is not None and trigger_moment == generic)


def hooks_at(roles: Iterable[Role], moment: str, generic: str | None = None) -> list[HookEntry]:
    """Task hooks and calls triggered at ``moment`` and calls awaited there, ordered by weight."""
    out = []
    for role in roles:
        traits = role.traits
        if traits is None or traits.trigger is None:
            continue
        if moment_matches(traits.trigger.moment, moment, generic):
            out.append(HookEntry(moment, traits.trigger.weight, role, "run"))
        if (
            role.kind == "call"
            and traits.await_ is not None
            and traits.await_ != traits.trigger
            and moment_matches(traits.await_.moment, moment, generic)
        ):
            out.append(HookEntry(moment, traits.await_.weight, role, "await"))
    out.sort(key=lambda e: (e.weight, e.phase != "await", e.role.path))
    return out


def transition_timeline(roles: list[Role], event: str, source: str) -> list[tuple[str, list[HookEntry]]]:
    """[(moment, hooks)] for the four steps of ``event`` from ``source``."""
    return [(moment, hooks_at(roles, moment, generic)) for generic, moment in fsm.transition_moments(event, source)]


def destroy_timeline(roles: list[Role], state: str) -> list[tuple[str, list[HookEntry]]]:
    """Teardown: ``leave_<state>``, then DESTROY and after_DESTROY merged by weight (after_DESTROY wins ties)."""
    merged: dict[int, list[HookEntry]] = {}
    for moment in fsm.DESTROY_MOMENTS:
        by_weight: dict[int, list[HookEntry]] = {}
        for entry in hooks_at(roles, moment):
            by_weight.setdefault(entry.weight, []).append(entry)
        merged.update(by_weight)
    ordered = [e for w in sorted(merged) for e in merged[w]]
    return [(f"leave_{state}", hooks_at(roles, f"leave_{state}", "leave_state")), ("DESTROY", ordered)]
