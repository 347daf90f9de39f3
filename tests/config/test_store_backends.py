"""The built-in store backends register their schemes (hook ``ecs_register_backends``) and open their URLs."""

from __future__ import annotations

from ecs_engine.config import KeyValueStore
from ecs_engine.plugins import backends


def test_builtin_schemes_are_registered_and_open_their_stores(tmp_path):
    registry = backends()
    assert {"memory", "file", "sqlite", "etcd"} <= set(registry.config_store_schemes)
    tree = tmp_path / "c.yaml"
    tree.write_text("o2: {runtime: {aliecs: {defaults: {a: b}}}}\n")
    store = registry.open_config_store(f"file://{tree}")
    assert isinstance(store, KeyValueStore) and store.read_only
    assert store.get("runtime/aliecs/defaults/a") == "b"
    sqlite_store = registry.open_config_store(f"sqlite://{tmp_path / 'c.sqlite'}")
    assert isinstance(sqlite_store, KeyValueStore) and not sqlite_store.read_only
    sqlite_store.close()
    assert registry.open_config_store("memory://").url == "memory://"
