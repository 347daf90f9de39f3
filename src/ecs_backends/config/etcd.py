"""``etcd://host:port[,host:port][/prefix/][?timeout=SECONDS]``: the store for clusters, on etcd v3.

Keys live under the prefix (default ``o2/``, the Consul layout of AliECS). Compare-and-set and
multi-key writes are etcd transactions; the sequence number of a change is its etcd revision (keys
written by one transaction share it). A revision carries no time: each write of this store also puts its
time (Unix seconds, the writer's clock) in the same transaction, at a key outside every store's prefix
(``/ecs-write-time/`` + the prefix, e.g. ``/ecs-write-time/o2/``), which nothing reading the tree under the
prefix sees and ``history()`` finds at the revision it times. The aetcd client is asyncio-only: the store
runs it on a private event loop thread and waits on each call with a deadline. If an endpoint is
unreachable the next one of the list is tried.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config.store import (
    DEFAULT_PREFIX,
    Change,
    KeyValueStore,
    Watch,
    check_key,
    check_value,
    subtree_prefix,
)
from ecs_engine.errors import ConfigurationError, DeadlineError, StoreUrlError, UnreachableError
from ecs_engine.hookspecs import hookimpl

SCHEME = "etcd"
DEFAULT_PORT = 2379
DEFAULT_TIMEOUT = 10.0
#: etcd's default --max-txn-ops: a multi-key write is atomic up to this many operations (its keys and the time)
MAX_TXN_OPS = 128
#: where each write puts its time: this + the store's prefix. A prefix never begins with '/' (parse_url strips it),
#: so these keys are outside every store's tree (AliECS's layout, ``etcdctl get --prefix o2/``)
WRITE_TIME_KEYS = b"/ecs-write-time/"
#: responses of large trees exceed gRPC's default 4 MiB
MAX_MESSAGE = 256 * 1024 * 1024

T = TypeVar("T")


def parse_url(url: str) -> tuple[list[tuple[str, int]], str, float]:
    """Endpoints, key prefix and per-call timeout of an ``etcd://`` URL."""
    parsed = urllib.parse.urlsplit(url)
    endpoints = []
    for item in (parsed.netloc or "").split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = item.strip(), str(DEFAULT_PORT)
        if not host or not port.isdigit():
            raise StoreUrlError(f"bad etcd endpoint {item!r} in {url}: expected HOST:PORT")
        endpoints.append((host.strip("[]"), int(port)))
    prefix = parsed.path.strip("/")
    prefix = prefix + "/" if prefix else DEFAULT_PREFIX
    timeout = DEFAULT_TIMEOUT
    for name, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
        if name != "timeout":
            raise StoreUrlError(f"unknown option '{name}' in {url}: only ?timeout=SECONDS is understood")
        try:
            timeout = float(value)
        except ValueError:
            raise StoreUrlError(f"bad timeout {value!r} in {url}: expected seconds") from None
        if timeout <= 0:
            raise StoreUrlError(f"bad timeout {value!r} in {url}: must be positive")
    return endpoints, prefix, timeout


def _range_end(prefix: bytes) -> bytes:
    """The etcd range end that selects every key starting with ``prefix``."""
    import aetcd.utils

    return aetcd.utils.prefix_range_end(prefix) if prefix else b"\0"


