"""peanut's commands (CLI mode) and their dispatcher: each drives the process once, prints the result and
returns an exit status.

Text output follows upstream peanut (``ok  state=X trigger=Y``); ``-o json`` prints one JSON object per result
(per message for the streams). Progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ecs_engine.errors import ExitStatus, HandledError, RefusedError, UnreachableError, UsageError
from ecs_engine.occ import fairmq, states
from ecs_engine.occ.errors import DIRECT, WrongModeError

from .control import Outcome, ProcessControl, StateView, StepRefused
from .inputs import parse_assignments
from .output import Output

M = TypeVar("M")
StreamCommand = Callable[[ProcessControl, Output, asyncio.Event], Awaitable[ExitStatus]]


def _not_done(outcome: Outcome, what: str) -> HandledError:
    """Exit 1 if the process tried and failed (ERROR), 5 if it refused; both say where it is now."""
    text = f"{what}: the process is in {outcome.raw_state} (ok={str(outcome.ok).lower()}, trigger {outcome.trigger})"
    return HandledError(text) if outcome.failed else RefusedError(text)


async def _step(
    out: Output, what: str, render: Callable[[Outcome], tuple[str, dict[str, Any]]], drive: Awaitable[Outcome]
) -> ExitStatus:
    """Drive one transition and print its result line, also for a refusal (scripts get one line per answer)."""
    error: HandledError | None
    try:
        outcome = await drive
    except StepRefused as exc:
        outcome, error = exc.outcome, exc
    else:
        error = None if outcome.ok else _not_done(outcome, what)
    text, data = render(outcome)
    if error is not None:
        data["error"] = error.message
    out.result(text, data)
    if error is not None:
        raise error
    return ExitStatus.OK


def _with_trigger(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    trigger = f" trigger={outcome.trigger}" if outcome.trigger else ""  # a refused call has none
    return f"{outcome.verdict}  state={outcome.state}{trigger}", outcome.as_dict()


async def get_state(control: ProcessControl, out: Output) -> ExitStatus:
    view = await control.state()
    data = {"state": view.raw, "occState": view.shown if control.mode != DIRECT else view.raw, "pid": view.pid}
    out.result(view.raw, data)
    return ExitStatus.OK


def _possible_from(source: str) -> str | None:
    """``from X peanut can go to Y (EVENT), ...``, None if no transition leaves ``source``."""
    possible = ", ".join(
        f"{target_state} ({event})"
        for (state, event), target_state in states.TRANSITIONS.items()
        if state == source and event in states.EXPECTED_FINAL_STATE
    )
    return f"from {source} peanut can go to {possible}" if possible else None


def _occ_event(source: str, target: str) -> str:
    event = states.event_between(source, target)
    if event is None:
        raise UsageError(
            f"transition {source} {target}: no OCC transition leads from {source} to {target}",
            hint=_possible_from(source) or f"{source} is not an OCC state",
        )
    return event


async def transition(
    control: ProcessControl, source: str, target: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    """``transition FROM TO``: the matching OCC event (direct), or its FairMQ sequence (fmq)."""
    source, target = source.upper(), target.upper()
    event = _occ_event(source, target)
    progress = out.progress if control.mode != DIRECT else None
    drive = control.occ_transition(source, event, arguments, progress=progress, say=_indented(out))
    render = _with_trigger if control.mode == DIRECT else _occ_state_only
    try:
        return await _step(out, f"transition {source} -> {target} ({event})", render, drive)
    except StepRefused as exc:  # the process is elsewhere: say where it can go from there
        now = fairmq.occ_state(exc.outcome.raw_state) if control.mode != DIRECT else exc.outcome.raw_state
        possible = _possible_from(now) if now != source else None
        if possible:
            exc.hint = f"{possible}; {exc.hint}" if exc.hint else possible
        raise


def _indented(out: Output) -> Callable[[str], None]:
    return lambda text: out.note(f"  {text}")


def _occ_state_only(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    return f"{outcome.verdict}  state={fairmq.occ_state(outcome.raw_state)}", outcome.as_dict()


async def direct_step(
    control: ProcessControl, source: str, event: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    return await _step(out, f"{event} from {source}", _with_trigger, control.direct_step(source, event, arguments))


async def fmq_step(
    control: ProcessControl, source: str, event: str, arguments: Mapping[str, str], out: Output
) -> ExitStatus:
    drive = control.fmq_step(source, event, arguments, progress=out.progress)
    return await _step(out, f"{event} from {source}", _fmq_states, drive)


def _fmq_states(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    occ_state = fairmq.occ_state(outcome.raw_state)
    return f"{outcome.verdict}  fmq-state={outcome.raw_state}  occ-state={occ_state}", {
        **outcome.as_dict(),
        "occState": occ_state,
    }


async def _stream(
    control: ProcessControl,
    name: str,
    messages: AsyncIterator[M],
    out: Output,
    stop: asyncio.Event,
    render: Callable[[M], tuple[str, dict[str, Any]]],
    waiting: Callable[[StateView], str | None] = lambda view: None,
) -> ExitStatus:
    """Print ``messages`` until the process ends the stream (a note, exit 0), goes away (exit 3) or ``stop``;
    ``waiting`` says what comes, if anything, for a process in that state."""
    view = await control.state()  # an address where nothing answers fails here, as any command does, before the note
    await control.client().streams_ready(timeout=1.0)  # confirmed at once by our processes, not by OCClib
    out.note(f"streaming the {name} of {control.address}  (ctrl-c to stop)")
    if note := waiting(view):
        out.note(f"peanut: {note}")

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
        try:
            pumping.result()
        except UnreachableError:
            raise UnreachableError(f"the {name} of {control.address} broke off: the process went away") from None
        out.note(f"peanut: the process ended the {name}")
    return ExitStatus.OK


async def state_stream(control: ProcessControl, out: Output, stop: asyncio.Event) -> ExitStatus:
    """Print state changes until the process ends the stream (DONE) or ``stop`` is set (Ctrl-C)."""
    return await _stream(
        control,
        "StateStream",
        control.client().state_stream(),
        out,
        stop,
        lambda m: (f"type={m.type:<12}  state={m.state}", {"type": m.type, "state": m.state}),
    )


NULL_EVENT_MEANS = "  (OCClite: the device reached EXITING or ERROR; the stream ends)"
IN_ERROR_WAITS = (
    "the device is in ERROR already: OCClite sends its one event, NULL_DEVICE_EVENT, as a device reaches EXITING "
    "or ERROR, so it comes after END (to EXITING) or RESET DEVICE and a new failure; waiting for events (Ctrl-C "
    "to stop)"
)


async def event_stream(control: ProcessControl, out: Output, stop: asyncio.Event) -> ExitStatus:
    """Print device events until the process ends the stream or ``stop`` is set (Ctrl-C)."""

    def render(event: str) -> tuple[str, dict[str, Any]]:
        return f"event={event}" + (NULL_EVENT_MEANS if event == "NULL_DEVICE_EVENT" else ""), {"event": event}

    def waiting(view: StateView) -> str | None:
        """A device in ERROR sends nothing until it leaves it (the C++ plugin alike): peanut says so, not hangs."""
        return IN_ERROR_WAITS if control.mode != DIRECT and view.raw == fairmq.ERROR else None

    return await _stream(control, "EventStream", control.client().event_stream(), out, stop, render, waiting)


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
        if options.command == "fmq-step":
            check_quoted([options.first, options.second, *options.assignments])
        arguments = {**config, **parse_assignments(options.assignments)}
        return await STEPS[options.command](control, options.first, options.second, arguments, out)
    except WrongModeError as exc:
        raise _in_user_terms(exc, options.command, control.mode) from None
    finally:
        await control.close()


#: the FairMQ states and events of two words, which the shell splits unless quoted
_TWO_WORDS = {name for pair in fairmq.TRANSITIONS.items() for name in (*pair[0], pair[1]) if " " in name}


def check_quoted(words: list[str]) -> None:
    """``fmq-step IDLE INIT DEVICE``: say to quote the event, rather than 'argument DEVICE: expected key=value'."""
    grouped, i = [], 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        grouped.append(pair if pair in _TWO_WORDS else words[i])
        i += 2 if pair in _TWO_WORDS else 1
    if grouped != words:
        names = ", ".join(repr(name) for name in grouped if name not in words)
        raise UsageError(
            f"fmq-step: FairMQ names of two words are one argument each: quote {names}",
            hint=shlex.join(["peanut", "fmq-step", *grouped]),
        )


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
