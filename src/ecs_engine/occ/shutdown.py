"""How a controlled process is stopped for good, written once for the core's executor and ``peanut exec``.

The reference's escalation (the AliECS executor's): walk the OCC state machine down to DONE (FairMQ: down
to EXITING), 5 s per step; wait up to 5 s for the process to exit (also when the walk failed: a process
already at DONE stops answering as it exits, and must not be signalled for it); then SIGTERM, 2 s, SIGINT, 3 s, SIGKILL
to its process group. Every step is logged, so a process that needed a signal shows in the log; the routine
walk of a process that then exits is logged at debug level only (a destroy of thousands of tasks would write a
line for each at info).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

from ecs_engine.errors import HandledError, RefusedError

from . import fairmq, states
from .client import OccClient
from .errors import DIRECT

log = logging.getLogger(__name__)

STEP_TIMEOUT = 5.0  # each OCC step on the way to DONE, and the wait for the exit after the walk
SIGNAL_STEPS = ((signal.SIGTERM, 2.0), (signal.SIGINT, 3.0), (signal.SIGKILL, 5.0))
MAX_STEPS = 12  # a walk that has not reached DONE after this many transitions is going in circles


class Stoppable(Protocol):
    """A started process and its process group: the executor's ``ProcessHandle``, ``launch.Child``."""

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def signal(self, signum: int) -> None: ...

    async def wait(self) -> int | None: ...


_FMQ_DOWN = {
    fairmq.RUNNING: fairmq.STOP,
    fairmq.READY: fairmq.RESET_TASK,
    fairmq.INITIALIZING_DEVICE: fairmq.COMPLETE_INIT,
    **{state: fairmq.RESET_DEVICE for state in fairmq.ROLLBACK_FROM},
}


def step_down(mode: str, state: str) -> str | None:
    """The next event on the way to DONE (direct) / EXITING (fmq); None once there."""
    if mode == DIRECT:
        if state == states.DONE:
            return None
        return states.STOP if state in (states.RUNNING, states.PAUSED) else states.EXIT
    if state == fairmq.EXITING:
        return None
    return _FMQ_DOWN.get(state, fairmq.END)


async def walk_to_done(
    client: OccClient,
    *,
    step_timeout: float = STEP_TIMEOUT,
    on_state: Callable[[str], None] | None = None,
    state: str | None = None,
) -> bool:
    """Drive the process to DONE/EXITING with transitions; False if it cannot be done that way.

    ``on_state`` sees each state the process reaches on the way (in its own words: FairMQ states for fmq).
    ``state``: where the caller knows the process to be (the executor, from its last reply), which saves a
    GetState per process; if the process refuses the first step from there, it is asked where it is.
    """
    try:
        if state is not None:
            try:
                return await _walk(client, state, step_timeout, on_state)
            except RefusedError as exc:
                log.debug("%s: not in %s as believed (%s): asking it", client.address, state, exc.message)
        state = (await client.get_state(timeout=step_timeout)).state
        return await _walk(client, state, step_timeout, on_state)
    except HandledError as exc:
        log.info("%s: the walk down to DONE stopped: %s", client.address, exc.message)
    return False


async def _walk(client: OccClient, state: str, step_timeout: float, on_state: Callable[[str], None] | None) -> bool:
    for _ in range(MAX_STEPS):
        event = step_down(client.mode, state)
        if event is None:
            return True
        log.debug("%s is %s: sending %s (within %g s)", client.address, state, event, step_timeout)
        result = await client.transition(state, event, timeout=step_timeout)
        if result.state == state:
            return False
        state = result.state
        if on_state is not None:
            on_state(state)
    return False


async def signal_down(process: Stoppable) -> None:
    """SIGTERM, SIGINT, SIGKILL to the process group, each followed by its grace time, until it is gone."""
    for signum, grace in SIGNAL_STEPS:
        if not process.alive():
            return
        log.info("sending %s to pid %d (grace %g s)", signum.name, process.pid, grace)
        process.signal(signum)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)


async def stop(
    process: Stoppable, walk: Callable[[], Awaitable[bool]] | None = None, *, step_timeout: float = STEP_TIMEOUT
) -> None:
    """The whole sequence: ``walk`` (the process's walk to DONE, for OCC processes), its exit, then signals."""
    if not process.alive():
        return
    if walk is not None:
        log.debug("stopping pid %d: walking it down to DONE (%g s per step)", process.pid, step_timeout)
        if not await walk():  # often it is at DONE already and on its way out: no answer, but no signal due either
            log.info("pid %d could not be walked down to DONE: waiting %g s for its exit", process.pid, step_timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), step_timeout)
        if process.alive():
            log.info("pid %d did not exit within %g s of the walk", process.pid, step_timeout)
    await signal_down(process)
