"""The durable event journal: every published event, in order, in an SQLite database (WAL).

A bus sink: ``write`` buffers (so a 1,000-task transition does not pay a commit per event), ``flush``
commits. The engine flushes before it reports a transition as done; the buffer also commits by itself
once it holds ``batch`` events or its oldest event is ``max_delay`` seconds old, through ``defer`` (the
core passes its commit thread, so ``write`` on the event loop never waits for the disk).

``write`` numbers each event (``Event.sequence``, never repeated: SQLite's AUTOINCREMENT counter survives
restarts and deletions) and keeps the run markers (``markers``) in the same commit as the events.
``prune`` deletes whole days of the oldest events (``Retention``), so the journal does not grow forever.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.sqlitedb import open_database, write_transaction

from . import model
from .markers import MarkerTracker, RunMarker, run_lookup

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_environment ON events (environment_id, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp_ms);
CREATE TABLE IF NOT EXISTS run_markers (
    run_number INTEGER PRIMARY KEY,
    environment_id TEXT NOT NULL,
    begin_seq INTEGER NOT NULL,
    end_seq INTEGER
);
"""

DAY_MS = 86_400_000  # a segment of the journal: the events of one UTC day, deleted as a whole
#: events per INSERT statement (5 values each: within SQLite's oldest limit of 999 bound values). One statement
#: of many rows cost the commit thread about half of one ``executemany`` step per row (230 events: 1.1-2.0 ->
#: 0.6-1.1 ms), and the GIL is taken back once per statement, not once per row
ROWS_PER_INSERT = 100


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def _insert_events(count: int) -> str:
    """The INSERT of ``count`` events' rows."""
    return "INSERT INTO events (seq, timestamp_ms, kind, environment_id, data) VALUES " + ",".join(
        ["(?, ?, ?, ?, ?)"] * count
    )


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event: model.Event
    run_number: int = 0  # the run whose marker holds the event (0: none)


@dataclass(frozen=True)
class Retention:
    """How much the journal keeps: whole days, the newest first, at most ``days`` old and ``megabytes`` big."""

    days: float | None = None
    megabytes: float | None = None


