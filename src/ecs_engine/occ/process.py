"""Make a Python process controllable over OCC: subclass ``ControlledProcess`` and call ``main()``.

The process then serves ``occ_pb.Occ`` (GetState, Transition, StateStream, EventStream) on its control port
and answers exactly as a real OCClib process does (occ-peer-behaviour.md): the same state machine, the same
srcState check (INVALID_ARGUMENT), UNKNOWN for events other than the seven requestable ones, ``ok``/``trigger``
computed the same way, a stream message per state change, and EXIT ending both streams and the process.
Unlike OCClib, any number of stream subscribers work, and GetState is never held up by a running process.

    class Reader(ControlledProcess):
        async def on_configure(self, arguments): ...   # the pushed arguments, dict of str
        async def running(self): ...                   # runs while RUNNING; returning = end of data

    if __name__ == "__main__":
        sys.exit(Reader.main())

A hook that raises or returns a value sends the process to ERROR (leave it with RECOVER). Hooks may be plain or
async functions.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import grpc
import grpc.aio

from ecs_engine.protocols import occ_pb2, occ_pb2_grpc

from . import states
from .arguments import run_number
from .options import ControlOptions
from .serving import run_control_main, serve_control, unabandoned

log = logging.getLogger(__name__)

HOOKS: dict[str, str] = {
    states.CONFIGURE: "on_configure",
    states.START: "on_start",
    states.STOP: "on_stop",
    states.RESET: "on_reset",
    states.RECOVER: "on_recover",
    states.EXIT: "on_exit",
    states.PAUSE: "on_pause",
    states.RESUME: "on_resume",
}
END_OF_MESSAGES = object()  # ends a subscriber's queue


async def call_hook(hook: Callable[..., Any], *args: Any) -> None:
    """Run a hook, plain or async. It succeeds by returning nothing: a value returned would be silently lost,
    and one ported from OCClib may return non-zero to fail, so a returned value is a failure that says why."""
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    if result is not None:
        raise HookError(f"returned {result!r}: a hook returns nothing (None); raise an exception to fail")


def require_async(cls: type, name: str) -> None:
    """A plain ``def running`` would block the process, or fail at START with a puzzling TypeError: say so
    when the class is defined."""
    method = getattr(cls, name)
    if method is not None and not inspect.iscoroutinefunction(method):
        raise TypeError(f"{cls.__name__}.{name} must be an async method: async def {name}(self): ...")


class HookError(Exception):
    """A hook broke the hooks' contract (it returned a value)."""


def failure_text(exc: BaseException, hook: Callable[..., Any]) -> str:
    """``KeyError: 'x' (reader.py:12)``: the exception and the last line of the hook's own file it went
    through (the author's code, not the library's or the standard library's), so that its author finds it."""
    if isinstance(exc, HookError):
        return str(exc)
    where = ""
    try:
        own_file = inspect.getsourcefile(hook)
    except TypeError:
        own_file = None
    frame = exc.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == own_file:
            where = f" ({os.path.basename(own_file)}:{frame.tb_lineno})"
        frame = frame.tb_next
    return f"{type(exc).__name__}: {exc}{where}"


