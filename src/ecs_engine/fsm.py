"""The environment state machine table and the hook moments of each transition.

Shared by the template planner (which shows hook timelines) and the environment engine (which runs them).
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    """An environment's state (the strings AliECS reports)."""

    STANDBY = "STANDBY"
    DEPLOYED = "DEPLOYED"
    CONFIGURED = "CONFIGURED"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    DONE = "DONE"


class Event(enum.StrEnum):
    """An environment's transition event (``ControlEnvironment``'s ``type``, by name)."""

    DEPLOY = "DEPLOY"
    CONFIGURE = "CONFIGURE"
    RESET = "RESET"
    START_ACTIVITY = "START_ACTIVITY"
    STOP_ACTIVITY = "STOP_ACTIVITY"
    EXIT = "EXIT"
    GO_ERROR = "GO_ERROR"
    RECOVER = "RECOVER"


STATES = tuple(State)

#: event -> (allowed source states, destination state)
TRANSITIONS: dict[str, tuple[tuple[State, ...], State]] = {
    Event.DEPLOY: ((State.STANDBY,), State.DEPLOYED),
    Event.CONFIGURE: ((State.DEPLOYED,), State.CONFIGURED),
    Event.RESET: ((State.CONFIGURED,), State.DEPLOYED),
    Event.START_ACTIVITY: ((State.CONFIGURED,), State.RUNNING),
    Event.STOP_ACTIVITY: ((State.RUNNING,), State.CONFIGURED),
    Event.EXIT: ((State.CONFIGURED, State.DEPLOYED, State.STANDBY), State.DONE),
    Event.GO_ERROR: ((State.STANDBY, State.CONFIGURED, State.DEPLOYED, State.RUNNING), State.ERROR),
    Event.RECOVER: ((State.ERROR,), State.DEPLOYED),
}
EVENTS = tuple(Event)

#: the usual life of an environment, for showing timelines in order
LIFECYCLE: tuple[tuple[Event, State], ...] = (
    (Event.DEPLOY, State.STANDBY),
    (Event.CONFIGURE, State.DEPLOYED),
    (Event.START_ACTIVITY, State.CONFIGURED),
    (Event.STOP_ACTIVITY, State.RUNNING),
    (Event.RESET, State.CONFIGURED),
    (Event.GO_ERROR, State.RUNNING),
    (Event.RECOVER, State.ERROR),
    (Event.EXIT, State.DEPLOYED),
)

#: teardown is outside the FSM: leave_<state>, then DESTROY merged with after_DESTROY
DESTROY_MOMENTS = ("DESTROY", "after_DESTROY")

GENERIC_MOMENTS = ("before_event", "leave_state", "enter_state", "after_event")


def destination(event: str, source: str) -> State | None:
    """The state ``event`` leads to from ``source``, or None if the event is not allowed there."""
    rule = TRANSITIONS.get(event)
    return rule[1] if rule is not None and source in rule[0] else None


def allowed_events(state: str) -> list[Event]:
    return [Event(event) for event, (sources, _) in TRANSITIONS.items() if state in sources]


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
