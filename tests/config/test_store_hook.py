"""The ecs_config_store hook: built-in backends answer for their schemes through the plugin manager."""

from __future__ import annotations

from ecs_engine.config import KeyValueStore
from ecs_engine.plugins import plugin_manager


def test_ecs_config_store_opens_builtin_schemes_and_declines_others(tmp_path):
    hook = plugin_manager().hook.ecs_config_store
    tree = tmp_path / "c.yaml"
    tree.write_text("o2: {runtime: {aliecs: {defaults: {a: b}}}}\n")
    store = hook(url=f"file://{tree}")
    assert isinstance(store, KeyValueStore) and store.read_only
    assert store.get("runtime/aliecs/defaults/a") == "b"
    sqlite_store = hook(url=f"sqlite://{tmp_path / 'c.sqlite'}")
    assert isinstance(sqlite_store, KeyValueStore) and not sqlite_store.read_only
    sqlite_store.close()
    assert hook(url="gopher://nowhere") is None
