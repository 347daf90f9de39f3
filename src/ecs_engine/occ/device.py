"""A FairMQ-like device for Python: the FairMQ state machine served over the OCClite JSON codec.

Subclass ``FairMQDevice`` and call ``main()``. The device answers the three bare methods of the OCClite plugin
(``GetState``, ``Transition``, ``EventStream``; protocols.md §5) the way the C++ plugin does: a Transition
blocks through the automatic states and replies with the state reached; any failure (state mismatch, unknown
or illegal event, unreadable payload) is gRPC CANCELLED with no message; EventStream carries one
NULL_DEVICE_EVENT when the device reaches EXITING or ERROR, then ends.

Hooks, called on the way through the states: ``init`` (COMPLETE INIT, after the INIT DEVICE arguments became
properties), ``bind``, ``connect``, ``init_task``, ``run`` (async, while RUNNING; returning stops the run),
``reset_task``, ``reset``. A hook that raises sends the device to ERROR. Beyond FairMQ, ERROR can be left with
RESET DEVICE (to IDLE) or END.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import grpc
import grpc.aio

from ecs_engine.protocols import occ_pb2

from . import fairmq, jsoncodec
from .arguments import PTREE_PREFIX, to_tree
from .options import ControlOptions
from .process import END_OF_MESSAGES, call_hook, drain_until_end, failure_text, require_async
from .serving import run_control_main, serve_control, unabandoned

log = logging.getLogger(__name__)

INT_CHANNEL_KEYS = ("rateLogging", "rcvBufSize", "sndBufSize", "linger", "rcvKernelSize", "sndKernelSize")
# Hook run on entering each state.
ENTRY_HOOKS = {
    fairmq.INITIALIZED: "init",
    fairmq.BINDING: "bind",
    fairmq.CONNECTING: "connect",
    fairmq.INITIALIZING_TASK: "init_task",
    fairmq.RESETTING_TASK: "reset_task",
    fairmq.RESETTING_DEVICE: "reset",
}


class Refused(Exception):
    """A Transition the plugin answers with CANCELLED; the reason is only logged."""


def property_value(key: str, value: str) -> Any:
    """A pushed argument as the OCClite plugin stores it: some channel keys as int or bool, the rest as text."""
    last = key.rsplit(".", 1)[-1]
    if key.startswith("chans."):
        if last in INT_CHANNEL_KEYS:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"property {key}={value!r}: expected an integer") from None
        if last == "autoBind":
            return value.strip().lower() in ("1", "true", "yes")
    return value


class FairMQDevice:
    """Base class of a FairMQ-like device. Override the hooks; properties hold the pushed arguments."""

    description: ClassVar[str | None] = None
    run: ClassVar[Callable[[Any], Awaitable[None]] | None] = None  # set to an async method to do work

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        require_async(cls, "run")

    def __init__(self, options: ControlOptions | None = None):
        self.options = options or ControlOptions()
        self.id = getattr(self.options.extra, "id", None) or self.options.role
        self.port = self.options.port
        self.state = fairmq.IDLE
        self.properties: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._event_queues: set[asyncio.Queue] = set()
        self._run_task: asyncio.Task | None = None
        self._finished: asyncio.Event | None = None
        self._exit_code = 0

    def init(self) -> Any: ...

    def bind(self) -> Any: ...

    def connect(self) -> Any: ...

    def init_task(self) -> Any: ...

    def reset_task(self) -> Any: ...

    def reset(self) -> Any: ...

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the device's own flags; they arrive in ``self.options.extra``."""

    def channels(self) -> dict[str, list[dict[str, Any]]]:
        """The pushed channel configuration: name -> sub-sockets, each ``{address, method, type, ...}``."""
        found: dict[str, dict[int, dict[str, Any]]] = {}
        for key, value in self.properties.items():
            parts = key.split(".")
            if len(parts) == 4 and parts[0] == "chans" and parts[2].isdigit():
                found.setdefault(parts[1], {}).setdefault(int(parts[2]), {})[parts[3]] = value
        return {name: [subs[i] for i in sorted(subs)] for name, subs in found.items()}

    # -- state machine --

    async def request(self, source: str, event: str, arguments: list[tuple[str, str]]) -> occ_pb2.TransitionReply:
        async with self._lock:
            if source != self.state:
                raise Refused(f"state mismatch: source {source!r}, current {self.state!r}")
            target = fairmq.next_state(self.state, event)
            if target is None:
                raise Refused(f"event {event!r} is not possible in state {self.state}")
            try:
                if event == fairmq.INIT_DEVICE:
                    self._set_init_properties(arguments)
                elif event in (fairmq.RUN, fairmq.STOP):
                    self.properties.update(arguments)
            except ValueError as exc:
                log.error("%s", exc)
                target = fairmq.ERROR
            reached = await self._go(target)
        ok, trigger = fairmq.outcome(event, reached)
        return occ_pb2.TransitionReply(
            trigger=occ_pb2.StateChangeTrigger.Value(trigger), state=reached, transitionEvent=event, ok=ok
        )

    def _set_init_properties(self, arguments: list[tuple[str, str]]) -> None:
        for key, value in arguments:
            if key.startswith(PTREE_PREFIX):
                self.properties.update({name: tree for name, tree in to_tree([(key, value)]).items()})
            else:
                self.properties[key] = property_value(key, value)

    async def _go(self, target: str) -> str:
        """Enter ``target`` and follow the automatic states; a failing hook leads to ERROR."""
        while True:
            if self.state == fairmq.RUNNING and target != fairmq.RUNNING:
                self._stop_running()
            self._enter(target)
            hook = ENTRY_HOOKS.get(target)
            if hook is not None:
                method = getattr(self, hook)
                try:
                    await call_hook(method)
                except Exception as exc:
                    log.error("%s failed: %s", hook, failure_text(exc, method))
                    self._enter(fairmq.ERROR)
                    return fairmq.ERROR
            if target == fairmq.RUNNING and self.run is not None:
                self._run_task = asyncio.get_running_loop().create_task(self._run(self.run))
            if target not in fairmq.AUTOMATIC:
                return target
            target = fairmq.AUTOMATIC[target]

    async def _run(self, run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("run failed: %s", failure_text(exc, run))
            self._run_task = None
            async with self._lock:
                if self.state == fairmq.RUNNING:
                    self._enter(fairmq.ERROR)
        else:
            self._run_task = None
            async with self._lock:  # FairMQ: a device whose Run returns goes back to READY by itself
                if self.state == fairmq.RUNNING:
                    self._enter(fairmq.READY)

    def _stop_running(self) -> None:
        task, self._run_task = self._run_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _enter(self, state: str) -> None:
        self.state = state
        log.info("state %s", state)
        if state in (fairmq.EXITING, fairmq.ERROR):
            for queue in self._event_queues:
                queue.put_nowait(occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=occ_pb2.NULL_DEVICE_EVENT)))
                queue.put_nowait(END_OF_MESSAGES)
        if state == fairmq.EXITING:
            self._finish(0)

    def stop(self, exit_code: int = 0) -> None:
        """Stop serving as SIGTERM does: end the streams, and let ``serve`` return ``exit_code``."""
        self._finish(exit_code)

    def _finish(self, exit_code: int) -> None:
        self._stop_running()
        self._exit_code = exit_code
        for queue in self._event_queues:
            queue.put_nowait(END_OF_MESSAGES)
        if self._finished is not None:
            self._finished.set()

    def events(self) -> AsyncIterator[Any]:
        """EventStream messages for one subscriber, from now until EXITING or ERROR."""
        queue: asyncio.Queue = asyncio.Queue()
        self._event_queues.add(queue)
        return drain_until_end(queue, self._event_queues)

    # -- serving --

    async def serve(self) -> int:
        """Serve OCClite until END (returns 0) or SIGTERM/SIGINT (returns 128 + signal)."""
        return await serve_control(
            self,
            lambda server: server.add_generic_rpc_handlers([_OccLiteHandler(self)]),
            f"OCClite control of device {self.id}",
        )

    @classmethod
    def main(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
        return run_control_main(
            cls,
            argv,
            environ,
            extra_arguments=_fairmq_arguments,
            environment_first=True,
        )


def _fairmq_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags a core gives every FairMQ device (protocols.md §5), so that none is taken for a misspelt one."""
    parser.add_argument("--id", help="device id (the core passes the task id)")
    parser.add_argument("-P", "--plugin", help="FairMQ control plugin (this device serves OCClite)")
    parser.add_argument("-S", "--plugin-search-path", help="where FairMQ looks for plugins (unused here)")
    parser.add_argument("--color", help="FairMQ's coloured logging (unused here)")


class _OccLiteHandler(grpc.GenericRpcHandler):
    """The plugin's three bare method names; payloads are raw JSON bytes."""

    def __init__(self, device: FairMQDevice):
        self.device = device
        self.handlers = {
            jsoncodec.GET_STATE: grpc.unary_unary_rpc_method_handler(self.get_state),
            jsoncodec.TRANSITION: grpc.unary_unary_rpc_method_handler(self.transition),
            jsoncodec.EVENT_STREAM: grpc.unary_stream_rpc_method_handler(self.event_stream),
        }

    def service(self, handler_call_details):
        return self.handlers.get(handler_call_details.method)

    async def get_state(self, payload: bytes, context) -> bytes:
        await _decode_or_cancel(payload, occ_pb2.GetStateRequest, context)
        reply = occ_pb2.GetStateReply(state=self.device.state, pid=os.getpid())
        return jsoncodec.encode(reply, omit_empty=False)

    async def transition(self, payload: bytes, context) -> bytes:
        request = await _decode_or_cancel(payload, occ_pb2.TransitionRequest, context)
        arguments = [(entry.key, entry.value) for entry in request.arguments if entry.key]
        try:
            reply = await unabandoned(
                self.device.request(request.srcState, request.transitionEvent, arguments),
                f"{request.transitionEvent} from {request.srcState}",
            )
        except Refused as exc:
            log.info("transition %r from %r refused: %s", request.transitionEvent, request.srcState, exc)
            await context.abort(grpc.StatusCode.CANCELLED, "")
        return jsoncodec.encode(reply, omit_empty=False)

    async def event_stream(self, payload: bytes, context):
        await _decode_or_cancel(payload, occ_pb2.EventStreamRequest, context)
        messages = self.device.events()
        await context.send_initial_metadata(())
        async for message in messages:
            yield jsoncodec.encode(message, omit_empty=False)


async def _decode_or_cancel(payload: bytes, cls: type, context):
    try:
        return jsoncodec.decode(payload, cls)
    except jsoncodec.CodecError as exc:
        log.info("unreadable request: %s", exc)
        await context.abort(grpc.StatusCode.CANCELLED, "")