class EventJournal:
    """Events of every environment, append-only, readable by environment, time, kind and sequence number."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch: int = 512,
        max_delay: float = 0.2,
        defer: Callable[[Callable[[], None]], None] | None = None,
    ):
        self.path = Path(path)
        self.batch = batch
        self.max_delay = max_delay
        self._defer = defer
        self._db = open_database(self.path, SCHEMA, what="the event journal")
        self._lock = threading.Lock()  # the buffer: held for an append or a swap, never across a commit
        self._db_lock = threading.Lock()  # the connection: commits in the order their rows left the buffer
        self._buffer: list[tuple[int, int, str, str, bytes]] = []
        self._marker_buffer: list[RunMarker] = []
        self._flush_deferred = False
        self._oldest = 0.0
        self._next_seq = (
            1
            + self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq FROM sqlite_sequence WHERE name = 'events'"
                " UNION ALL SELECT MAX(seq) FROM events)"
            ).fetchone()[0]
        )
        self._markers = MarkerTracker(self.markers())

    # -- sink ------------------------------------------------------------------------------------------------

    def write(self, event: model.Event, kind: str | None = None, environment_id: str = "") -> None:
        """Number ``event`` (it carries its ``sequence`` from now on) and buffer it. ``kind`` and
        ``environment_id``: the bus's look at the payload (None: looked up here)."""
        if kind is None:
            kind, environment_id = model.kind_and_environment_id(event)
        now = time.monotonic()
        with self._lock:
            seq = event.sequence = self._next_seq
            self._next_seq += 1
            marker = self._markers.observe(seq, event, kind)
            if marker is not None:
                self._marker_buffer.append(marker)
            if not self._buffer:
                self._oldest = now
            self._buffer.append((seq, event.timestamp, kind, environment_id, event.SerializeToString()))
            due = not self._flush_deferred and (len(self._buffer) >= self.batch or now - self._oldest >= self.max_delay)
            if due and self._defer is not None:
                self._flush_deferred = True  # until that flush runs: one queued flush at a time
        if not due:
            return
        if self._defer is None:
            self.flush()
        else:
            self._defer(self.flush)

    def flush(self) -> None:
        with self._db_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
                markers, self._marker_buffer = self._marker_buffer, []
                self._flush_deferred = False
            if not rows:
                return
            try:
                with write_transaction(self._db) as db:
                    for start in range(0, len(rows), ROWS_PER_INSERT):
                        part = rows[start : start + ROWS_PER_INSERT]
                        db.execute(_insert_events(len(part)), [value for row in part for value in row])
                    db.executemany(
                        "INSERT OR REPLACE INTO run_markers (run_number, environment_id, begin_seq, end_seq)"
                        " VALUES (?, ?, ?, ?)",
                        [(m.run_number, m.environment_id, m.begin_seq, m.end_seq) for m in markers],
                    )
            except BaseException:
                with self._lock:
                    self._buffer = rows + self._buffer
                    self._marker_buffer = markers + self._marker_buffer
                raise

    # -- queries ---------------------------------------------------------------------------------------------

    def entries(
        self,
        *,
        environment_id: str | None = None,
        kinds: Collection[str] | None = None,
        after_seq: int = 0,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
        run_number: int | None = None,
    ) -> Iterator[JournalEntry]:
        """Stored events in publication order (buffered ones are committed first); ``run_number``: only
        the events its marker holds (none for a run the journal has no marker of)."""
        markers = self.markers(run_number)  # a run's events need its marker only
        where: list[str] = ["seq > ?"]  # one lower bound: given two, SQLite ranged over the index from the looser
        args: list[int | str] = [after_seq]  # (a run's events read from its environment's first: O(runs) a run)
        if run_number is not None:
            if not markers:
                return
            run = markers[0]
            args[0] = max(after_seq, run.begin_seq - 1)
            where.append("environment_id = ?")
            args.append(run.environment_id)
            if run.end_seq is not None:
                where.append("seq <= ?")
                args.append(run.end_seq)
        if environment_id is not None:
            where.append("environment_id = ?")
            args.append(environment_id)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if since_ms is not None:
            where.append("timestamp_ms >= ?")
            args.append(since_ms)
        if until_ms is not None:
            where.append("timestamp_ms <= ?")
            args.append(until_ms)
        sql = f"SELECT seq, data FROM events WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._db_lock:
            rows = self._db.execute(sql, args).fetchall()
        run_at = run_lookup(markers)
        for seq, data in rows:
            event = model.Event.FromString(data)
            event.sequence = seq
            yield JournalEntry(seq, event, run_number or run_at(model.environment_id_of(event), seq))

    def markers(self, run_number: int | None = None) -> list[RunMarker]:
        """The runs' markers, by run number (buffered events are committed first; a run still going on has
        no ``end_seq``)."""
        self.flush()
        sql = "SELECT run_number, environment_id, begin_seq, end_seq FROM run_markers"
        args: tuple[int, ...] = ()
        if run_number is not None:
            sql, args = sql + " WHERE run_number = ?", (run_number,)
        with self._db_lock:
            rows = self._db.execute(sql + " ORDER BY run_number", args).fetchall()
        return [RunMarker(*row) for row in rows]

    def run_of(self, environment_id: str, seq: int) -> int:
        """The run of event ``seq`` of ``environment_id``, written lately (for live readers; ``entries`` says it of
        any stored event), 0 if none."""
        with self._lock:
            return self._markers.run_at(environment_id, seq)

    def last_seq(self) -> int:
        """The number of the newest event written (0 if none)."""
        with self._lock:
            return self._next_seq - 1

    def prune(self, retention: Retention, now_ms: int, *, keep_after: int | None = None) -> int:
        """Delete the oldest days beyond ``retention`` (never today's, never an event numbered after
        ``keep_after``: what the outbox has not delivered yet); return how many events went."""
        self.flush()
        with self._db_lock:
            days = self._db.execute(
                f"SELECT timestamp_ms / {DAY_MS} AS day, SUM(length(data)) FROM events GROUP BY day ORDER BY day"
            ).fetchall()
            total = sum(size for _, size in days)
            oldest_kept = days[0][0] if days else 0
            for day, size in days[:-1]:
                too_old = retention.days is not None and (day + 1) * DAY_MS <= now_ms - retention.days * DAY_MS
                too_big = retention.megabytes is not None and total > retention.megabytes * 1_000_000
                if not (too_old or too_big):
                    break
                total -= size
                oldest_kept = day + 1
            with write_transaction(self._db) as db:
                deleted = db.execute(
                    "DELETE FROM events WHERE timestamp_ms < ? AND seq <= ?",
                    (oldest_kept * DAY_MS, self._next_seq if keep_after is None else keep_after),
                ).rowcount
                db.execute(
                    "DELETE FROM run_markers WHERE end_seq IS NOT NULL AND end_seq < (SELECT MIN(seq) FROM events)"
                )
        return deleted

    def events(self, **query) -> list[model.Event]:
        return [entry.event for entry in self.entries(**query)]

    def close(self) -> None:
        self.flush()
        with self._db_lock:
            self._db.close()
