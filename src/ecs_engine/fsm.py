"""The environment state machine table and the hook moments of each transition.

Shared by the template planner (which shows hook timelines) and the environment engine (which runs them).
"""

from __future__ import annotations

STATES = ("STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "ERROR", "DONE")

#: event -> (allowed source states, destination state)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "DEPLOY": (("STANDBY",), "DEPLOYED"),
    "CONFIGURE": (("DEPLOYED",), "CONFIGURED"),
    "RESET": (("CONFIGURED",), "DEPLOYED"),
    "START_ACTIVITY": (("CONFIGURED",), "RUNNING"),
    "STOP_ACTIVITY": (("RUNNING",), "CONFIGURED"),
    "EXIT": (("CONFIGURED", "DEPLOYED", "STANDBY"), "DONE"),
    "GO_ERROR": (("STANDBY", "CONFIGURED", "DEPLOYED", "RUNNING"), "ERROR"),
    "RECOVER": (("ERROR",), "DEPLOYED"),
}
EVENTS = tuple(TRANSITIONS)

#: the usual life of an environment, for showing timelines in order
LIFECYCLE: tuple[tuple[str, str], ...] = (
    ("DEPLOY", "STANDBY"),
    ("CONFIGURE", "DEPLOYED"),
    ("START_ACTIVITY", "CONFIGURED"),
    ("STOP_ACTIVITY", "RUNNING"),
    ("RESET", "CONFIGURED"),
    ("GO_ERROR", "RUNNING"),
    ("RECOVER", "ERROR"),
    ("EXIT", "DEPLOYED"),
)

#: teardown is outside the FSM: leave_<state>, then DESTROY merged with after_DESTROY
DESTROY_MOMENTS = ("DESTROY", "after_DESTROY")

GENERIC_MOMENTS = ("before_event", "leave_state", "enter_state", "after_event")


def destination(event: str, source: str) -> str | None:
    """The state ``event`` leads to from ``source``, or None if the event is not allowed there."""
    sources, dst = TRANSITIONS.get(event, ((), ""))
    return dst if source in sources else None


def allowed_events(state: str) -> list[str]:
    return [event for event, (sources, _) in TRANSITIONS.items() if state in sources]


def transition_moments(event: str, source: str) -> list[tuple[str, str]]:
    """The four steps of a transition as (step, moment): generic name and concrete name."""
    dst = TRANSITIONS[event][1]
    return [
        ("before_event", f"before_{event}"),
        ("leave_state", f"leave_{source}"),
        ("enter_state", f"enter_{dst}"),
        ("after_event", f"after_{event}"),
    ]


def known_moments() -> set[str]:
    moments = set(DESTROY_MOMENTS) | set(GENERIC_MOMENTS) | {"before_DESTROY"}
    for event in EVENTS:
        moments.update((f"before_{event}", f"after_{event}"))
    for state in STATES:
        moments.update((f"leave_{state}", f"enter_{state}"))
    return moments
