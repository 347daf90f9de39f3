"""The raw KeyValueStore contract, the same on every writable backend (memory, sqlite, real etcd)."""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
import time
from contextlib import closing

import pytest
import yaml

from ecs_engine.config import Change, KeyValueStore, Watch, open_store
from ecs_engine.errors import ConfigurationError
from ecs_engine.plugins import backends
from tests.config.conftest import open_empty
from tests.config.etcd_server import start_etcd
from tests.servers import need_program


def collect(watch: Watch, count: int, deadline: float = 10.0) -> list[Change]:
    """The first ``count`` changes of ``watch``, waiting at most ``deadline`` seconds."""
    got: list[Change] = []

    def consume() -> None:
        for change in watch:
            got.append(change)
            if len(got) == count:
                return

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(deadline)
    watch.cancel()
    thread.join(deadline)
    assert not thread.is_alive(), "the watch did not stop after cancel()"
    return got


def test_put_get_overwrite_and_missing(writable_store: KeyValueStore):
    assert writable_store.get("components/x/ANY/any/e") is None
    writable_store.put("components/x/ANY/any/e", "one")
    writable_store.put("components/x/ANY/any/e", "two")
    assert writable_store.get("components/x/ANY/any/e") == "two"
    writable_store.put("runtime/empty", "")
    assert writable_store.get("runtime/empty") == ""


def test_get_many_answers_every_key_in_order(writable_store):
    writable_store.put_many({"a/1": "one", "a/3": "three"})
    assert writable_store.get_many(["a/3", "a/2", "a/1"]) == {"a/3": "three", "a/2": None, "a/1": "one"}
    assert writable_store.get_many([]) == {}
    with pytest.raises(ConfigurationError, match="empty path segment"):
        writable_store.get_many(["a//b"])


def test_values_keep_unicode_and_newlines(writable_store):
    text = "line 1\n  ünïcødé ✓ {{ var }}\n"
    writable_store.put("components/c/ANY/any/e", text)
    assert writable_store.get("components/c/ANY/any/e") == text


def test_get_tree_is_a_string_prefix_and_sorted(writable_store):
    writable_store.put_many({"a/b": "1", "a/bc": "2", "a/b/c": "3", "b": "4"})
    assert writable_store.get_tree("a/b") == {"a/b": "1", "a/b/c": "3", "a/bc": "2"}
    assert list(writable_store.get_tree("a/")) == ["a/b", "a/b/c", "a/bc"]
    assert writable_store.get_tree("zzz") == {}
    assert set(writable_store.get_tree("")) == {"a/b", "a/bc", "a/b/c", "b"}


def test_directory_markers(writable_store):
    writable_store.put("hardware/detectors/TST/flps/flp001/", "")
    assert writable_store.get_tree("hardware/") == {"hardware/detectors/TST/flps/flp001/": ""}
    with pytest.raises(ConfigurationError, match="marks a directory: its value must be empty"):
        writable_store.put("hardware/x/", "value")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/o2/components", "no leading '/'"),
        ("a//b", "empty path segment"),
        ("a/../b", "'..' is not allowed"),
        ("a/\x00b", "control characters"),
    ],
)
def test_bad_keys_are_rejected_with_the_reason(writable_store, key, reason):
    with pytest.raises(ConfigurationError, match=reason):
        writable_store.put(key, "v")
    with pytest.raises(ConfigurationError, match=reason):
        writable_store.get(key)


def test_delete_and_recursive_delete_stop_at_the_subtree(writable_store):
    writable_store.put_many({"a/b": "1", "a/b/c": "2", "a/b/d/e": "3", "a/bc": "4"})
    writable_store.delete("a/b")
    assert writable_store.get("a/b") is None
    assert writable_store.get("a/b/c") == "2"
    writable_store.delete("a/b", recursive=True)
    assert writable_store.get_tree("") == {"a/bc": "4"}
    writable_store.delete("does/not/exist", recursive=True)  # no error


def test_compare_and_set(writable_store):
    assert writable_store.compare_and_set("runtime/run_number", None, "1")
    assert not writable_store.compare_and_set("runtime/run_number", None, "2")
    assert not writable_store.compare_and_set("runtime/run_number", "7", "8")
    assert writable_store.get("runtime/run_number") == "1"
    assert writable_store.compare_and_set("runtime/run_number", "1", "2")
    assert writable_store.get("runtime/run_number") == "2"


def test_revision_grows_with_every_write(writable_store):
    first = writable_store.revision()
    writable_store.put("k", "1")
    second = writable_store.revision()
    writable_store.delete("k")
    assert first < second < writable_store.revision()
    before = writable_store.revision()
    assert not writable_store.compare_and_set("k", "nope", "x")
    assert writable_store.revision() == before  # a failed CAS changes nothing


