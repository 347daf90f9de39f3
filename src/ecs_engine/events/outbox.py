"""The outbox: the journal's events delivered to an external event service (Kafka), in order, none lost.

The journal is the outbox. A thread of its own (``ecs-outbox``) reads the events committed after the last
delivered sequence number, hands them to a ``Publisher`` in batches, and only then moves its delivered
position, which it keeps in a file: a broker that is down for minutes, or a core that restarts meanwhile,
loses nothing; when the broker answers again every event goes out, in journal order. Delivery is at least
once (a batch cut short is sent again); the sequence number travels with each message so consumers
dedupe. The bus only wakes the thread: publishing an event, and so a transition, never waits for it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .bus import EventBus, Subscription
from .journal import JournalEntry
from .model import Event

log = logging.getLogger(__name__)

#: events handed to the publisher at once
BATCH = 500
#: first and longest pause between attempts while the service is unreachable (doubling in between)
RETRY_FIRST = 0.2
RETRY_LONGEST = 5.0
#: the thread looks at the journal at least this often even if no event woke it
IDLE_CHECK = 1.0
#: while events keep coming, the delivered position is written (with an fsync: 5-30 ms) at most this often;
#: a crash in between sends those events again (delivery is at least once), it loses none
SAVE_EVERY = 0.5
#: a call to the publisher unanswered this long shows the service unreachable in ``status`` (a batch to a broker
#: that went away waits for its failure for seconds, the idle probe as long as this)
STALLED = 2.0


class Publisher(Protocol):
    """An external event service; the outbox calls it from its own thread only."""

    #: what ``coconut info`` shows: the service's kind and address
    name: str
    endpoint: str

    def prepare(self) -> None:
        """Reach the service and create what publishing needs (topics); raise if it cannot be reached."""

    def send(self, entries: Sequence[JournalEntry]) -> None:
        """Deliver every entry, in order, or raise (the same entries are then sent again later)."""

    def probe(self) -> None:
        """Raise if the service cannot be reached now, or lost what ``prepare`` made (a broker back empty): an
        idle outbox asks every ``IDLE_CHECK``, so its status is true while nothing is sent."""

    def close(self) -> None: ...


class JournalReader(Protocol):
    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> Iterable[JournalEntry]: ...

    def last_seq(self) -> int: ...


@dataclass(frozen=True)
class OutboxStatus:
    """A snapshot for ``coconut info``: reachable or not, what is delivered, how far behind the journal."""

    service: str
    endpoint: str
    connected: bool
    delivered_seq: int
    lag: int
    error: str


class Outbox:
    """Delivers the journal to ``publisher`` from the position kept in ``position_file``; ``start``/``close``."""

    def __init__(self, journal: JournalReader, publisher: Publisher, position_file: Path, *, batch: int = BATCH):
        self._journal = journal
        self._publisher = publisher
        self._position_file = position_file
        self._batch = batch
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        self._delivered = 0
        self._saved = 0  # the position last written to the file, and when
        self._saved_at = 0.0
        # lag = events waiting at start + events published since - events delivered since (seq numbers may skip)
        self._count_lock = threading.Lock()
        self._waiting_at_start = 0
        self._published = 0
        self._sent = 0
        self._connected = False
        self._error = "no answer yet"
        self._calling_since = 0.0  # when the pending call to the publisher began (0: none)

    def start(self, bus: EventBus) -> None:
        """Find the delivered position and start delivering; every later event on ``bus`` wakes the thread.

        Reads the journal (the first time, to its end): the core calls it through ``offload``."""
        self._delivered = self._saved = self._load_position()
        self._waiting_at_start, _ = self._scan(self._delivered)
        self._subscription = bus.subscribe(self._notify)
        self._thread = threading.Thread(target=self._run, name="ecs-outbox", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop delivering (what is left goes out at the next start) and close the publisher."""
        if self._subscription is not None:
            self._subscription.close()
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._save_position(self._delivered)
        self._publisher.close()

    def status(self) -> OutboxStatus:
        since = self._calling_since
        waiting = time.monotonic() - since if since else 0.0
        stalled = waiting > STALLED
        return OutboxStatus(
            service=self._publisher.name,
            endpoint=self._publisher.endpoint,
            connected=self._connected and not stalled,
            delivered_seq=self._delivered,
            lag=max(self._waiting_at_start + self._published - self._sent, 0),
            error=f"no answer for {waiting:.0f} s" if stalled else self._error,
        )

    # -- the thread ------------------------------------------------------------------------------------------

    def _notify(self, event: Event) -> None:
        with self._count_lock:
            self._published += 1
        self._wake.set()

    def _run(self) -> None:
        prepared = False
        pause = RETRY_FIRST
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                batch = list(self._journal.entries(after_seq=self._delivered, limit=self._batch))
                if not prepared:
                    self._call(self._publisher.prepare)
                    prepared = True
                if not batch:
                    self._connected, self._error = True, ""
                    behind = self._delivered != self._saved
                    if not self._wake.wait(SAVE_EVERY if behind else IDLE_CHECK):
                        self._save_position(self._delivered)  # quiet for a while: the file catches up
                        self._call(self._publisher.probe)  # (it said connected while the broker was gone)
                    continue
                self._call(self._publisher.send, batch)
            except Exception as exc:
                if self._connected or str(exc) != self._error:
                    log.warning("event service %s: %s (retrying)", self._publisher.endpoint, exc)
                self._connected, self._error, prepared = False, str(exc), False
                self._stopping.wait(pause)
                pause = min(pause * 2, RETRY_LONGEST)
                continue
            self._delivered = batch[-1].seq
            self._sent += len(batch)
            if time.monotonic() - self._saved_at >= SAVE_EVERY:
                self._save_position(self._delivered)
            self._connected, self._error, pause = True, "", RETRY_FIRST

    def _call(self, call: Callable[..., None], *args: object) -> None:
        """``call`` to the publisher, timed: ``status`` shows one that waits too long before it fails."""
        self._calling_since = time.monotonic()
        try:
            call(*args)
        finally:
            self._calling_since = 0.0

    # -- the delivered position ------------------------------------------------------------------------------

    def _load_position(self) -> int:
        """The last delivered sequence number; the first time, the journal's end (history is not replayed).

        A position beyond the journal's last event means the journal was replaced (removed, restored from a
        copy): none of its events went out, and waiting for its numbers to pass the position lost them."""
        try:
            seq = int(json.loads(self._position_file.read_text())["delivered_seq"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("outbox position %s unreadable (%s): starting from the journal's end", self._position_file, exc)
        else:
            last = self._journal.last_seq()
            if seq <= last:
                return seq
            log.warning(
                "outbox position %s is event %d, beyond the journal's last (%d): the journal was replaced; delivering"
                " all of it (its sequence numbers start again, below those consumers have seen)",
                self._position_file,
                seq,
                last,
            )
            return 0
        _, end = self._scan(0)
        self._save_position(end)
        return end

    def _scan(self, seq: int) -> tuple[int, int]:
        """How many entries follow ``seq`` in the journal, and the last one's sequence number."""
        count = 0
        while page := list(self._journal.entries(after_seq=seq, limit=self._batch)):
            count, seq = count + len(page), page[-1].seq
        return count, seq

    def _save_position(self, seq: int) -> None:
        """Write ``seq`` durably (atomic replace after an fsync), unless it is what the file holds."""
        if seq == self._saved and self._saved_at:
            return
        tmp = self._position_file.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"delivered_seq": seq}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._position_file)
        self._saved, self._saved_at = seq, time.monotonic()