class ControlledProcess:
    """Base class of an OCC-controlled process. Override the ``on_*`` hooks and optionally ``running``."""

    description: ClassVar[str | None] = None
    # Set ``running`` to an async method to have it run while RUNNING (cancelled at STOP, PAUSE and EXIT).
    # Returning from it reports END_OF_STREAM (once per run); raising reports TASK_INTERNAL_ERROR and ERROR.
    running: ClassVar[Callable[[Any], Awaitable[None]] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        require_async(cls, "running")

    def __init__(self, options: ControlOptions | None = None):
        self.options = options or ControlOptions()
        self.role = self.options.role
        self.port = self.options.port
        self.state: str = states.STANDBY
        self.run_number = 0
        self.arguments: dict[str, str] = {}  # those of the last CONFIGURE
        self._lock = asyncio.Lock()
        self._state_queues: set[asyncio.Queue] = set()
        self._event_queues: set[asyncio.Queue] = set()
        self._run_task: asyncio.Task | None = None
        self._finished: asyncio.Event | None = None
        self._exit_code = 0
        self._hook_task: asyncio.Task | None = None  # the task running a transition's hook, while it runs

    # -- hooks: override what the process needs --

    def on_configure(self, arguments: dict[str, str]) -> Any: ...

    def on_start(self, arguments: dict[str, str]) -> Any: ...

    def on_stop(self, arguments: dict[str, str]) -> Any: ...

    def on_reset(self, arguments: dict[str, str]) -> Any: ...

    def on_recover(self, arguments: dict[str, str]) -> Any: ...

    def on_exit(self, arguments: dict[str, str]) -> Any: ...

    def on_pause(self, arguments: dict[str, str]) -> Any: ...

    def on_resume(self, arguments: dict[str, str]) -> Any: ...

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the process's own command line flags; they arrive in ``self.options.extra``."""

    # -- what the process itself can report --

    def end_of_stream(self) -> None:
        """Tell the controller that the data ended (EventStream END_OF_STREAM); the state does not change."""
        self._publish_event(occ_pb2.END_OF_STREAM)

    def internal_error(self, reason: str) -> None:
        """Go to ERROR on the process's own initiative and report TASK_INTERNAL_ERROR, as OCClib's check does."""
        log.error("internal error: %s", reason)
        self._stop_running()
        if self.state not in (states.ERROR, states.DONE):
            self._enter(states.ERROR)
        self._publish_event(occ_pb2.TASK_INTERNAL_ERROR)

    async def pause(self) -> str:
        """RUNNING -> PAUSED on the process's own initiative (OCC offers no PAUSE request). Returns the state."""
        return await self._own_initiative(states.PAUSE)

    async def resume(self) -> str:
        """PAUSED -> RUNNING on the process's own initiative. Returns the state."""
        return await self._own_initiative(states.RESUME)

    async def _own_initiative(self, event: str) -> str:
        if self._hook_task is not None and self._hook_task is asyncio.current_task():
            # it would wait for the lock its own transition holds: the process would hang, every call with it
            raise RuntimeError(f"{event.lower()}() in a hook waits for the hook's own transition: call it from running")
        async with self._lock:
            return await self._apply(event, {})

    # -- state machine --

    async def request(self, source: str, event: str, arguments: Mapping[str, str]) -> occ_pb2.TransitionReply:
        """Handle one Transition request; raises TransitionRefused for the gRPC-level refusals."""
        if event not in states.EXPECTED_FINAL_STATE:
            raise TransitionRefused(
                grpc.StatusCode.UNKNOWN,
                f"unknown transition event {event!r}: expected one of {', '.join(states.REQUESTABLE_EVENTS)}",
            )
        async with self._lock:
            if self.state == states.DONE:
                raise TransitionRefused(grpc.StatusCode.FAILED_PRECONDITION, "transition not possible: process is DONE")
            if source != self.state:
                raise TransitionRefused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"transition not possible: state mismatch: source: {source} current: {self.state}",
                )
            self.run_number = run_number(arguments)
            reached = await self._apply(event, dict(arguments))
        ok, trigger = states.outcome(event, reached)
        return occ_pb2.TransitionReply(
            trigger=occ_pb2.StateChangeTrigger.Value(trigger), state=reached, transitionEvent=event, ok=ok
        )

    async def _apply(self, event: str, arguments: dict[str, str]) -> str:
        target = states.next_state(self.state, event)
        if target is None:
            log.info("invalid event %s received in state %s", event, self.state)
            return self.state
        if target != states.RUNNING:
            self._stop_running()
        if event == states.CONFIGURE:
            self.arguments = arguments
        source, hook = self.state, getattr(self, HOOKS[event])
        self._hook_task = asyncio.current_task()
        try:
            await call_hook(hook, arguments)
        except Exception as exc:
            log.error("%s failed in %s: %s", HOOKS[event], source, failure_text(exc, hook))
            if self.state != states.ERROR:
                self._enter(states.ERROR)
            return states.ERROR
        finally:
            self._hook_task = None
        if self.state != source:  # the hook went to ERROR itself (internal_error): the transition ends there
            return self.state
        self._enter(target)
        if target == states.RUNNING and self.running is not None:
            self._run_task = asyncio.get_running_loop().create_task(self._run(self.running))
        return target

    async def _run(self, running: Callable[[], Awaitable[None]]) -> None:
        try:
            await running()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._run_task = None
            self.internal_error(f"running: {failure_text(exc, running)}")
        else:
            self._run_task = None
            self.end_of_stream()

    def _stop_running(self) -> None:
        task, self._run_task = self._run_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _enter(self, state: str) -> None:
        self.state = state
        log.info("state %s", state)
        for queue in self._state_queues:
            queue.put_nowait(occ_pb2.StateStreamReply(type=occ_pb2.STATE_STABLE, state=state))
        if state == states.DONE:
            self._finish(0)

    def _publish_event(self, kind: occ_pb2.DeviceEventType) -> None:
        for queue in self._event_queues:
            queue.put_nowait(occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=kind)))

    def stop(self, exit_code: int = 0) -> None:
        """Stop serving as SIGTERM does: end the streams, and let ``serve`` return ``exit_code``."""
        self._finish(exit_code)

    def _finish(self, exit_code: int) -> None:
        """End both streams and let ``serve`` stop the server and return ``exit_code``."""
        self._stop_running()
        self._exit_code = exit_code
        for queue in self._state_queues | self._event_queues:
            queue.put_nowait(END_OF_MESSAGES)
        if self._finished is not None:
            self._finished.set()

    def subscribe(self, kind: str) -> AsyncIterator[Any]:
        """Messages for one StateStream (``kind="state"``) or EventStream subscriber, from now until the end."""
        queue: asyncio.Queue = asyncio.Queue()
        if self.state == states.DONE:
            queue.put_nowait(END_OF_MESSAGES)
        queues = self._state_queues if kind == "state" else self._event_queues
        queues.add(queue)
        return drain_until_end(queue, queues)

    # -- serving --

    async def serve(self) -> int:
        """Listen on the control port until EXIT (returns 0) or SIGTERM/SIGINT (returns 128 + signal)."""
        return await serve_control(
            self,
            lambda server: occ_pb2_grpc.add_OccServicer_to_server(_OccService(self), server),
            f"OCC control of role {self.role}",
        )

    @classmethod
    def main(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
        """Parse the control flags, serve until EXIT, return the exit code. Errors are one line on stderr."""
        return run_control_main(cls, argv, environ)


async def drain_until_end(queue: asyncio.Queue, queues: set[asyncio.Queue]) -> AsyncIterator[Any]:
    try:
        while (item := await queue.get()) is not END_OF_MESSAGES:
            yield item
    finally:
        queues.discard(queue)


class TransitionRefused(Exception):
    """A Transition answered with a gRPC error status instead of a reply."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class _OccService(occ_pb2_grpc.OccServicer):
    def __init__(self, process: ControlledProcess):
        self.process = process

    async def GetState(self, request, context):
        return occ_pb2.GetStateReply(state=self.process.state, pid=os.getpid())

    async def Transition(self, request, context):
        arguments = {entry.key: entry.value for entry in request.arguments}
        try:
            return await unabandoned(
                self.process.request(request.srcState, request.transitionEvent, arguments),
                f"{request.transitionEvent} from {request.srcState}",
            )
        except TransitionRefused as refused:
            log.info("%s", refused.message)
            await context.abort(refused.code, refused.message)

    async def StateStream(self, request, context):
        messages = self.process.subscribe("state")
        await context.send_initial_metadata(())  # tells the client it is subscribed
        async for message in messages:
            yield message

    async def EventStream(self, request, context):
        messages = self.process.subscribe("event")
        await context.send_initial_metadata(())
        async for message in messages:
            yield message
