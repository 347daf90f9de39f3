"""etcd's history has the time of each write made through the store, recorded in the write's own transaction at a
key outside the store's prefix; writes by other clients (etcdctl, aetcd, the real AliECS) have none. Real etcd."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from ecs_backends.config.etcd import MAX_TXN_OPS
from ecs_engine.config import Change, KeyValueStore, open_store
from ecs_engine.plugins import backends
from tests.servers import need_program

#: where the store with prefix P records the time of its writes (docs/configuration.md, config history)
WRITE_TIME_KEY = "/ecs-write-time/{prefix}"


@pytest.fixture
def prefix(tmp_path) -> str:
    """A prefix of this test's own: the session's etcd keeps the other tests' keys and revisions."""
    return f"times-{tmp_path.name}/"


@pytest.fixture
def store(etcd_server, prefix):
    with open_store(f"etcd://{etcd_server.endpoint}/{prefix}", backends()) as store:
        yield store


def etcdctl(server, *args: str) -> str:
    binary = need_program("etcdctl", "etcd-client")
    done = subprocess.run(
        [binary, f"--endpoints={server.endpoint}", *args],
        env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def with_aetcd(server, work: Callable) -> object:
    """``work(client)`` awaited with a bare aetcd client: another client than the store."""
    import aetcd

    async def run() -> object:
        async with aetcd.Client(host="127.0.0.1", port=server.client_port) as client:
            return await work(client)

    return asyncio.run(run())


def test_each_write_through_the_store_has_its_time_in_history(store: KeyValueStore):
    bounds: dict[int, tuple[float, float]] = {}  # revision: wall clock before and after the write that made it

    def write(action: Callable[[], object], revisions: int = 1) -> None:
        before, start = store.revision(), time.time()
        action()
        end = time.time()
        assert store.revision() == before + revisions
        bounds.update({revision: (start, end) for revision in range(before + 1, before + revisions + 1)})

    first = store.revision()
    write(lambda: store.put("a", "1"))
    # a batch is cut so that each transaction holds its keys and its time within etcd's --max-txn-ops
    write(lambda: store.put_many({f"a/x{i:03d}": str(i) for i in range(MAX_TXN_OPS)}), revisions=2)
    write(lambda: store.put_many({"a/y": "1", "b": "2"}))
    write(lambda: store.compare_and_set("a", "1", "2"))
    write(lambda: store.compare_and_set("a/new", None, "3"))
    write(lambda: store.delete("a/y"))
    write(lambda: store.delete("a", recursive=True))
    # writes that change nothing make no revision (not even one holding a time alone)
    write(lambda: store.compare_and_set("b", "not this", "4"), revisions=0)
    write(lambda: store.delete("absent"), revisions=0)
    write(lambda: store.delete("absent", recursive=True), revisions=0)

    changes = [c for c in store.history("a") + store.history("b") if c.seq > first]
    assert len(changes) == 1 + MAX_TXN_OPS + 2 + 1 + 1 + 1 + (1 + MAX_TXN_OPS + 1)
    assert {c.seq for c in changes} == set(bounds)
    assert [c for c in changes if c.time is None] == []
    for change in changes:
        start, end = bounds[change.seq]
        assert start <= change.time <= end, change


def test_writes_made_by_other_clients_have_no_time(store: KeyValueStore, etcd_server, prefix):
    first = store.revision()
    start = time.time()
    store.put("k", "store")
    end = time.time()
    etcdctl(etcd_server, "put", f"{prefix}k", "etcdctl")
    with_aetcd(etcd_server, lambda client: client.put(f"{prefix}k".encode(), b"aetcd"))
    etcdctl(etcd_server, "del", f"{prefix}k")
    store.compare_and_set("k", None, "store again")

    changes = [c for c in store.history("k") if c.seq > first]
    assert [(c.value, c.time is None) for c in changes] == [
        ("store", False),
        ("etcdctl", True),
        ("aetcd", True),
        (None, True),
        ("store again", False),
    ]
    assert start <= changes[0].time <= end <= changes[-1].time <= time.time()


def test_a_store_sees_the_times_of_writes_made_under_it_by_a_store_with_a_longer_prefix(etcd_server, store, prefix):
    with open_store(f"etcd://{etcd_server.endpoint}/{prefix}lab/", backends()) as inner:
        first = store.revision()
        start = time.time()
        inner.put("k", "v")
        end = time.time()
    assert [(c.key, c.value) for c in store.history("lab") if c.seq > first] == [("lab/k", "v")]
    (change,) = [c for c in store.history("lab") if c.seq > first]
    assert start <= change.time <= end


def test_the_write_time_key_is_outside_the_tree_in_no_listing_watch_or_history(
    store: KeyValueStore, etcd_server, prefix
):
    watch = store.watch("")
    seen: list[Change] = []

    def consume() -> None:
        for change in watch:
            seen.append(change)
            if change.key == "zz-last":
                return

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    start = time.time()
    store.put("a", "1")
    store.put_many({"b/c": "2", "d": "3"})
    store.compare_and_set("a", "1", "4")
    store.delete("d")
    store.put("zz-last", "5")
    end = time.time()
    thread.join(10)
    watch.cancel()
    thread.join(10)
    assert not thread.is_alive()

    assert [(c.key, c.value) for c in seen] == [
        ("a", "1"),
        ("b/c", "2"),
        ("d", "3"),
        ("a", "4"),
        ("d", None),
        ("zz-last", "5"),
    ]
    assert store.get_tree("") == {"a": "4", "b/c": "2", "zz-last": "5"}
    assert etcdctl(etcd_server, "get", "--prefix", "--keys-only", prefix).split() == [
        f"{prefix}a",
        f"{prefix}b/c",
        f"{prefix}zz-last",
    ]
    assert {c.key for c in store.history("a") + store.history("b") + store.history("zz-last")} == {
        "a",
        "b/c",
        "zz-last",
    }
    # where it is: one key per prefix, holding the time of the last write
    hidden = WRITE_TIME_KEY.format(prefix=prefix)
    written = with_aetcd(etcd_server, lambda client: client.get(hidden.encode()))
    assert start <= float(written.value) <= end
    assert written.mod_revision == store.revision()
