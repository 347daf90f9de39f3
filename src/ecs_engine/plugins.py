"""The plugin manager: every hook spec, the built-in backends, then the plugins installed as entry points.

Built-ins are registered by module name, as pytest's default plugins, so they are there in a checkout that
was never installed; third-party plugins come from the ``ecs_backends`` entry-point group. The names are
given, not imported, because the backends build on the engine (they import it, not the other way round).
"""

from __future__ import annotations

import functools
import importlib

import pluggy

from . import hookspecs
from .backend_registry import BackendRegistry

ENTRY_POINT_GROUP = "ecs_backends"
#: plugin name -> module; the names are those the built-ins once had as entry points, which are then skipped
BUILTIN_PLUGINS = {
    "config-memory": "ecs_backends.config.memory",
    "config-file": "ecs_backends.config.file",
    "config-sqlite": "ecs_backends.config.sqlite",
    "config-etcd": "ecs_backends.config.etcd",
    "resources-local": "ecs_backends.resources.local",
    "resources-slurm": "ecs_backends.resources.slurm",
    "testplugin": "ecs_backends.integrations.testplugin",
    "kafka": "ecs_backends.integrations.kafka",
    "ccdb": "ecs_backends.integrations.ccdb",
    "trg": "ecs_backends.integrations.trg",
    "bookkeeping": "ecs_backends.integrations.bookkeeping",
    "lhc": "ecs_backends.integrations.lhc",
    "dcs": "ecs_backends.integrations.dcs",
    "odc": "ecs_backends.integrations.odc",
    "ddsched": "ecs_backends.integrations.ddsched",
    "events-kafka": "ecs_backends.events.kafka",
}


def new_plugin_manager() -> pluggy.PluginManager:
    """A manager with the hook specs, the built-in backends and the installed plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, module in BUILTIN_PLUGINS.items():
        pm.register(importlib.import_module(module), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager (plugins registered on it later count from then on)."""
    return new_plugin_manager()


def backends(pm: pluggy.PluginManager | None = None) -> BackendRegistry:
    """The backends the plugins of ``pm`` (default: the process-wide manager) register, collected now."""
    return BackendRegistry.from_plugins(pm or plugin_manager())


def describe_plugins(pm: pluggy.PluginManager | None = None) -> list[dict[str, object]]:
    """Name, module, distribution and implemented hooks of each registered plugin (for ``coconut plugins``)."""
    pm = pm or plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows: list[dict[str, object]] = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        dist = dists.get(id(plugin))
        if dist is not None:
            distribution = f"{dist.project_name} {dist.version}"
        else:
            distribution = "built-in" if name in BUILTIN_PLUGINS else ""
        rows.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", repr(plugin)),
                "distribution": distribution,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            }
        )
    return rows
