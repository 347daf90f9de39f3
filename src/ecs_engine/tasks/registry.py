"""The core's record of live tasks (SQLite), read back after a restart to re-attach to them.

One row per task that has a process or may get one (hook and basic tasks between runs): written when the
task is deployed or its process changes, deleted when it is killed. The tasks the executor forgot last (killed, or
failed to start) are kept in ``forgotten``, the latest ones only, so that they are found by id after a restart.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ecs_engine.sqlitedb import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS forgotten (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
)
"""


class TaskRegistry:
    """Task records by id; safe to use from the core's threads."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA, what="the task registry")

    def put(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tasks (id, environment_id, record) VALUES (?, ?, ?)",
                (record["id"], record.get("environment_id", ""), json.dumps(record)),
            )

    def put_many(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO tasks (id, environment_id, record) VALUES (?, ?, ?)",
                [(r["id"], r.get("environment_id", ""), json.dumps(r)) for r in records],
            )
            self._db.execute("COMMIT")

    def remove(self, task_ids: list[str]) -> None:
        with self._lock:  # one transaction: a thousand deletes are one commit, not a thousand
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in task_ids])
            self._db.execute("COMMIT")

    def retire(self, task_ids: list[str], forgotten: list[dict[str, Any]], keep: int) -> None:
        """Delete the records of ``task_ids`` and add ``forgotten`` ones, of which the latest ``keep`` stay: one
        commit."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in task_ids])
            if forgotten:
                self._db.executemany(
                    "INSERT OR REPLACE INTO forgotten (id, record) VALUES (?, ?)",
                    [(r["id"], json.dumps(r)) for r in forgotten],
                )
                self._db.execute(  # all but the latest ``keep`` (fewer: the subquery is NULL, none deleted)
                    "DELETE FROM forgotten WHERE seq <= (SELECT seq FROM forgotten ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (keep,),
                )
            self._db.execute("COMMIT")

    def forgotten(self) -> list[dict[str, Any]]:
        """The forgotten tasks' records, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM forgotten ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]

    def records(self, environment_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if environment_id is None:
                rows = self._db.execute("SELECT record FROM tasks ORDER BY rowid").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT record FROM tasks WHERE environment_id = ? ORDER BY rowid", (environment_id,)
                ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