def test_watch_delivers_every_change_under_the_prefix_in_order(writable_store):
    watch = writable_store.watch("runtime/")
    writable_store.put("runtime/a", "1")
    writable_store.put("components/ignored", "x")
    writable_store.put("runtime/a", "2")
    writable_store.compare_and_set("runtime/b", None, "3")
    writable_store.delete("runtime/a")
    changes = collect(watch, 4)
    assert [(c.key, c.value) for c in changes] == [
        ("runtime/a", "1"),
        ("runtime/a", "2"),
        ("runtime/b", "3"),
        ("runtime/a", None),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert changes[-1].seq == writable_store.revision()


def test_watch_from_now_skips_history_and_since_resumes(writable_store):
    writable_store.put("w/old", "1")
    mark = writable_store.revision()
    writable_store.put("w/new", "2")
    now = writable_store.watch("w/")
    writable_store.put("w/newest", "3")
    assert [c.key for c in collect(now, 1)] == ["w/newest"]
    resumed = writable_store.watch("w/", since=mark)
    assert [(c.key, c.value) for c in collect(resumed, 2)] == [("w/new", "2"), ("w/newest", "3")]


def test_watch_sees_every_write_of_concurrent_writers(writable_store):
    watch = writable_store.watch("load/")
    writers, each = 4, 25

    def write(n: int) -> None:
        for i in range(each):
            writable_store.put(f"load/{n}", str(i))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    changes = collect(watch, writers * each)
    assert len(changes) == writers * each
    for n in range(writers):
        assert [c.value for c in changes if c.key == f"load/{n}"] == [str(i) for i in range(each)]


def test_cancel_and_close_end_a_blocked_watch(writable_store):
    watch = writable_store.watch("nothing/")
    assert collect(watch, 1, deadline=0.5) == []
    assert watch.cancelled
    other = writable_store.watch("nothing/")
    result: list[list[Change]] = []
    thread = threading.Thread(target=lambda: result.append(list(other)), daemon=True)
    thread.start()
    writable_store.close()
    thread.join(10)
    assert not thread.is_alive() and result == [[]]


def test_read_only_file_store_refuses_writes(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"o2": {"runtime": {"run_number": "3"}}}))
    store = open_store(f"file://{path}", backends())
    assert store.read_only and store.get("runtime/run_number") == "3"
    for write in (
        lambda: store.put("runtime/x", "1"),
        lambda: store.delete("runtime/run_number"),
        lambda: store.compare_and_set("runtime/run_number", "3", "4"),
    ):
        with pytest.raises(ConfigurationError, match=f"configuration store file://{path} is read-only"):
            write()
    assert store.get("runtime/run_number") == "3"


def test_sqlite_keeps_data_across_reopen(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    with open_store(url, backends()) as store:
        store.put("runtime/aliecs/defaults/x", "1")
        revision = store.revision()
    with open_store(url, backends()) as store:
        assert store.get("runtime/aliecs/defaults/x") == "1"
        assert store.revision() == revision


def test_etcd_prefix_from_the_url_isolates_trees(etcd_server):
    with (
        open_store(f"etcd://{etcd_server.endpoint}/lab-a/", backends()) as a,
        open_store(f"etcd://{etcd_server.endpoint}/lab-b", backends()) as b,
    ):
        assert a.prefix == "lab-a/" and b.prefix == "lab-b/"
        a.put("runtime/x", "from a")
        assert b.get("runtime/x") is None
        assert a.get_tree("") == {"runtime/x": "from a"}


def test_etcd_unreachable_is_one_clear_error():
    from ecs_engine.errors import UnreachableError

    from .etcd_server import free_port

    port = free_port()
    with pytest.raises(UnreachableError, match=f"configuration store etcd://127.0.0.1:{port} is unreachable"):
        open_store(f"etcd://127.0.0.1:{port}", backends())


def test_etcd_fails_over_to_the_next_endpoint(etcd_server):
    from .etcd_server import free_port

    with open_store(f"etcd://127.0.0.1:{free_port()},{etcd_server.endpoint}/failover/", backends()) as store:
        store.put("k", "v")
        assert store.get("k") == "v"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuch://x", "unknown configuration store scheme 'nosuch://'"),
        ("no-scheme", "expected SCHEME://"),
        ("sqlite://", "expected sqlite:///PATH"),
        ("etcd://host:port", "bad etcd endpoint 'host:port'"),
        ("etcd://127.0.0.1:2379?timeout=soon", "bad timeout 'soon'"),
        ("file:///no/such/file.yaml", "the file /no/such/file.yaml does not exist"),
        ("file:///etc/hostname", "expected a .yaml, .yml or .json file"),
    ],
)
def test_bad_urls_are_one_clear_error(url, message):
    from ecs_engine.errors import HandledError

    with pytest.raises(HandledError, match=message):
        open_store(url, backends())


