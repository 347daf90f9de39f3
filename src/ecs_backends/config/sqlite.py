"""``sqlite:///path``: the default store, one SQLite file in WAL mode, safe for several processes.

The file is made by the first write, not by opening the store: a store only read (a mistyped ``--from``)
leaves nothing behind, and reads of one not made yet find it empty. Every write is a transaction (``BEGIN IMMEDIATE``) that updates the ``kv`` table and appends to the
``changes`` log, whose AUTOINCREMENT id is the sequence number watchers resume from, with the time of the write
(a file made before times were recorded gains the column when opened; its older changes have none). Commits are
synchronous (``synchronous=FULL``): a run number handed out is on disk. Watchers poll the log, and
are woken at once by writes made through the same store object.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config.store import Change, KeyValueStore, Watch, check_key, check_value, subtree_prefix
from ecs_engine.errors import ConfigurationError, NotFoundError, StoreUrlError
from ecs_engine.hookspecs import hookimpl
from ecs_engine.sqlitedb import open_database, write_transaction

SCHEME = "sqlite"
#: changes kept in the log for watchers that resume from an older sequence number
HISTORY = 100_000
#: seconds a writer waits for another process's transaction before giving up
BUSY_TIMEOUT = 30.0
#: seconds between log polls of a watcher (changes by other processes are seen this late at most)
POLL_INTERVAL = 0.05

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, value TEXT, time REAL);
"""


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _add_times(db: sqlite3.Connection) -> None:
    """Give the ``changes`` log of a file made before writes were timed its ``time`` column (NULL: not recorded)."""

    def timed() -> bool:
        return any(column[1] == "time" for column in db.execute("PRAGMA table_info(changes)"))

    if not timed():
        with write_transaction(db):
            if not timed():  # another process may have added it while this one waited for the lock
                db.execute("ALTER TABLE changes ADD COLUMN time REAL")