def _seconds(value: bytes) -> float | None:
    """The time a write-time key holds, None if it holds no finite number (not written by this module)."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


class EtcdStore(KeyValueStore):
    networked = True

    def __init__(self, url: str):
        self.url = url
        self.endpoints, self.prefix, self.timeout = parse_url(url)
        try:
            import aetcd
        except ImportError:  # an optional dependency: the 'etcd' extra
            raise ConfigurationError(
                f"configuration store {url}: etcd:// stores need the aetcd package, which is not installed",
                hint="pip install 'aetcd>=1.0' (the 'etcd' extra of coconut-ecs)",
            ) from None
        self._aetcd = aetcd
        self._bprefix = self.prefix.encode()
        self._time_key = WRITE_TIME_KEYS + self._bprefix
        self._current = 0  # index of the endpoint in use
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"etcd-store {url}", daemon=True)
        self._thread.start()
        self._client = self._new_client()
        try:
            self.revision()  # fail now, with a clear message, if no endpoint answers
        except Exception:
            self.close()
            raise

    # --- plumbing -----------------------------------------------------------------------------------------

    def _new_client(self) -> Any:
        host, port = self.endpoints[self._current]
        options = {"grpc.max_receive_message_length": MAX_MESSAGE, "grpc.max_send_message_length": MAX_MESSAGE}

        async def make() -> Any:  # the client's asyncio objects must belong to the store's loop
            return self._aetcd.Client(host=host, port=port, timeout=self.timeout, options=options)

        return asyncio.run_coroutine_threadsafe(make(), self._loop).result()

    def _endpoint(self) -> str:
        host, port = self.endpoints[self._current]
        return f"{host}:{port}"

    def _call(self, make: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """Run ``make(client)`` on the store's loop; fail over to the next endpoint if unreachable."""
        if self._closed:
            raise ConfigurationError(f"configuration store {self.url} is closed")
        errors: list[str] = []
        for _ in self.endpoints:
            client = self._client
            future = asyncio.run_coroutine_threadsafe(make(client), self._loop)
            try:
                return future.result(self.timeout + 1)
            except TimeoutError:
                future.cancel()
                raise DeadlineError(
                    f"etcd at {self._endpoint()} did not answer within {self.timeout:g} s",
                    hint="raise the limit with ?timeout=SECONDS in the etcd:// URL",
                ) from None
            except self._aetcd.exceptions.ConnectionTimeoutError:
                raise DeadlineError(
                    f"etcd at {self._endpoint()} did not answer within {self.timeout:g} s",
                    hint="raise the limit with ?timeout=SECONDS in the etcd:// URL",
                ) from None
            except self._aetcd.exceptions.ConnectionFailedError as exc:
                errors.append(f"{self._endpoint()}: {exc}")
                self._current = (self._current + 1) % len(self.endpoints)
                stale, self._client = client, self._new_client()
                asyncio.run_coroutine_threadsafe(stale.close(), self._loop)
            except self._aetcd.exceptions.ClientError as exc:
                import grpc

                if isinstance(exc.__cause__, grpc.RpcError) and exc.__cause__.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise UnreachableError(  # another gRPC server (a coconut core): "Method not found!"
                        f"configuration store {self.url}: the server at {self._endpoint()} is not etcd"
                        " (it does not serve etcd's KV API)",
                        hint="point the etcd:// URL at etcd's client port (2379 by default)",
                    ) from None
                raise ConfigurationError(f"etcd at {self._endpoint()}: {exc}") from None
        raise UnreachableError(
            f"configuration store {self.url} is unreachable: {'; '.join(errors)}",
            hint="is etcd running? start it or point the configuration endpoint elsewhere",
            cli_hint="is etcd running? start it or point --config-endpoint elsewhere",
        )

    def _key(self, key: str) -> bytes:
        return self._bprefix + check_key(key).encode()

    def _rel(self, key: bytes) -> str:
        return key[len(self._bprefix) :].decode()

    def _stamp(self, c: Any) -> Any:
        """The operation that records the time of a write, to add to the write's own transaction."""
        return c.transactions.put(self._time_key, repr(time.time()).encode())

    # --- KeyValueStore ------------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        full = self._key(key)
        result = self._call(lambda c: c.get(full))
        return None if result is None else result.value.decode()

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        fulls = [self._key(k) for k in keys]
        _, responses = self._call(
            lambda c: c.transaction(compare=[], success=[c.transactions.get(f) for f in fulls], failure=[])
        )
        return {key: (found[0][0].decode() if found else None) for key, found in zip(keys, responses, strict=True)}

    def get_tree(self, prefix: str) -> dict[str, str]:
        start = self._bprefix + prefix.encode()
        end = _range_end(start)
        result = self._call(lambda c: c.get_range(start, end, sort_order="ascend"))
        return {self._rel(kv.key): kv.value.decode() for kv in result}

    def put(self, key: str, value: str) -> None:
        full = self._key(key)
        check_value(key, value)
        self._call(
            lambda c: c.transaction(
                compare=[], success=[c.transactions.put(full, value.encode()), self._stamp(c)], failure=[]
            )
        )

    def put_many(self, items: Mapping[str, str]) -> None:
        ops = [(self._key(k), check_value(k, v).encode()) for k, v in items.items()]
        size = MAX_TXN_OPS - 1  # one operation of each transaction records its time
        for start in range(0, len(ops), size):
            batch = ops[start : start + size]

            def write(c: Any, batch: list[tuple[bytes, bytes]] = batch) -> Any:
                puts = [c.transactions.put(k, v) for k, v in batch]
                return c.transaction(compare=[], success=[*puts, self._stamp(c)], failure=[])

            self._call(write)

    def delete(self, key: str, *, recursive: bool = False) -> None:
        full = self._key(key)

        def txn(c: Any) -> Any:
            # deleting nothing must make no revision (its time alone would): the deletes and the time are done
            # only if a compare finds a key there (a range compare holds if it holds for each key in the range)
            t = c.transactions
            absent = [t.version(full) == 0]
            deletes = [t.delete(full)]
            if recursive:
                below = self._bprefix + subtree_prefix(key).encode()
                absent.append(t.version(below, range_end=_range_end(below)) == 0)
                deletes.append(t.delete(below, range_end=_range_end(below)))
            return c.transaction(compare=absent, success=[], failure=[*deletes, self._stamp(c)])

        self._call(txn)

    def compare_and_set(self, key: str, expected: str | None, new: str) -> bool:
        full = self._key(key)
        check_value(key, new)

        def txn(c: Any) -> Coroutine[Any, Any, tuple[bool, list[Any]]]:
            t = c.transactions
            compare = t.version(full) == 0 if expected is None else t.value(full) == expected.encode()
            return c.transaction(compare=[compare], success=[t.put(full, new.encode()), self._stamp(c)], failure=[])

        succeeded, _ = self._call(txn)
        return bool(succeeded)

    def revision(self) -> int:
        from aetcd import rpc

        errors = self._aetcd.exceptions
        by_code = {
            rpc.StatusCode.UNAVAILABLE: errors.ConnectionFailedError,
            rpc.StatusCode.DEADLINE_EXCEEDED: errors.ConnectionTimeoutError,
        }

        async def current(c: Any) -> int:
            await c.connect()
            request = rpc.RangeRequest(key=self._bprefix, count_only=True)
            try:
                reply = await c.kvstub.Range(request, timeout=self.timeout, metadata=c.metadata)
            except rpc.AioRpcError as exc:  # the raw stub call bypasses aetcd's error mapping
                raise by_code.get(exc.code(), errors.ClientError)(exc.details()) from exc
            return reply.header.revision

        return self._call(current)

    def history(self, key: str) -> list[Change]:
        """etcd's own record: the changes of every revision it still keeps (until it is compacted), each with
        the time its writer put at a write-time key in the same revision (a store of this module, whatever
        its prefix); ``time`` is None for a revision written by another tool (etcdctl, AliECS).

        A watch from the oldest kept revision replays them; it covers the whole key space (the write-time keys
        too), so the revision current when the call began is known to come, and its reply ends the replay.
        """
        from aetcd import rpc

        full = self._key(key)
        below = self._bprefix + subtree_prefix(key).encode()
        until = self.revision()  # a fresh etcd is at 1 and has no change yet

        async def replay(c: Any) -> list[Change]:
            await c.connect()
            changes: list[Change] = []
            times: dict[int, float] = {}  # revision: the time its writer recorded
            first = 1
            while until > 1:
                call = rpc.WatchStub(c.channel).Watch(metadata=c.metadata)
                create = rpc.WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=first)
                try:
                    await call.write(rpc.WatchRequest(create_request=create))
                    async for reply in call:
                        if reply.compact_revision:  # the oldest revisions are gone: from the oldest kept
                            first = reply.compact_revision
                            break
                        for event in reply.events:
                            if event.kv.key == full or event.kv.key.startswith(below):
                                value = None if event.type == event.DELETE else event.kv.value.decode()
                                changes.append(Change(event.kv.mod_revision, self._rel(event.kv.key), value))
                            elif event.kv.key.startswith(WRITE_TIME_KEYS) and event.type == event.PUT:
                                written = _seconds(event.kv.value)
                                if written is not None:
                                    times[event.kv.mod_revision] = written
                        if reply.events and reply.events[-1].kv.mod_revision >= until:
                            return [c._replace(time=times.get(c.seq)) for c in changes if c.seq <= until]
                    else:
                        raise UnreachableError(f"etcd at {self._endpoint()} ended the replay of its history")
                finally:
                    call.cancel()
            return changes

        return self._call(replay)

    def watch(self, prefix: str, since: int = 0) -> Watch:
        start = self._bprefix + prefix.encode()
        first = (since or self.revision()) + 1
        events: queue.Queue[Any] = queue.Queue()
        Compacted = self._aetcd.exceptions.RevisionCompactedError

        async def open_watch(c: Any) -> Any:
            stream = await c.watch(start, range_end=_range_end(start), start_revision=first)

            async def pump() -> None:
                try:
                    async for event in stream:
                        value = event.kv.value.decode() if event.kind == "PUT" else None
                        events.put(Change(event.kv.mod_revision, self._rel(event.kv.key), value))
                except Exception as exc:
                    events.put(exc)
                finally:
                    events.put(None)

            self._loop.create_task(pump())
            return stream

        try:
            stream = self._call(open_watch)
        except ConfigurationError as exc:
            raise ConfigurationError(f"cannot watch {self.url} from revision {since}: {exc.message}") from None

        def poll(timeout: float) -> list[Change] | None:
            try:
                item = events.get(timeout=timeout)
            except queue.Empty:
                return []
            batch: list[Change] = []
            while True:
                if item is None:
                    return batch or None
                if isinstance(item, Compacted):
                    raise ConfigurationError(f"cannot watch {self.url} from revision {since}: history was compacted")
                if isinstance(item, Exception):
                    raise UnreachableError(f"watch on {self.url} ended: {item}")
                batch.append(item)
                try:
                    item = events.get_nowait()
                except queue.Empty:
                    return batch

        def cancel() -> None:
            if not self._closed:
                asyncio.run_coroutine_threadsafe(stream.cancel(), self._loop)

        return Watch(poll, cancel)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(self.timeout)
        except Exception:  # closing a client that never connected or lost its server: nothing to release
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
        self._loop.close()


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_config_store(SCHEME, EtcdStore)
