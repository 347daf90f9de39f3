"""peanut's commands (CLI mode) and their dispatcher: each drives the process once, prints the result and
returns an exit status.

Text output follows upstream peanut (``ok  state=X trigger=Y``); ``-o json`` prints one JSON object per result
(per message for the streams). Progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ecs_engine.errors import ExitStatus, RefusedError, UsageError
from ecs_engine.occ import fairmq, states
from ecs_engine.occ.errors import DIRECT, WrongModeError

from .control import Outcome, ProcessControl
from .inputs import parse_assignments
from .output import Output

M = TypeVar("M")
StreamCommand = Callable[[ProcessControl, Output, asyncio.Event], Awaitable[ExitStatus]]


def _refused(outcome: Outcome, what: str) -> RefusedError:
    return RefusedError(
        f"{what}: the process is in {outcome.raw_state} (ok={str(outcome.ok).lower()}, trigger {outcome.trigger})"
    )


async def get_state(control: ProcessControl, out: Output) -> ExitStatus:
    view = await control.state()
    data = {"state": view.raw, "occState": view.shown if control.mode != DIRECT else view.raw, "pid": view.pid}
    out.result(view.raw, data)
    return ExitStatus.OK


def _occ_event(source: str, target: str) -> str:
    event = states.event_between(source, target)
    if event is None:
        possible = ", ".join(
            f"{target_state} ({event})"
            for (state, event), target_state in states.TRANSITIONS.items()
            if state == source and event in states.EXPECTED_FINAL_STATE
        )
        raise UsageError(
            f"transition {source} {target}: no OCC transition leads from {source} to {target}",
            hint=f"from {source} peanut can go to {possible}" if possible else f"{source} is not an OCC state",
        )
    return event


async def transition(
    control: ProcessControl, source: str, target: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    """``transition FROM TO``: the matching OCC event (direct), or its FairMQ sequence (fmq)."""
    source, target = source.upper(), target.upper()
    event = _occ_event(source, target)
    progress = out.progress if control.mode != DIRECT else None
    outcome = await control.occ_transition(source, event, arguments, progress=progress)
    word = "ok" if outcome.ok else "refused"
    if control.mode == DIRECT:
        text = f"{word}  state={outcome.state} trigger={outcome.trigger}"
    else:
        text = f"{word}  state={fairmq.occ_state(outcome.raw_state)}"
    out.result(text, outcome.as_dict())
    if not outcome.ok:
        raise _refused(outcome, f"transition {source} -> {target} ({event})")
    return ExitStatus.OK


async def direct_step(
    control: ProcessControl, source: str, event: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    outcome = await control.direct_step(source, event, arguments)
    out.result(
        f"{'ok' if outcome.ok else 'refused'}  state={outcome.state} trigger={outcome.trigger}", outcome.as_dict()
    )
    if not outcome.ok:
        raise _refused(outcome, f"{event} from {source}")
    return ExitStatus.OK


async def fmq_step(
    control: ProcessControl, source: str, event: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    outcome = await control.fmq_step(source, event, arguments, progress=out.progress)
    occ_state = fairmq.occ_state(outcome.raw_state)
    text = f"{'ok' if outcome.ok else 'refused'}  fmq-state={outcome.raw_state}  occ-state={occ_state}"
    out.result(text, {**outcome.as_dict(), "occState": occ_state})
    if not outcome.ok:
        raise _refused(outcome, f"{event} from {source}")
    return ExitStatus.OK


async def _stream(
    messages: AsyncIterator[M], out: Output, stop: asyncio.Event, render: Callable[[M], tuple[str, dict[str, Any]]]
) -> ExitStatus:
    async def pump() -> None:
        async for message in messages:
            out.result(*render(message))

    pumping = asyncio.create_task(pump())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({pumping, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (pumping, stopping):
        if task not in done:
            task.cancel()
    if pumping in done:
        pumping.result()  # raises the stream's error, if any
    return ExitStatus.OK


async def state_stream(control: ProcessControl, out: Output, stop: asyncio.Event) -> ExitStatus:
    """Print state changes until the process ends the stream (DONE) or ``stop`` is set (Ctrl-C)."""
    messages = control.client().state_stream()
    await control.client().streams_ready(timeout=1.0)  # confirmed at once by our processes, not by OCClib
    out.note(f"streaming state updates from {control.address}  (ctrl-c to stop)")
    return await _stream(
        messages, out, stop, lambda m: (f"type={m.type:<12}  state={m.state}", {"type": m.type, "state": m.state})
    )


async def event_stream(control: ProcessControl, out: Output, stop: asyncio.Event) -> ExitStatus:
    """Print device events until the process ends the stream or ``stop`` is set (Ctrl-C)."""
    messages = control.client().event_stream()
    await control.client().streams_ready(timeout=1.0)
    out.note(f"streaming events from {control.address}  (ctrl-c to stop)")
    return await _stream(messages, out, stop, lambda e: (f"event={e}", {"event": e}))


STREAMS: dict[str, StreamCommand] = {"state-stream": state_stream, "event-stream": event_stream}
STEPS = {"transition": transition, "direct-step": direct_step, "fmq-step": fmq_step}


async def run_command(
    control: ProcessControl, options: argparse.Namespace, out: Output, config: Mapping[str, str]
) -> ExitStatus:
    """One CLI command against ``control`` (also used line by line by ``exec --script``); closes ``control``."""
    try:
        if options.command == "get-state":
            return await get_state(control, out)
        if options.command in STREAMS:
            return await _until_interrupted(STREAMS[options.command], control, out)
        arguments = {**config, **parse_assignments(options.assignments)}
        return await STEPS[options.command](control, options.first, options.second, arguments, out)
    except WrongModeError as exc:
        raise _in_user_terms(exc, options.command, control.mode) from None
    finally:
        await control.close()


def _in_user_terms(exc: WrongModeError, command: str, mode: str) -> WrongModeError:
    """Name what the user typed (``-mode fmq-step``, ``direct-step``) and the flag that would work."""
    if command in ("direct-step", "fmq-step"):  # the command chose the transport, whatever -mode says
        exc.message += f" ({command})"
        exc.hint = f"use {exc.suggested_mode}-step"
    else:
        exc.message += f" (-mode {mode})"
        exc.hint = f"try -mode {exc.suggested_mode}"
    return exc


async def _until_interrupted(stream: StreamCommand, control: ProcessControl, out: Output) -> ExitStatus:
    """Run a stream command; SIGINT/SIGTERM end it cleanly (exit 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        return await stream(control, out, stop)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
