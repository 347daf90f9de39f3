"""The plugin registry: one pluggy manager with every hook spec and every installed backend."""

from __future__ import annotations

import functools

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "ecs_backends"


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager; backends come from the ``ecs_backends`` entry-point group."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


def describe_plugins(pm: pluggy.PluginManager | None = None) -> list[dict[str, object]]:
    """Name, module and implemented hooks of each registered plugin (for ``coconut plugins``)."""
    pm = pm or plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        dist = dists.get(id(plugin))
        rows.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", repr(plugin)),
                "distribution": f"{dist.project_name} {dist.version}" if dist else "",
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            }
        )
    return rows
