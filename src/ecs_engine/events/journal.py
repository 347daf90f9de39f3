"""The durable event journal: every published event, in order, in an SQLite database (WAL).

A bus sink: ``write`` buffers (so a 1,000-task transition does not pay a commit per event), ``flush``
commits. The engine flushes before it reports a transition as done; the buffer also commits by itself
once it holds ``batch`` events or its oldest event is ``max_delay`` seconds old, through ``defer`` (the
core passes its commit thread, so ``write`` on the event loop never waits for the disk).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.sqlitedb import open_database, write_transaction

from . import model

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
"""


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event: model.Event


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
        self._buffer: list[tuple[int, str, str, bytes]] = []
        self._flush_deferred = False
        self._oldest = 0.0

    # -- sink ------------------------------------------------------------------------------------------------

    def write(self, event: model.Event) -> None:
        row = (event.timestamp, model.kind_of(event), model.environment_id_of(event), event.SerializeToString())
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append(row)
            due = not self._flush_deferred and (
                len(self._buffer) >= self.batch or time.monotonic() - self._oldest >= self.max_delay
            )
            self._flush_deferred = due and self._defer is not None
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
                self._flush_deferred = False
            if not rows:
                return
            try:
                with write_transaction(self._db) as db:
                    db.executemany(
                        "INSERT INTO events (timestamp_ms, kind, environment_id, data) VALUES (?, ?, ?, ?)", rows
                    )
            except BaseException:
                with self._lock:
                    self._buffer = rows + self._buffer
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
    ) -> Iterator[JournalEntry]:
        """Stored events in publication order (buffered ones are committed first)."""
        self.flush()
        where: list[str] = ["seq > ?"]
        args: list[int | str] = [after_seq]
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
        for seq, data in rows:
            yield JournalEntry(seq, model.Event.FromString(data))

    def events(self, **query) -> list[model.Event]:
        return [entry.event for entry in self.entries(**query)]

    def close(self) -> None:
        self.flush()
        with self._db_lock:
            self._db.close()