@pytest.mark.parametrize("backend", ["sqlite", "etcd"])  # a memory store is private to its object
def test_watch_sees_writes_made_through_another_connection(backend, request, tmp_path):
    """Another process's writes: a second store object on the same database or server."""
    writable_store = open_empty(backend, request, tmp_path)
    request.addfinalizer(writable_store.close)
    watch = writable_store.watch("shared/")
    with open_store(writable_store.url, backends()) as other:
        other.put("shared/a", "1")
        other.compare_and_set("shared/a", "1", "2")
        other.delete("shared/a")
    changes = collect(watch, 3)
    assert [(c.key, c.value) for c in changes] == [("shared/a", "1"), ("shared/a", "2"), ("shared/a", None)]


@pytest.mark.parametrize("backend", ["sqlite", "etcd"])
def test_history_lists_the_changes_of_a_key_and_its_subtree_in_order(backend, request, tmp_path):
    store = open_empty(backend, request, tmp_path)
    try:
        before = store.revision()  # the session's etcd keeps earlier tests' changes
        store.put("hist/a", "1")
        store.put_many({"hist/a/b": "2", "other/x": "3", "hist/ab": "4"})
        store.put("hist/a", "5")
        store.delete("hist/a", recursive=True)
        changes = [c for c in store.history("hist/a") if c.seq > before]
        assert [(c.key, c.value) for c in changes] == [
            ("hist/a", "1"),
            ("hist/a/b", "2"),
            ("hist/a", "5"),
            ("hist/a", None),
            ("hist/a/b", None),
        ]
        assert [c.seq for c in changes] == sorted(c.seq for c in changes)
        assert changes[-1].seq == store.revision()
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "etcd"])
def test_history_says_when_each_change_was_written(backend, request, tmp_path):
    """SQLite records the time of every write in its change log; the etcd store in each write's transaction (a
    revision carries none; tests/config/test_etcd_write_times.py has the details)."""
    store = open_empty(backend, request, tmp_path)
    try:
        before = store.revision()
        start = time.time()
        store.put("timed/a", "1")
        store.delete("timed/a")
        end = time.time()
        changes = [c for c in store.history("timed/a") if c.seq > before]
        assert [c.value for c in changes] == ["1", None]
        assert start <= changes[0].time <= changes[1].time <= end
    finally:
        store.close()


def test_a_sqlite_file_made_before_times_were_recorded_gains_them_and_keeps_its_history(tmp_path):
    path = tmp_path / "config.sqlite"
    with closing(sqlite3.connect(path)) as db:  # the schema of the files written before
        db.executescript(
            "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, value TEXT);"
            "INSERT INTO changes (key, value) VALUES ('k', 'old'); INSERT INTO kv VALUES ('k', 'old', 1);"
        )
    url = f"sqlite:///{path}"
    with open_store(url, backends()) as store, open_store(url, backends()) as other:
        assert store.get("k") == "old"
        start = time.time()
        other.put("k", "new")
        old, new = store.history("k")
        assert (old.seq, old.value, old.time) == (1, "old", None)
        assert (new.seq, new.value) == (2, "new") and start <= new.time <= time.time()


def test_etcd_history_begins_at_the_oldest_revision_etcd_keeps(tmp_path):
    import asyncio

    import aetcd

    need_program("etcd", "etcd-server")
    server = start_etcd(tmp_path)
    try:
        store = open_store(f"etcd://{server.endpoint}", backends())
        assert store.history("k") == []  # a fresh etcd
        for value in ("1", "2", "3"):
            store.put("k", value)
            if value == "2":
                kept = store.revision()

        async def compact() -> None:
            async with aetcd.Client(host="127.0.0.1", port=server.client_port) as client:
                await client.compact(kept)

        asyncio.run(compact())
        assert [(c.key, c.value) for c in store.history("k")] == [("k", "2"), ("k", "3")]
        store.close()
    finally:
        server.stop()


def test_the_default_store_is_made_with_its_directory(tmp_path):
    data_dir = tmp_path / "new" / "data"
    with open_store(None, backends(), data_dir=data_dir) as store:
        store.put("runtime/aliecs/defaults/x", "1")
    assert (data_dir / "config.sqlite").is_file()


def test_a_sqlite_store_only_read_makes_no_file_and_the_first_write_makes_it(tmp_path):
    path = tmp_path / "config.sqlite"
    with open_store(f"sqlite:///{path}", backends()) as store:
        assert (store.exists(), store.get("k"), store.get_tree(""), store.revision(), store.history("k")) == (
            False,
            None,
            {},
            0,
            [],
        )
        assert not path.exists()
        with open_store(f"sqlite:///{path}", backends()) as writer:
            writer.put("k", "v")
        assert store.exists() and store.get("k") == "v"  # made by another store object: read from then on


def test_an_etcd_url_at_another_grpc_server_says_the_server_is_not_etcd():
    import grpc

    from ecs_engine.errors import UnreachableError

    from .etcd_server import free_port

    port = free_port()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(1))  # no services: every method is unknown
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        with (
            pytest.raises(UnreachableError, match=f"the server at 127.0.0.1:{port} is not etcd"),
            open_store(f"etcd://127.0.0.1:{port}", backends()) as store,  # opening asks for the revision
        ):
            store.get("k")
    finally:
        server.stop(None)
