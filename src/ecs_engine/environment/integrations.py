"""Integration plugins: the external services (DCS, ODC, trigger, bookkeeping...) that workflow calls reach.

A plugin is a class found through the ``ecs_integration_plugins`` hook of the plugin manager the caller
passes (``Integrations.from_plugins``); the registry builds one instance per enabled plugin with its
endpoint from the core settings, ``init``s (in threads) and ``start``s (on the loop) them all in parallel,
gives every call ``{plugin name: plugin.call_stack(call)}`` to evaluate its ``func`` against, and answers
``GetIntegratedServices``. Template-time functions (AliECS ``ObjectStack``) go through the existing
``ecs_template_objects`` hook, usually by returning ``{name: plugin.object_stack(stack)}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import HandledError
from ecs_engine.offload import offload

from .integration_plugin import EnvironmentsView, IntegrationPlugin

if TYPE_CHECKING:
    import pluggy

log = logging.getLogger(__name__)


class Integrations:
    """The loaded integration plugins of one manager, by name."""

    def __init__(self, plugins: Iterable[IntegrationPlugin] = (), not_enabled: Iterable[str] = ()):
        self.plugins: dict[str, IntegrationPlugin] = {}
        for plugin in plugins:
            if not plugin.name:
                raise ValueError(f"integration plugin {plugin!r} has no name")
            self.plugins[plugin.name] = plugin
        #: plugins installed but left out by ``integrationPlugins``: a call to one says so, not "unknown name"
        self.not_enabled = frozenset(not_enabled) - set(self.plugins)

    @classmethod
    def from_plugins(
        cls, pm: pluggy.PluginManager, settings: Mapping[str, Any], enabled: Iterable[str] | None = None
    ) -> Integrations:
        """One instance of each plugin class the plugins of ``pm`` contribute, with its endpoint and the
        settings from ``settings``: those named in ``enabled`` if given, else in the setting
        ``integrationPlugins`` (as upstream), else those ``enabled_by_default``."""
        if enabled is None and settings.get("integrationPlugins") is not None:
            enabled = plugin_names(settings["integrationPlugins"])
        wanted = set(enabled) if enabled is not None else None
        plugins, left_out = [], []
        for contributed in pm.hook.ecs_integration_plugins():
            for plugin_class in contributed or ():
                selected = plugin_class.name in wanted if wanted is not None else plugin_class.enabled_by_default
                if not selected:
                    left_out.append(plugin_class.name)
                    continue
                plugin = plugin_class(endpoint=str(settings.get(plugin_class.endpoint_setting, "")))
                plugin.settings = settings
                plugins.append(plugin)
        return cls(plugins, left_out)

    def bind(
        self,
        publish: Callable[[Any], None],
        data_dir: Path | None,
        environments: EnvironmentsView | None = None,
        config: Any = None,
    ) -> None:
        """Give every plugin the core's event publisher, its own state directory (``data_dir/<name>``), the
        environment manager and the configuration store."""
        for name, plugin in self.plugins.items():
            plugin.publish = publish
            plugin.state_dir = data_dir / name if data_dir is not None else None
            plugin.environments = environments
            plugin.config = config

    async def init(self, framework_id: str) -> None:
        """``init`` every plugin in parallel; a plugin that fails stays loaded and shows its error state."""

        async def one(plugin: IntegrationPlugin) -> None:
            try:
                await offload(plugin.init, framework_id)
                await plugin.start()
            except Exception:
                log.exception("integration plugin %s failed to initialise", plugin.name)

        await asyncio.gather(*(one(p) for p in self.plugins.values()))

    async def stop(self) -> None:
        """``stop`` every plugin (on the loop), before ``destroy``."""

        async def one(plugin: IntegrationPlugin) -> None:
            try:
                await plugin.stop()
            except Exception:
                log.exception("integration plugin %s failed to stop", plugin.name)

        await asyncio.gather(*(one(p) for p in self.plugins.values()))

    def destroy(self) -> None:
        for plugin in self.plugins.values():
            try:
                plugin.destroy()
            except Exception:
                log.exception("integration plugin %s failed to shut down", plugin.name)

    def call_objects(self, call: Any) -> dict[str, Any]:
        """``{name: call_stack(call)}`` for every plugin: the names a call's ``func`` can use."""
        objects: dict[str, Any] = {name: _NotEnabled(name) for name in self.not_enabled}
        objects.update((name, _CallStackProxy(plugin, call)) for name, plugin in self.plugins.items())
        return objects

    def services(self) -> dict[str, dict[str, Any]]:
        """``GetIntegratedServices``: name, enabled, endpoint, connection state and data (JSON) per plugin."""
        out = {}
        for name, plugin in self.plugins.items():
            try:
                state, data = plugin.connection_state(), json.dumps(dict(plugin.data()), sort_keys=True)
            except Exception as exc:
                state, data = "TRANSIENT_FAILURE", json.dumps({"error": str(exc)})
            out[name] = {
                "name": plugin.pretty_name or name,
                "enabled": True,
                "endpoint": plugin.endpoint,
                "connectionState": state,
                "data": data,
            }
        return out

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """environment id -> {plugin name -> JSON text}."""
        ids = list(environment_ids)
        out: dict[str, dict[str, str]] = {i: {} for i in ids}
        for name, plugin in self.plugins.items():
            for env_id, text in plugin.environments_data(ids).items():
                out.setdefault(env_id, {})[name] = text
        return out


def plugin_names(value: Any) -> list[str]:
    """``integrationPlugins`` as a list of names: a YAML list, or a comma-separated text."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return [str(name) for name in value]


class _CallStackProxy:
    """Builds a plugin's call stack only when the expression touches it (most calls use one plugin)."""

    __slots__ = ("_call", "_plugin", "_stack")

    def __init__(self, plugin: IntegrationPlugin, call: Any):
        self._plugin = plugin
        self._call = call
        self._stack: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._stack is None:
            self._stack = self._plugin.call_stack(self._call)
        return getattr(self._stack, name)

    def __dir__(self) -> list[str]:
        if self._stack is None:
            self._stack = self._plugin.call_stack(self._call)
        return [n for n in dir(self._stack) if not n.startswith("_")]


class _NotEnabled:
    """An installed plugin the setting ``integrationPlugins`` leaves out: a call to it fails saying so."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise HandledError(
            f"integration plugin '{self._name}' is installed but not enabled: the setting integrationPlugins"
            " does not list it",
            hint=f"add {self._name} to core.integrationPlugins (the list replaces the default one)",
        )
