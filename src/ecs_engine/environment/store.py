"""Durable environments: each environment's record and the runs it made, in SQLite (WAL).

The manager writes an environment's record when it is created, after every state change and when it
is destroyed, before it reports the operation as done. The large part that does not change (the role
tree) is written once, in its own table, so a transition writes only a small row. A new manager on the
same data directory reads the records of the environments not destroyed and rebuilds them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_engine.sqlitedb import open_database, write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    destroyed_ms INTEGER,
    template TEXT NOT NULL,
    state TEXT NOT NULL,
    current_run INTEGER NOT NULL DEFAULT 0,
    last_run INTEGER NOT NULL DEFAULT 0,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS structures (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_number INTEGER PRIMARY KEY,
    environment_id TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_environment ON runs (environment_id, run_number);
"""


@dataclass(frozen=True)
class StoredEnvironment:
    id: str
    created_ms: int
    updated_ms: int
    destroyed_ms: int | None
    template: str
    state: str
    current_run: int
    last_run: int
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Run:
    run_number: int
    environment_id: str
    start_ms: int
    end_ms: int | None


class EnvironmentStore:
    """The ``environments`` and ``runs`` tables of one SQLite file; thread-safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = open_database(self.path, SCHEMA, what="the environment store")
        self._lock = threading.Lock()

    def save(
        self,
        *,
        environment_id: str,
        created_ms: int,
        updated_ms: int,
        template: str,
        state: str,
        current_run: int,
        last_run: int,
        snapshot: dict[str, Any],
        structure: str | None = None,
        destroyed_ms: int | None = None,
    ) -> None:
        """Write the record; ``structure`` (JSON text of the unchanging part) only when it is new.

        A loaded record's ``snapshot`` is the structure's keys updated with ``snapshot``'s.
        """
        text = json.dumps(snapshot, separators=(",", ":"))
        with self._lock, write_transaction(self._db) as db:
            if structure is not None:
                db.execute("INSERT OR REPLACE INTO structures (id, data) VALUES (?, ?)", (environment_id, structure))
            db.execute(
                "INSERT INTO environments (id, created_ms, updated_ms, destroyed_ms, template, state, current_run,"
                " last_run, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " updated_ms = excluded.updated_ms, destroyed_ms = excluded.destroyed_ms, state = excluded.state,"
                " current_run = excluded.current_run, last_run = excluded.last_run, snapshot = excluded.snapshot",
                (
                    environment_id,
                    created_ms,
                    updated_ms,
                    destroyed_ms,
                    template,
                    state,
                    current_run,
                    last_run,
                    text,
                ),
            )

    _SELECT = (
        "SELECT e.id, created_ms, updated_ms, destroyed_ms, template, state, current_run, last_run, snapshot, s.data"
        " FROM environments e LEFT JOIN structures s ON s.id = e.id"
    )

    def _row(self, row: tuple[Any, ...]) -> StoredEnvironment:
        snapshot = json.loads(row[9]) if row[9] else {}
        snapshot.update(json.loads(row[8]))
        environment_id, created_ms, updated_ms, destroyed_ms, template, state, current_run, last_run = row[:8]
        return StoredEnvironment(
            environment_id, created_ms, updated_ms, destroyed_ms, template, state, current_run, last_run, snapshot
        )

    def load(self, environment_id: str) -> StoredEnvironment | None:
        with self._lock:
            row = self._db.execute(self._SELECT + " WHERE e.id = ?", (environment_id,)).fetchone()
        return self._row(row) if row else None

    def live(self) -> list[StoredEnvironment]:
        """Environments not destroyed, oldest first."""
        with self._lock:
            rows = self._db.execute(self._SELECT + " WHERE destroyed_ms IS NULL ORDER BY created_ms, e.id").fetchall()
        return [self._row(r) for r in rows]

    def forget_destroyed(self, before_ms: int) -> int:
        """Delete the records of environments destroyed before ``before_ms`` (the journal's retention: their events
        are gone too; a record of a 100-task environment is ~50 KB, kept for good it grew without bound); how many.
        The runs table keeps their runs."""
        with self._lock, write_transaction(self._db) as db:
            db.execute(
                "DELETE FROM structures WHERE id IN (SELECT id FROM environments WHERE destroyed_ms < ?)", (before_ms,)
            )
            return db.execute("DELETE FROM environments WHERE destroyed_ms < ?", (before_ms,)).rowcount

    def run_started(self, run_number: int, environment_id: str, start_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO runs (run_number, environment_id, start_ms) VALUES (?, ?, ?)",
                (run_number, environment_id, start_ms),
            )

    def run_ended(self, run_number: int, end_ms: int) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET end_ms = ? WHERE run_number = ? AND end_ms IS NULL", (end_ms, run_number))

    def runs(self, environment_id: str | None = None) -> list[Run]:
        sql, args = "SELECT run_number, environment_id, start_ms, end_ms FROM runs", tuple[str, ...]()
        if environment_id is not None:
            sql, args = sql + " WHERE environment_id = ?", (environment_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY run_number", args).fetchall()
        return [Run(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
