"""Backends by name (hook ``ecs_register_backends``): built-ins without installed metadata, entry-point plugins."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config.memory import MemoryStore
from ecs_engine.errors import ConfigurationError, UsageError
from ecs_engine.plugins import BUILTIN_PLUGINS, backends, describe_plugins, new_plugin_manager

LAB_BACKEND = """
from ecs_engine.config.memory import MemoryStore
from ecs_engine.hookspecs import hookimpl


@hookimpl
def ecs_register_backends(registry):
    registry.add_config_store("lab", lambda url: MemoryStore({"site": url[6:]}, url=url))
"""


def _installed(monkeypatch: pytest.MonkeyPatch, *dists: importlib.metadata.Distribution) -> None:
    """Make ``dists`` the only installed distributions (none: a checkout that was never installed)."""
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: list(dists))


def _distribution(root: Path, entry_points: str) -> importlib.metadata.Distribution:
    info = root / "lab_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return importlib.metadata.PathDistribution(info)


def test_a_checkout_without_installed_metadata_has_every_builtin_and_says_so(monkeypatch):
    _installed(monkeypatch)
    pm = new_plugin_manager()
    assert {name for name, _ in pm.list_name_plugin()} == set(BUILTIN_PLUGINS)
    registry = backends(pm)
    assert registry.config_store_schemes == ["etcd", "file", "memory", "sqlite"]
    assert registry.resource_manager_names == ["local", "slurm"]
    with pytest.raises(ConfigurationError) as error:
        registry.open_config_store("gopher://nowhere")
    assert "unknown configuration store scheme 'gopher://'" in error.value.render()
    assert "installed backends handle etcd://, file://, memory://, sqlite://" in error.value.render()
    with pytest.raises(UsageError, match="installed: local, slurm"):
        registry.open_resource_manager("mesos", {}, state_dir=Path("/nonexistent"))


def test_a_third_party_plugin_comes_from_its_entry_point(monkeypatch, tmp_path):
    (tmp_path / "lab_backend.py").write_text(LAB_BACKEND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lab_backend", raising=False)
    _installed(monkeypatch, _distribution(tmp_path, "[ecs_backends]\nlab = lab_backend\n"))
    pm = new_plugin_manager()
    assert backends(pm).open_config_store("lab://cern").get("site") == "cern"
    rows = {row["name"]: row for row in describe_plugins(pm)}
    assert rows["lab"]["distribution"] == "lab-backend 1.0"
    assert rows["lab"]["hooks"] == ["ecs_register_backends"]
    assert rows["config-sqlite"]["distribution"] == "built-in"


def test_a_scheme_or_name_registered_twice_is_an_error():
    registry = BackendRegistry()
    registry.add_config_store("lab", lambda url: MemoryStore(url=url))
    with pytest.raises(ValueError, match="configuration store scheme 'lab' is registered twice"):
        registry.add_config_store("lab", lambda url: MemoryStore(url=url))


def test_a_url_without_scheme_is_refused():
    with pytest.raises(ConfigurationError, match="expected SCHEME://"):
        BackendRegistry().open_config_store("config.sqlite")
