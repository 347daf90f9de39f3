"""Opening the project's SQLite files: WAL mode, one connection shared by threads (callers hold a lock).

The WAL is checkpointed off the writers' path: SQLite's own checkpoint runs inside the commit that takes the
WAL past 1,000 pages (copying them into the database and an fsync), and whoever waits for that commit waits for
it too (a transition of 100 tasks: 2.5 ms to commit its events and record, 6-15 ms in the 2-4 % of transitions
that hit a checkpoint). Here the connections ``open_database`` makes never checkpoint; one thread per process
does, for each file written since its last look, every ``CHECKPOINT_EVERY`` s (PASSIVE: it neither waits for
nor holds up a reader or a writer). A process that ends first leaves its pages in the WAL, which is as durable
as the database: the next checkpoint, or SQLite's at the last close, takes them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from ecs_engine.errors import ConfigurationError

#: seconds between two looks of the checkpoint thread at the files written since its last
CHECKPOINT_EVERY = 0.5
#: a WAL that a burst of writes made longer is cut back to this when it next starts over (else it stays as long)
WAL_KEPT_BYTES = 16 << 20
log = logging.getLogger(__name__)


class _Connection(sqlite3.Connection):
    """A connection the checkpoint thread can refer to weakly (``sqlite3.Connection`` itself cannot be)."""


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
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False, factory=_Connection)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(f"cannot open {what} {path}: {exc}") from None
    CHECKPOINTS.watch(db, path.resolve())
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


def checkpoint(path: Path) -> None:
    """Copy what the WAL of ``path`` holds into the database, as far as readers allow (PASSIVE), on a
    connection of its own (opened read-write: a file deleted since is not created again)."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=0)) as db:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class Checkpoints:
    """The checkpoint thread and the connections it looks after: each open one, with the count of rows it had
    changed at the last look (a connection closed since is dropped; one that is collected goes by itself)."""

    def __init__(self, every: float | None = CHECKPOINT_EVERY) -> None:
        """``every``: seconds between two looks (the thread starts with the first connection); None: no thread,
        ``look()`` is called by hand."""
        self.every = every
        self._watched: weakref.WeakKeyDictionary[sqlite3.Connection, tuple[Path, int]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, db: sqlite3.Connection, path: Path) -> None:
        with self._lock:
            self._watched[db] = (path, db.total_changes)
            if self._thread is None and self.every is not None:
                self._thread = threading.Thread(
                    target=self._run, args=(self.every,), name="ecs-checkpoints", daemon=True
                )
                self._thread.start()

    def __len__(self) -> int:
        """How many connections are looked after."""
        with self._lock:
            return len(self._watched)

    def _run(self, every: float) -> None:
        while True:
            time.sleep(every)
            self.look()

    def look(self) -> None:
        """Checkpoint every file one of the watched connections wrote to since the last look."""
        due: set[Path] = set()
        with self._lock:
            for db, (path, seen) in list(self._watched.items()):
                try:
                    changes = db.total_changes
                except sqlite3.ProgrammingError:  # closed by its owner
                    del self._watched[db]
                    continue
                if changes != seen:
                    self._watched[db] = (path, changes)
                    due.add(path)
        for path in due:
            try:
                checkpoint(path)
            except sqlite3.Error as exc:  # the next look tries again; the WAL keeps everything meanwhile
                log.debug("checkpoint of %s: %s", path, exc)


CHECKPOINTS = Checkpoints()
