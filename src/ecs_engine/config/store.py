"""The raw key-value store every configuration backend implements, and the rules its keys follow.

Keys are relative to the store's prefix (``o2/`` by default), separated by ``/``. A key ending in ``/``
with an empty value marks a directory that has no entries yet (Consul's convention), so an empty map
in a file survives a round trip. Every change gets a sequence number (etcd: its revision) that only
grows, so watchers can resume exactly where they stopped.
"""

from __future__ import annotations

import abc
import collections
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from ecs_engine.errors import BadKeyError, ConfigurationError

DEFAULT_PREFIX = "o2/"


class Change(NamedTuple):
    """One committed change: its sequence number, the key, the new value (None = deleted) and when it was
    written (Unix seconds; None where the store does not record it: an etcd revision written by another tool)."""

    seq: int
    key: str
    value: str | None
    time: float | None = None


def check_key(key: str, *, what: str = "key") -> str:
    """Return ``key`` if it is a valid relative key, else raise BadKeyError saying why."""
    if not isinstance(key, str) or not key:
        raise BadKeyError(f"bad {what} {key!r}: empty")
    if key.startswith("/"):
        raise BadKeyError(f"bad {what} '{key}': must be relative to the store prefix (no leading '/')")
    segments = key[:-1].split("/") if key.endswith("/") else key.split("/")
    for segment in segments:
        if segment == "":
            raise BadKeyError(f"bad {what} '{key}': empty path segment ('//')")
        if segment in (".", ".."):
            raise BadKeyError(f"bad {what} '{key}': '{segment}' is not allowed as a path segment")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise BadKeyError(f"bad {what} {key!r}: control characters are not allowed")
    return key


def check_value(key: str, value: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"value of '{key}' must be a string, got {type(value).__name__}")
    if key.endswith("/") and value:
        raise ConfigurationError(f"'{key}' ends with '/' and marks a directory: its value must be empty")
    return value


def subtree_prefix(key: str) -> str:
    """The prefix that selects everything below ``key`` (for recursive deletes and tree reads)."""
    return key if key.endswith("/") else key + "/"


class Watch(Iterator[Change]):
    """The changes under one prefix, in commit order, until ``cancel()`` or the store closes.

    ``poll(timeout)`` is supplied by the backend: it returns the next changes (possibly none after
    ``timeout`` seconds), or None once the store is closed. ``cancel()`` may be called from any thread.
    """

    POLL_SECONDS = 0.2

    def __init__(self, poll: Callable[[float], list[Change] | None], on_cancel: Callable[[], None] | None = None):
        self._poll = poll
        self._on_cancel = on_cancel
        self._buffer: collections.deque[Change] = collections.deque()
        self._cancelled = threading.Event()

    def __next__(self) -> Change:
        while not self._buffer:
            if self._cancelled.is_set():
                raise StopIteration
            batch = self._poll(self.POLL_SECONDS)
            if batch is None:
                self._cancelled.set()
                raise StopIteration
            self._buffer.extend(batch)
        return self._buffer.popleft()

    def cancel(self) -> None:
        if not self._cancelled.is_set():
            self._cancelled.set()
            if self._on_cancel is not None:
                self._on_cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class KeyValueStore(abc.ABC):
    """A configuration backend: string keys relative to ``prefix``, string values, CAS and watch."""

    read_only: bool = False
    #: calls wait on a network round trip (the engine makes them from a worker thread, not its event loop)
    networked: bool = False
    prefix: str = DEFAULT_PREFIX
    #: the URL the store was opened with (shown in messages)
    url: str = ""

    @abc.abstractmethod
    def get(self, key: str) -> str | None:
        """The value of ``key``, or None if it does not exist."""

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        """The values of several keys (None for missing ones); remote backends answer in one round trip."""
        return {key: self.get(key) for key in keys}

    @abc.abstractmethod
    def get_tree(self, prefix: str) -> dict[str, str]:
        """Every key starting with ``prefix`` (plain string prefix) with its value; full relative keys."""

    @abc.abstractmethod
    def put(self, key: str, value: str) -> None:
        """Create or replace ``key``. ConfigurationError if the store is read-only."""

    def put_many(self, items: Mapping[str, str]) -> None:
        """Write several keys; backends with transactions write them all or none."""
        for key, value in items.items():
            self.put(key, value)

    @abc.abstractmethod
    def delete(self, key: str, *, recursive: bool = False) -> None:
        """Remove ``key`` (and with ``recursive`` everything below ``key/``); missing keys are no error."""

    @abc.abstractmethod
    def compare_and_set(self, key: str, expected: str | None, new: str) -> bool:
        """Atomically set ``key`` to ``new`` if its value is ``expected`` (None: if it does not exist)."""

    @abc.abstractmethod
    def revision(self) -> int:
        """The sequence number of the last committed change (0 for a store that never changed)."""

    @abc.abstractmethod
    def watch(self, prefix: str, since: int = 0) -> Watch:
        """Changes of keys starting with ``prefix``, committed after revision ``since``.

        ``since=0`` means "from now": the watch starts at the revision current when ``watch`` returns,
        so a change made right after the call is never missed. Iteration blocks until a change arrives;
        stop it with ``Watch.cancel()`` or by closing the store.
        """

    def history(self, key: str) -> list[Change]:
        """The recorded changes of ``key`` and of every key below ``key/``, oldest first (value None: deleted),
        each with its time where the store records it.

        A backend that keeps no record of its writes raises ConfigurationError (the default).
        """
        raise ConfigurationError(
            f"the configuration store {self.url or type(self).__name__} keeps no history of its writes",
            hint="the sqlite:// store (the default) keeps its last 100000 changes, etcd:// its revisions",
        )

    def exists(self) -> bool:
        """Whether the store was ever made: reading one that was not (a SQLite file never written) finds it
        empty, and a copy from it is refused rather than taken for an empty store (``config migrate --from``)."""
        return True

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and end every watch of this store."""

    def _refuse_write(self, action: str, key: str) -> None:
        if self.read_only:
            raise ConfigurationError(
                f"cannot {action} '{key}': the configuration store {self.url or type(self).__name__} is read-only",
                hint="import the file into a writable store",
                cli_hint=f"copy it into a writable store and use that one: 'coconut config migrate --from {self.url}"
                " --to URL' (e.g. sqlite:///PATH/config.sqlite)",
            )

    def __enter__(self) -> KeyValueStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
