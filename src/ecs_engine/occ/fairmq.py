"""The FairMQ device state machine and how OCC transitions map onto it (spec protocols §5, aliecs-reference §5.4).

Pure data and functions: the FairMQ-like device library serves this machine, and the OCClite client side
(peanut's fmq modes, the executor) drives it with the sequences below.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import states as occ

IDLE = "IDLE"
INITIALIZING_DEVICE = "INITIALIZING DEVICE"
INITIALIZED = "INITIALIZED"
BINDING = "BINDING"
BOUND = "BOUND"
CONNECTING = "CONNECTING"
DEVICE_READY = "DEVICE READY"
INITIALIZING_TASK = "INITIALIZING TASK"
READY = "READY"
RUNNING = "RUNNING"
RESETTING_TASK = "RESETTING TASK"
RESETTING_DEVICE = "RESETTING DEVICE"
EXITING = "EXITING"
ERROR = "ERROR"

INIT_DEVICE = "INIT DEVICE"
COMPLETE_INIT = "COMPLETE INIT"
BIND = "BIND"
CONNECT = "CONNECT"
INIT_TASK = "INIT TASK"
RUN = "RUN"
STOP = "STOP"
RESET_TASK = "RESET TASK"
RESET_DEVICE = "RESET DEVICE"
END = "END"
ERROR_FOUND = "ERROR FOUND"

# The events in the order of peanut's fmq-step keys 1..9, 0.
STEP_EVENTS = (INIT_DEVICE, COMPLETE_INIT, BIND, CONNECT, INIT_TASK, RUN, STOP, RESET_TASK, RESET_DEVICE, END)

EXPECTED_FINAL_STATE: dict[str, str] = {
    INIT_DEVICE: INITIALIZING_DEVICE,
    COMPLETE_INIT: INITIALIZED,
    BIND: BOUND,
    CONNECT: DEVICE_READY,
    INIT_TASK: READY,
    RUN: RUNNING,
    STOP: READY,
    RESET_TASK: DEVICE_READY,
    RESET_DEVICE: IDLE,
    END: EXITING,
    ERROR_FOUND: ERROR,
}

# (state, event) -> state entered. Entering an AUTOMATIC state continues on its own.
TRANSITIONS: dict[tuple[str, str], str] = {
    (IDLE, INIT_DEVICE): INITIALIZING_DEVICE,
    (IDLE, END): EXITING,
    (INITIALIZING_DEVICE, COMPLETE_INIT): INITIALIZED,
    (INITIALIZED, BIND): BINDING,
    (INITIALIZED, RESET_DEVICE): RESETTING_DEVICE,
    (BOUND, CONNECT): CONNECTING,
    (BOUND, RESET_DEVICE): RESETTING_DEVICE,
    (DEVICE_READY, INIT_TASK): INITIALIZING_TASK,
    (DEVICE_READY, RESET_DEVICE): RESETTING_DEVICE,
    (READY, RUN): RUNNING,
    (READY, RESET_TASK): RESETTING_TASK,
    (RUNNING, STOP): READY,
    # Not in FairMQ, where ERROR is final: our example device can be recovered or ended from ERROR.
    (ERROR, RESET_DEVICE): RESETTING_DEVICE,
    (ERROR, END): EXITING,
}
for _state in (IDLE, INITIALIZING_DEVICE, INITIALIZED, BOUND, DEVICE_READY, READY, RUNNING):
    TRANSITIONS[(_state, ERROR_FOUND)] = ERROR

AUTOMATIC: dict[str, str] = {
    BINDING: BOUND,
    CONNECTING: DEVICE_READY,
    INITIALIZING_TASK: READY,
    RESETTING_TASK: DEVICE_READY,
    RESETTING_DEVICE: IDLE,
}

# How the executor reads FairMQ states as OCC task states. Other FairMQ states are on the way between.
TO_OCC: dict[str, str] = {
    IDLE: occ.STANDBY,
    READY: occ.CONFIGURED,
    RUNNING: occ.RUNNING,
    ERROR: occ.ERROR,
    EXITING: occ.DONE,
}
FROM_OCC: dict[str, str] = {value: key for key, value in TO_OCC.items()}


def next_state(state: str, event: str) -> str | None:
    return TRANSITIONS.get((state, event))


def allowed_events(state: str) -> list[str]:
    """The step events valid in ``state``, in STEP_EVENTS order."""
    return [event for event in STEP_EVENTS if (state, event) in TRANSITIONS]


def occ_state(fmq_state: str) -> str:
    """The OCC state a FairMQ state is shown as; states between stable ones count as STANDBY, as in peanut."""
    return TO_OCC.get(fmq_state.upper(), occ.STANDBY)


def is_stable(fmq_state: str) -> bool:
    return fmq_state.upper() in TO_OCC


def outcome(event: str, reached: str) -> tuple[bool, str]:
    """(ok, trigger name) as the OCClite plugin computes them."""
    ok = reached == EXPECTED_FINAL_STATE.get(event)
    if reached == ERROR:
        return ok, occ.DEVICE_ERROR
    return ok, occ.EXECUTOR if ok else occ.DEVICE_INTENTIONAL


@dataclass(frozen=True)
class Step:
    source: str
    event: str
    with_arguments: bool  # the OCC transition's arguments travel with this step


# FairMQ steps the executor sends for each OCC event (reference §5.4); EXIT from READY first resets.
_RESET_STEPS = (Step(READY, RESET_TASK, False), Step(DEVICE_READY, RESET_DEVICE, True))
SEQUENCES: dict[str, tuple[Step, ...]] = {
    occ.CONFIGURE: (
        Step(IDLE, INIT_DEVICE, True),
        Step(INITIALIZING_DEVICE, COMPLETE_INIT, False),
        Step(INITIALIZED, BIND, False),
        Step(BOUND, CONNECT, False),
        Step(DEVICE_READY, INIT_TASK, False),
    ),
    occ.RESET: _RESET_STEPS,
    occ.START: (Step(READY, RUN, True),),
    occ.STOP: (Step(RUNNING, STOP, True),),
    occ.RECOVER: (Step(ERROR, RESET_DEVICE, True),),
}
# A configure that stops in one of these states is rolled back with RESET DEVICE.
ROLLBACK_FROM = (INITIALIZED, BOUND, DEVICE_READY)


def steps_for(event: str, fmq_state: str) -> tuple[Step, ...] | None:
    """The FairMQ steps for OCC ``event`` from ``fmq_state``, or None if there is no such sequence."""
    if event == occ.EXIT:
        if fmq_state == READY:
            return (*_RESET_STEPS, Step(IDLE, END, True))
        if fmq_state in (IDLE, ERROR):
            return (Step(fmq_state, END, True),)
        return None
    steps = SEQUENCES.get(event)
    if steps is None or steps[0].source != fmq_state:
        return None
    return steps
