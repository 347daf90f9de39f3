"""The OCC state machine of a controlled process, as OCClib implements it (spec aliecs-reference §5.4).

Pure data and functions, shared by the client side (peanut, the executor) and the server library.
States and events are the upper-case strings that travel on the wire.
"""

from __future__ import annotations

import enum


class OccState(enum.StrEnum):
    """A controlled process's state."""

    STANDBY = "STANDBY"
    CONFIGURED = "CONFIGURED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    DONE = "DONE"


class OccEvent(enum.StrEnum):
    """An event of a controlled process's state machine (the ``event`` of a Transition request)."""

    CONFIGURE = "CONFIGURE"
    RESET = "RESET"
    START = "START"
    STOP = "STOP"
    EXIT = "EXIT"
    GO_ERROR = "GO_ERROR"
    RECOVER = "RECOVER"
    PAUSE = "PAUSE"
    RESUME = "RESUME"


# The members by their bare names, as the wire and the table below use them.
STANDBY, CONFIGURED, RUNNING = OccState.STANDBY, OccState.CONFIGURED, OccState.RUNNING
PAUSED, ERROR, DONE = OccState.PAUSED, OccState.ERROR, OccState.DONE
CONFIGURE, RESET, START, STOP, EXIT = OccEvent.CONFIGURE, OccEvent.RESET, OccEvent.START, OccEvent.STOP, OccEvent.EXIT
GO_ERROR, RECOVER, PAUSE, RESUME = OccEvent.GO_ERROR, OccEvent.RECOVER, OccEvent.PAUSE, OccEvent.RESUME

# The only events a Transition request may carry, with the state each is expected to end in.
# OCClib answers any other name (PAUSE and RESUME included) with gRPC UNKNOWN.
EXPECTED_FINAL_STATE: dict[str, str] = {
    CONFIGURE: CONFIGURED,
    RESET: STANDBY,
    START: RUNNING,
    STOP: CONFIGURED,
    EXIT: DONE,
    GO_ERROR: ERROR,
    RECOVER: STANDBY,
}
REQUESTABLE_EVENTS = tuple(EXPECTED_FINAL_STATE)

# (state, event) -> next state. GO_ERROR is in no row: OCClib never acts on it.
TRANSITIONS: dict[tuple[str, str], str] = {
    (STANDBY, CONFIGURE): CONFIGURED,
    (STANDBY, EXIT): DONE,
    (CONFIGURED, START): RUNNING,
    (CONFIGURED, RESET): STANDBY,
    (CONFIGURED, EXIT): DONE,
    (RUNNING, STOP): CONFIGURED,
    (RUNNING, PAUSE): PAUSED,
    (PAUSED, RESUME): RUNNING,
    (PAUSED, STOP): CONFIGURED,
    (ERROR, RECOVER): STANDBY,
    (ERROR, EXIT): DONE,
}

# Trigger names of occ_pb.StateChangeTrigger.
EXECUTOR = "EXECUTOR"
DEVICE_INTENTIONAL = "DEVICE_INTENTIONAL"
DEVICE_ERROR = "DEVICE_ERROR"


def next_state(state: str, event: str) -> str | None:
    """The state ``event`` leads to from ``state``, or None if the event is invalid there."""
    return TRANSITIONS.get((state, event))


def allowed_events(state: str) -> list[str]:
    """The requestable events that change ``state``, in the order of REQUESTABLE_EVENTS."""
    return [event for event in REQUESTABLE_EVENTS if (state, event) in TRANSITIONS]


def outcome(event: str, reached: str) -> tuple[bool, str]:
    """OCClib's (ok, trigger) for a Transition of ``event`` that left the process in ``reached``.

    ok means the event's expected final state was reached, which is also true for an invalid event whose
    expected state happens to be the current one (RECOVER in STANDBY): callers compare states, not just ok.
    """
    ok = reached == EXPECTED_FINAL_STATE.get(event)
    if reached == ERROR:
        return ok, DEVICE_ERROR
    return ok, EXECUTOR if ok else DEVICE_INTENTIONAL


def event_between(source: str, target: str) -> str | None:
    """The event that takes a process from ``source`` to ``target`` (``transition FROM TO`` in peanut)."""
    for (state, event), reached in TRANSITIONS.items():
        if state == source and reached == target and event in EXPECTED_FINAL_STATE:
            return event
    return None
