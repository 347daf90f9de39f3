"""The async OCC client: GetState, Transition and the two streams of one controlled process.

Speaks both transports: OCC protobuf (``direct``: OCClib processes and our Python library) and the OCClite
JSON codec (``fmq``: FairMQ devices). Reused by peanut and by the executor.

A real OCClib process serves only one StateStream and one EventStream subscriber at a time, and a second
subscription silently deafens the first (occ-peer-behaviour.md §6.5). So a client opens each stream at most
once, on first use, keeps it until the process ends it, and shares it between any number of local readers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from ecs_engine.errors import DeadlineError, ExitStatus, HandledError, UsageError
from ecs_engine.protocols import occ_pb2, occ_pb2_grpc

from . import jsoncodec
from .arguments import as_pairs
from .errors import DIRECT, FMQ, WrongModeError, from_rpc_error, seconds

DEFAULT_TIMEOUT = 30.0  # RUNNING OCClib processes can take over 1 s to answer anything
#: seconds a connection may take to become a gRPC one (TCP, then HTTP/2's SETTINGS frame). gRPC takes its
#: "min_reconnect_backoff" for this time: at 100 ms a process whose handshake came later (a starved one, a
#: distant host) was "nothing answers" at once. A call keeps its own deadline.
CONNECT_TIMEOUT = 3.0
CHANNEL_OPTIONS = (
    ("grpc.enable_http_proxy", 0),  # the peer is local; never go through an http_proxy from the environment
    ("grpc.initial_reconnect_backoff_ms", 100),  # a process that starts listening is found within 0.1-1 s
    ("grpc.min_reconnect_backoff_ms", int(CONNECT_TIMEOUT * 1000)),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
MODES = (DIRECT, FMQ)
log = logging.getLogger(__name__)
_NOT_ANSWERING_YET = (ExitStatus.UNREACHABLE, ExitStatus.TIMEOUT)


@dataclass(frozen=True)
class StateInfo:
    state: str
    pid: int


@dataclass(frozen=True)
class TransitionResult:
    state: str
    ok: bool
    trigger: str  # EXECUTOR, DEVICE_INTENTIONAL or DEVICE_ERROR
    event: str  # the transitionEvent echoed by the process

    def reached(self, target: str) -> bool:
        """The executor's success rule: ok, triggered by us, and really in ``target`` now."""
        return self.ok and self.trigger == "EXECUTOR" and self.state == target


@dataclass(frozen=True)
class StateUpdate:
    type: str  # STATE_STABLE or STATE_INTERMEDIATE
    state: str


_END = object()


