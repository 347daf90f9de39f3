"""The file:// layout (YAML and JSON, errors with file and line) and stores that plugins register by scheme."""

from __future__ import annotations

import json

import pytest

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config import Configuration, MemoryStore, open_store
from ecs_engine.errors import ConfigurationError
from ecs_engine.hookspecs import hookimpl
from ecs_engine.plugins import backends, plugin_manager


def test_yaml_scalars_become_strings_and_empty_maps_stay(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(
        "o2:\n"
        "  runtime:\n"
        "    aliecs:\n"
        "      defaults: {port: 8500, yes: on, 'no': false, ratio: 0.5, none: , list: [a, 1], 12: twelve}\n"
        "  hardware: {detectors: {TST: {flps: {flp001: {}}}}}\n"
    )
    store = open_store(f"file://{path}", backends())
    assert store.get_tree("runtime/") == {
        "runtime/aliecs/defaults/port": "8500",
        "runtime/aliecs/defaults/true": "true",  # YAML 1.1: 'yes' and 'on' are booleans
        "runtime/aliecs/defaults/no": "false",
        "runtime/aliecs/defaults/12": "twelve",
        "runtime/aliecs/defaults/ratio": "0.5",
        "runtime/aliecs/defaults/none": "",
        "runtime/aliecs/defaults/list": '["a", 1]',
    }
    assert Configuration(store).hosts_for_detector("TST") == ["flp001"]


def test_json_file_and_relative_url(tmp_path, monkeypatch):
    (tmp_path / "c.json").write_text(json.dumps({"o2": {"components": {"c": {"ANY": {"any": {"e": "v"}}}}}}))
    monkeypatch.chdir(tmp_path)
    assert Configuration.open("file://c.json", backends()).get_component("c/ANY/any/e") == "v"


def test_from_tree_is_the_same_layout():
    cfg = Configuration.from_tree({"o2": {"runtime": {"aliecs": {"vars": {"x": " 1 "}}}}})
    assert cfg.global_vars() == {"x": "1"}
    assert not cfg.store.read_only  # in-memory: tests may write to it


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "o2:\n  a: [unclosed\n", r"configuration file .*bad.yaml:\d+: not valid YAML"),
        ("bad.json", '{"o2": {', r"configuration file .*bad.json:1: not valid JSON"),
        ("other.yaml", "consul: {}\n", "top-level key 'consul' is outside the o2/ tree"),
        ("list.yaml", "- a\n- b\n", "expected a map with the top-level key 'o2', got list"),
        ("o2list.yaml", "o2: [a]\n", "'o2' must be a map, got list"),
        ("emptyname.yaml", "o2: {'': x}\n", "names must not be empty"),
        ("dotdot.yaml", "o2: {'..': {x: y}}\n", "'..' is not allowed"),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        open_store(f"file://{tmp_path / name}", backends())


def test_an_empty_file_is_an_empty_store(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    assert open_store(f"file://{tmp_path / 'empty.yaml'}", backends()).get_tree("") == {}


class LabStore:
    """A third-party backend for a scheme of its own, registered like any plugin."""

    @hookimpl
    def ecs_register_backends(self, registry: BackendRegistry) -> None:
        registry.add_config_store("lab", lambda url: MemoryStore({"runtime/aliecs/vars/site": url[6:]}, url=url))


def test_a_plugin_adds_a_scheme_through_ecs_register_backends():
    pm = plugin_manager()
    plugin = LabStore()
    pm.register(plugin, name="lab-store")
    try:
        assert Configuration.open("lab://cern", backends()).global_vars() == {"site": "cern"}
        with pytest.raises(ConfigurationError, match="unknown configuration store scheme 'nosuch://'"):
            Configuration.open("nosuch://x", backends())
    finally:
        pm.unregister(plugin)
    with pytest.raises(ConfigurationError, match="unknown configuration store scheme 'lab://'"):
        Configuration.open("lab://cern", backends())


def test_built_in_backends_are_plugins_of_the_process_wide_manager():
    names = {name for name, _ in plugin_manager().list_name_plugin()}
    assert {"config-memory", "config-sqlite", "config-file", "config-etcd"} <= names


def test_default_url_is_sqlite_in_the_data_dir(tmp_path):
    with Configuration.open(None, backends(), data_dir=tmp_path) as cfg:
        cfg.runtime_set("aliecs", "k", "v")
        assert cfg.store.url == f"sqlite:///{tmp_path / 'config.sqlite'}"
    assert (tmp_path / "config.sqlite").exists()
