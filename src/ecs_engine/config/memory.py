"""An in-process store (``memory://``): for tests, and the base of the read-only file store."""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping

from ecs_engine.errors import ConfigurationError

from .store import Change, KeyValueStore, Watch, check_key, check_value, subtree_prefix

#: how many past changes a watch with an explicit ``since`` can still replay
HISTORY = 100_000


class MemoryStore(KeyValueStore):
    """A dict with a change log; thread-safe; watches are woken by a condition variable."""

    def __init__(self, data: Mapping[str, str] | None = None, *, read_only: bool = False, url: str = "memory://"):
        self.url = url
        self._data: dict[str, str] = {}
        for key, value in (data or {}).items():
            self._data[check_key(key)] = check_value(key, value)
        self._log: collections.deque[Change] = collections.deque(maxlen=HISTORY)
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self.read_only = read_only

    def get(self, key: str) -> str | None:
        check_key(key)
        with self._cond:
            return self._data.get(key)

    def get_tree(self, prefix: str) -> dict[str, str]:
        with self._cond:
            return {k: v for k, v in sorted(self._data.items()) if k.startswith(prefix)}

    def put(self, key: str, value: str) -> None:
        self.put_many({key: value})

    def put_many(self, items: Mapping[str, str]) -> None:
        for key, value in items.items():
            check_key(key)
            check_value(key, value)
            self._refuse_write("write", key)
        with self._cond:
            for key, value in items.items():
                self._commit(key, value)

    def delete(self, key: str, *, recursive: bool = False) -> None:
        check_key(key)
        self._refuse_write("delete", key)
        below = subtree_prefix(key)
        with self._cond:
            doomed = [k for k in self._data if k == key or (recursive and k.startswith(below))]
            for k in sorted(doomed):
                self._commit(k, None)

    def compare_and_set(self, key: str, expected: str | None, new: str) -> bool:
        check_key(key)
        check_value(key, new)
        self._refuse_write("write", key)
        with self._cond:
            if self._data.get(key) != expected:
                return False
            self._commit(key, new)
            return True

    def revision(self) -> int:
        with self._cond:
            return self._seq

    def _commit(self, key: str, value: str | None) -> None:
        """Apply one change with the condition held, log it and wake the watchers."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        self._seq += 1
        self._log.append(Change(self._seq, key, value))
        self._cond.notify_all()

    def watch(self, prefix: str, since: int = 0) -> Watch:
        with self._cond:
            if self._closed:
                raise ConfigurationError(f"configuration store {self.url} is closed")
            position = [since or self._seq]
            oldest = self._log[0].seq if self._log else self._seq + 1
            if since and since + 1 < oldest:
                raise ConfigurationError(
                    f"cannot watch from revision {since}: history before revision {oldest} was discarded"
                )

        def poll(timeout: float) -> list[Change] | None:
            with self._cond:
                if self._seq <= position[0] and not self._closed:
                    self._cond.wait(timeout)
                if self._closed:
                    return None
                count = min(self._seq - position[0], len(self._log))
                fresh = [self._log[-i] for i in range(count, 0, -1)]
                position[0] = self._seq
                return [c for c in fresh if c.key.startswith(prefix)]

        def wake() -> None:
            with self._cond:
                self._cond.notify_all()

        return Watch(poll, wake)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