class _SharedStream:
    """One server stream read by a background task and fanned out to local readers; never reopened.

    Readers are callbacks (``listen``: the cheapest, for the executor's hundreds of streams) or async
    iterators (``subscribe``: for peanut).
    """

    def __init__(
        self,
        what: str,
        open_call: Callable[[], Any],
        convert: Callable[[Any], Any],
        describe: Callable[[Exception], Any],
    ):
        self.what = what  # "<method> of <address>", for messages
        self._open_call = open_call
        self._convert = convert
        self._describe = describe
        self._readers: list[Callable[[Any], Any]] = []  # each gets every item, then _END
        self._call: Any = None
        self._task: asyncio.Task | None = None
        self._error: HandledError | None = None
        self.ended = False

    def _start(self) -> None:
        if self._task is None and not self.ended:
            self._call = self._open_call()
            self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        call = self._call
        try:
            while (message := await call.read()) is not grpc.aio.EOF:
                self._deliver(self._convert(message))
        except asyncio.CancelledError:
            pass
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED or not self._call.cancelled():
                self._error = self._describe(exc)
        finally:
            self.ended = True
            self._deliver(_END)

    def _deliver(self, item: Any) -> None:
        for reader in self._readers:
            try:
                reader(item)
            except Exception:
                log.exception("a reader of the %s failed", self.what)

    def listen(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(item)`` in the event loop for every message from now on."""

        def reader(item: Any) -> None:
            if item is not _END:
                callback(item)

        self._readers.append(reader)
        self._start()

    def subscribe(self) -> AsyncIterator[Any]:
        """A local reader that receives every message from now on (registered at once, not at first read)."""
        queue: asyncio.Queue = asyncio.Queue()
        if self.ended:
            queue.put_nowait(_END)
        self._readers.append(queue.put_nowait)
        self._start()
        return self._read(queue)

    async def _read(self, queue: asyncio.Queue) -> AsyncIterator[Any]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    if self._error is not None:
                        raise self._error
                    return
                yield item
        finally:
            self._readers.remove(queue.put_nowait)

    async def confirmed(self, timeout: float) -> bool:
        """Whether the process confirmed the subscription (initial metadata) within ``timeout`` seconds.

        Our server library confirms at once; OCClib sends nothing before its first message, so with it this
        returns False after the timeout and the subscription is only known to have been sent.
        """
        if self._call is None or self.ended:
            return False
        try:
            await asyncio.wait_for(self._call.initial_metadata(), timeout)
        except (TimeoutError, grpc.RpcError):
            return False
        return not self.ended

    async def close(self) -> None:
        if self._call is not None and not self.ended:
            self._call.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


@functools.lru_cache(maxsize=64)
def _transition_request(source: str, event: str, arguments: tuple[tuple[str, str], ...]) -> occ_pb2.TransitionRequest:
    """One request message per distinct transition, shared read-only by its calls (each call serializes it):
    START and STOP send the same arguments to every task, and building the message with its ConfigEntries for
    each task cost the core's loop 0.5-1 ms per transition of 100 tasks (START pushes ~8 run variables)."""
    return occ_pb2.TransitionRequest(
        srcState=source,
        transitionEvent=event,
        arguments=[occ_pb2.ConfigEntry(key=k, value=v) for k, v in arguments],
    )


def _json_method(channel: grpc.aio.Channel, name: str, reply_type: type, *, stream: bool = False):
    factory = channel.unary_stream if stream else channel.unary_unary
    return factory(
        name,
        request_serializer=jsoncodec.encode,
        response_deserializer=lambda data: jsoncodec.decode(data, reply_type),
    )


class OccClient:
    """Control of one process at ``address`` (host:port) over ``mode`` (``direct`` or ``fmq``)."""

    def __init__(self, address: str, mode: str = DIRECT, *, timeout: float = DEFAULT_TIMEOUT):
        if mode not in MODES:
            raise UsageError(f"OCC transport must be one of {', '.join(MODES)}, not {mode!r}")
        self.address = address
        self.mode = mode
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[str, Any] = {}
        self._streams: dict[str, _SharedStream] = {}

    # -- plumbing --

    def _method(self, name: str):
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS)
            if self.mode == DIRECT:
                stub = occ_pb2_grpc.OccStub(self._channel)
                self._methods = {n: getattr(stub, n) for n in ("GetState", "Transition", "StateStream", "EventStream")}
            else:
                self._methods = {
                    "GetState": _json_method(self._channel, jsoncodec.GET_STATE, occ_pb2.GetStateReply),
                    "Transition": _json_method(self._channel, jsoncodec.TRANSITION, occ_pb2.TransitionReply),
                    "EventStream": _json_method(
                        self._channel, jsoncodec.EVENT_STREAM, occ_pb2.EventStreamReply, stream=True
                    ),
                }
        return self._methods[name]

    def _error(self, exc: grpc.RpcError, what: str, timeout: float | None) -> HandledError:
        return from_rpc_error(exc, what=what, address=self.address, mode=self.mode, timeout=timeout)

    async def close(self) -> None:
        """Close the streams and the channel. The streams are dropped: each refers back to this client (its
        errors name the address) and to its readers (the executor's driver, which holds this client), a cycle
        that would keep a closed task's objects until a full collection."""
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            await stream.close()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> OccClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- calls --

    async def get_state(self, *, timeout: float | None = None, wait_for_ready: bool = False) -> StateInfo:
        timeout = self.timeout if timeout is None else timeout
        try:
            reply = await self._method("GetState")(
                occ_pb2.GetStateRequest(), timeout=timeout, wait_for_ready=wait_for_ready
            )
        except grpc.RpcError as exc:
            raise self._error(exc, "GetState", timeout) from None
        return StateInfo(reply.state, reply.pid)

    async def transition(
        self,
        source: str,
        event: str,
        arguments: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        timeout: float | None = None,
    ) -> TransitionResult:
        """Send one Transition; gRPC-level refusals raise, an answered request returns its reply as is."""
        timeout = self.timeout if timeout is None else timeout
        request = _transition_request(source, event, tuple(as_pairs(arguments)))
        try:
            reply = await self._method("Transition")(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self._error(exc, f"Transition {source}/{event}", timeout) from None
        trigger = occ_pb2.StateChangeTrigger.Name(reply.trigger) if reply.trigger in (0, 1, 2) else str(reply.trigger)
        return TransitionResult(reply.state, reply.ok, trigger, reply.transitionEvent)

    async def wait_reachable(
        self, timeout: float, *, alive: Callable[[], bool] | None = None, poll: float = 0.05
    ) -> StateInfo:
        """Poll GetState until the process answers; ``alive`` returning False (it exited) stops the wait."""
        deadline = time.monotonic() + timeout
        while True:
            if alive is not None and not alive():
                raise HandledError(f"the process meant to listen at {self.address} exited before answering")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineError(
                    f"nothing answered GetState at {self.address} within {seconds(timeout)} s",
                    hint="raise the time limit (-timeout), or check that the process uses this control port",
                )
            try:
                return await self.get_state(timeout=min(remaining, 1.0), wait_for_ready=True)
            except HandledError as exc:
                if exc.exit_status not in _NOT_ANSWERING_YET:
                    raise
            await asyncio.sleep(poll)

    # -- streams --

    def state_stream(self) -> AsyncIterator[StateUpdate]:
        """State changes (no initial state). Ends when the process reaches DONE. Not available over OCClite."""
        return self._state_shared().subscribe()

    def event_stream(self) -> AsyncIterator[str]:
        """Device events by DeviceEventType name (END_OF_STREAM, TASK_INTERNAL_ERROR, ...)."""
        return self._event_shared().subscribe()

    def on_state(self, callback: Callable[[StateUpdate], None]) -> None:
        """``state_stream`` delivered to ``callback`` in the event loop (no task, no queue per message)."""
        self._state_shared().listen(callback)

    def on_event(self, callback: Callable[[str], None]) -> None:
        """``event_stream`` delivered to ``callback`` in the event loop."""
        self._event_shared().listen(callback)

    def _state_shared(self) -> _SharedStream:
        if self.mode != DIRECT:
            raise UsageError(
                "the FairMQ OCClite plugin has no StateStream",
                hint="use -mode direct for OCClib processes, or poll get-state",
            )
        return self._shared(
            "StateStream",
            occ_pb2.StateStreamRequest,
            lambda m: StateUpdate(occ_pb2.StateType.Name(m.type), m.state),
        )

    def _event_shared(self) -> _SharedStream:
        return self._shared("EventStream", occ_pb2.EventStreamRequest, _event_name)

    async def streams_ready(self, timeout: float = 2.0) -> bool:
        """Wait until the streams opened so far are confirmed by the process (see ``_SharedStream.confirmed``)."""
        results = await asyncio.gather(*(s.confirmed(timeout) for s in self._streams.values()))
        return bool(results) and all(results)

    def stream_ended(self, name: str) -> bool:
        """Whether the ``StateStream``/``EventStream`` this client opened has been ended by the process."""
        stream = self._streams.get(name)
        return stream is not None and stream.ended

    def _shared(self, name: str, request_type: type, convert: Callable[[Any], Any]) -> _SharedStream:
        if name not in self._streams:
            method = self._method(name)
            self._streams[name] = _SharedStream(
                f"{name} of {self.address}",
                lambda: method(request_type()),
                convert,
                lambda exc: self._error(exc, name, None),
            )
        return self._streams[name]


def _event_name(message: occ_pb2.EventStreamReply) -> str:
    kind = message.event.type
    return occ_pb2.DeviceEventType.Name(kind) if kind in occ_pb2.DeviceEventType.values() else str(kind)


async def probe_mode(address: str, *, timeout: float = 2.0) -> str | None:
    """Which transport the process at ``address`` speaks (``direct``/``fmq``), None if neither.

    Raises UnreachableError if nothing answers at all.
    """
    for mode in MODES:
        async with OccClient(address, mode, timeout=timeout) as client:
            try:
                await client.get_state()
            except WrongModeError:
                continue
            return mode
    return None