class SqliteStore(KeyValueStore):
    def __init__(self, path: Path, url: str):
        self.url = url
        self.path = path
        self._lock = threading.RLock()
        self._wake = threading.Condition()
        self._closed = False
        self._writes = 0
        if not path.parent.is_dir():  # a mistyped path is not a new store in new directories (docs/configuration.md)
            raise NotFoundError(
                f"configuration database {path}: the directory {path.parent} does not exist",
                hint="correct the URL, or create the directory first",
            )
        self._db: sqlite3.Connection | None = None
        self._connect(create=False)

    # --- plumbing -----------------------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The connection, opening the file if it exists (or ``create``); None while there is no file to read."""
        if self._db is None and (create or self.path.exists()):
            db = open_database(
                self.path, SCHEMA, what="configuration database", synchronous="FULL", timeout=BUSY_TIMEOUT
            )
            try:
                _add_times(db)
            except sqlite3.Error as exc:
                db.close()
                raise ConfigurationError(
                    f"configuration database {self.path}: cannot add times to its log: {exc}"
                ) from None
            self._db = db
        return self._db

    def exists(self) -> bool:
        """False until some store object made the file (by writing)."""
        return self._connect(create=False) is not None

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read; none while the file has not been made."""
        with self._lock:
            self._check_open()
            db = self._connect(create=False)
            if db is None:
                return []
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise ConfigurationError(f"configuration database {self.path}: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            db = self._connect(create=True)
            assert db is not None  # made if missing
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise ConfigurationError(
                    f"configuration database {self.path}: {exc} (waited {BUSY_TIMEOUT:.0f} s for other writers)"
                ) from None
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise ConfigurationError(f"configuration database {self.path}: {exc}") from None
                raise
        with self._wake:
            self._wake.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError(f"configuration store {self.url} is closed")

    def _record(self, db: sqlite3.Connection, key: str, value: str | None) -> None:
        """Apply one change inside a transaction and append it to the log."""
        seq = db.execute("INSERT INTO changes (key, value, time) VALUES (?, ?, ?)", (key, value, time.time())).lastrowid
        assert seq is not None  # an INSERT into a rowid table always sets it
        if value is None:
            db.execute("DELETE FROM kv WHERE key = ?", (key,))
        else:
            db.execute(
                "INSERT INTO kv (key, value, seq) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
                (key, value, seq),
            )
        self._writes += 1
        if self._writes % 1000 == 0:
            db.execute("DELETE FROM changes WHERE seq <= ?", (seq - HISTORY,))

    # --- KeyValueStore ------------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM kv WHERE key = ?", (check_key(key),))
        return rows[0][0] if rows else None

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        marks = ",".join("?" * len(keys))
        found = dict(self._query(f"SELECT key, value FROM kv WHERE key IN ({marks})", tuple(map(check_key, keys))))
        return {key: found.get(key) for key in keys}

    def get_tree(self, prefix: str) -> dict[str, str]:
        end = _prefix_end(prefix)
        if end is None:
            rows = self._query("SELECT key, value FROM kv ORDER BY key")
        else:
            rows = self._query("SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key", (prefix, end))
        return dict(rows)

    def put(self, key: str, value: str) -> None:
        self.put_many({key: value})

    def put_many(self, items: Mapping[str, str]) -> None:
        for key, value in items.items():
            check_value(check_key(key), value)
        with self._transaction() as db:
            for key, value in items.items():
                self._record(db, key, value)

    def delete(self, key: str, *, recursive: bool = False) -> None:
        check_key(key)
        with self._transaction() as db:
            keys = [key]
            if recursive:
                below = subtree_prefix(key)
                keys += [
                    k
                    for (k,) in db.execute("SELECT key FROM kv WHERE key > ? AND key < ?", (below, _prefix_end(below)))
                ]
            for k in keys:
                if db.execute("SELECT 1 FROM kv WHERE key = ?", (k,)).fetchone():
                    self._record(db, k, None)

    def compare_and_set(self, key: str, expected: str | None, new: str) -> bool:
        check_value(check_key(key), new)
        with self._transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            if (row[0] if row else None) != expected:
                return False
            self._record(db, key, new)
            return True

    def revision(self) -> int:
        rows = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return rows[0][0] if rows else 0

    def history(self, key: str) -> list[Change]:
        """From the ``changes`` log, which keeps the last ``HISTORY`` changes of the whole store."""
        below = subtree_prefix(check_key(key))
        rows = self._query(
            "SELECT seq, key, value, time FROM changes WHERE key = ? OR (key >= ? AND key < ?) ORDER BY seq",
            (key, below, _prefix_end(below)),
        )
        return [Change(*row) for row in rows]

    def watch(self, prefix: str, since: int = 0) -> Watch:
        position = [since or self.revision()]
        if since:
            rows = self._query("SELECT min(seq) FROM changes")
            oldest = rows[0][0] if rows else None
            if oldest is not None and since + 1 < oldest:
                raise ConfigurationError(
                    f"cannot watch {self.url} from revision {since}: history before revision {oldest} was discarded"
                )

        def poll(timeout: float) -> list[Change] | None:
            deadline = time.monotonic() + timeout
            while not self._closed:
                try:
                    rows = self._query(
                        "SELECT seq, key, value, time FROM changes WHERE seq > ? ORDER BY seq LIMIT 1000",
                        (position[0],),
                    )
                except ConfigurationError:
                    if self._closed:
                        return None
                    raise
                if rows:
                    position[0] = rows[-1][0]
                    return [Change(*row) for row in rows if row[1].startswith(prefix)]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                with self._wake:
                    self._wake.wait(min(POLL_INTERVAL, remaining))
            return None

        def wake() -> None:
            with self._wake:
                self._wake.notify_all()

        return Watch(poll, wake)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._db is not None:
                    self._db.close()
        with self._wake:
            self._wake.notify_all()


def path_of(url: str) -> Path:
    """The database file of ``sqlite:///abs/path`` or ``sqlite://relative/path`` (``~`` expanded; ``sqlite:////abs``,
    an absolute path after ``sqlite:///``, is ``/abs``, not POSIX's ``//abs``)."""
    rest = url.partition("://")[2]
    if not rest.strip("/"):
        raise StoreUrlError(f"bad configuration store URL {url!r}: expected sqlite:///PATH/config.sqlite")
    return Path("/" + rest.lstrip("/") if rest.startswith("/") else rest).expanduser()


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_config_store(SCHEME, lambda url: SqliteStore(path_of(url), url))
