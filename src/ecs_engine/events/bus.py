"""The in-process event bus: every event the engine emits goes through ``EventBus.publish``.

Subscribers are callbacks (run at once, in the publisher's thread) or async streams (a queue per
subscriber, for gRPC Subscribe and tests). Durable sinks (the journal, Kafka) are subscribers with a
``flush()``: ``EventBus.flush()`` is what the engine calls before it reports a transition as done.
A failing subscriber breaks nothing: its error is logged and delivery goes on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

from . import model

log = logging.getLogger(__name__)

#: a stream with more events than this queued holds the engine's next transition (``EventBus.catch_up``)
CATCH_UP_BACKLOG = 10
#: a stream that takes no event for this long (its client stopped reading) holds nothing
CATCH_UP_STALL = 0.05
#: the longest ``catch_up`` waits in all
CATCH_UP_LIMIT = 0.25


class Sink(Protocol):
    """A durable subscriber: ``write`` may buffer, ``flush`` must make everything written so far durable."""

    def write(self, event: model.Event, kind: str, environment_id: str) -> None:
        """``kind`` and ``environment_id``: ``model.kind_and_environment_id(event)``, looked up once by the bus."""

    def flush(self) -> None: ...


class Subscription:
    """One subscriber; ``close()`` (or leaving a ``with`` block) unsubscribes."""

    def __init__(
        self,
        bus: EventBus,
        deliver: Callable[[model.Event], None],
        environment_id: str | None,
        kinds: Collection[str] | None,
    ):
        self._bus = bus
        self.deliver = deliver
        self.environment_id = environment_id
        self.kinds = frozenset(kinds) if kinds else None

    def wants(self, event: model.Event, kind: str, environment_id: str) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return self.environment_id is None or self.environment_id == environment_id

    def close(self) -> None:
        self._bus._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream(Subscription):
    """An async iterator over the events published after it was opened (unbounded queue, nothing dropped)."""

    def __init__(self, bus: EventBus, environment_id: str | None, kinds: Collection[str] | None):
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[model.Event | None] = asyncio.Queue()
        self._thread = threading.get_ident()
        super().__init__(bus, self._put, environment_id, kinds)

    def _put(self, event: model.Event | None) -> None:
        if threading.get_ident() == self._thread:
            self._queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def close(self) -> None:
        super().close()
        self._put(None)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> model.Event:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next(self, timeout: float) -> model.Event:
        """The next event, or DeadlineError after ``timeout`` seconds."""
        from ecs_engine.errors import DeadlineError

        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except TimeoutError:
            raise DeadlineError(f"no event within {timeout:g}s") from None

    def backlog(self) -> int:
        """How many events are queued and not read yet."""
        return self._queue.qsize()

    def pending(self) -> list[model.Event]:
        """The events queued and not read yet (without waiting)."""
        out = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is not None:
                out.append(event)
        return out


class EventBus:
    """Publish/subscribe of ``events_pb2.Event`` within one process; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()
        self._sinks: tuple[Sink, ...] = ()

    def subscribe(
        self,
        callback: Callable[[model.Event], Any],
        *,
        environment_id: str | None = None,
        kinds: Collection[str] | None = None,
    ) -> Subscription:
        """Call ``callback(event)`` for each later event (of ``environment_id`` / payload ``kinds`` only)."""
        return self._add(Subscription(self, callback, environment_id, kinds))

    def stream(self, *, environment_id: str | None = None, kinds: Collection[str] | None = None) -> EventStream:
        """An async iterator of later events; must be opened inside the event loop that reads it."""
        return self._add(EventStream(self, environment_id, kinds))

    def add_sink(self, sink: Sink) -> None:
        """A durable subscriber that receives every event and is flushed by ``flush()``."""
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    def _add(self, sub: Any) -> Any:
        with self._lock:
            self._subscribers = (*self._subscribers, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)

    def publish(self, event: model.Event) -> None:
        """Deliver ``event`` to every sink and matching subscriber (stamping it if it has no timestamp)."""
        if not event.timestamp:
            event.timestamp = model.now_ms()
        kind, environment_id = model.kind_and_environment_id(event)
        for sink in self._sinks:
            try:
                sink.write(event, kind, environment_id)
            except Exception:
                log.exception("event sink %r failed", sink)
        subscribers = self._subscribers
        if not subscribers:
            return
        for sub in subscribers:
            if sub.wants(event, kind, environment_id):
                try:
                    sub.deliver(event)
                except Exception:
                    log.exception("event subscriber %r failed", sub.deliver)

    async def catch_up(self) -> None:
        """Wait while a stream of this loop is more than ``CATCH_UP_BACKLOG`` events behind and still reading.

        The engine and the gRPC streams (Subscribe, FollowEvents) share one event loop, and a stream sends one
        message per turn or two of it: transitions back to back, hundreds of events each, would leave a
        subscriber ever further behind. The engine calls this before a transition, so a subscriber's lag stays
        about one transition's events. A stream that reads nothing for ``CATCH_UP_STALL`` s (its client stopped
        reading) holds nobody, and no wait lasts more than ``CATCH_UP_LIMIT`` s.
        """
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + CATCH_UP_LIMIT
        seen: dict[EventStream, tuple[int, float]] = {}  # stream -> (backlog, when it last went down)
        while time.monotonic() < deadline:
            now = time.monotonic()
            behind = False
            for sub in self._subscribers:
                if not isinstance(sub, EventStream) or sub._loop is not loop:
                    continue
                backlog = sub.backlog()
                before, since = seen.get(sub, (backlog + 1, now))
                if backlog < before:
                    since = now
                seen[sub] = (backlog, since)
                behind = behind or (backlog > CATCH_UP_BACKLOG and now - since < CATCH_UP_STALL)
            if not behind:
                return
            await asyncio.sleep(0.002)

    def flush(self) -> None:
        """Make every event published so far durable in every sink."""
        for sink in self._sinks:
            sink.flush()
