"""Opening the project's SQLite files: WAL mode, one connection shared by threads (callers hold a lock)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ecs_engine.errors import ConfigurationError


def open_database(
    path: str | Path, schema: str, *, what: str, synchronous: str = "NORMAL", timeout: float = 5.0
) -> sqlite3.Connection:
    """Open (creating folders and tables) the database at ``path``; one clear error naming ``what`` if not.

    ``synchronous=NORMAL`` in WAL mode keeps every commit across a crash of the process;
    ``FULL`` also across a crash of the machine.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(f"cannot open {what} {path}: {exc}") from None
    return db


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the block raises (the caller holds ``db``'s lock)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
