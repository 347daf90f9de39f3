"""Backends by name, as tox 4's ``ToxEnvRegister``: configuration stores by URL scheme, resource managers by name.

Every plugin, built-in or installed, adds its backends through the ``ecs_register_backends`` hook. Opening
one is then a lookup, not a first-result hook asking each plugin whether a URL or name is its own, so an
unknown scheme or name is an error that lists what is registered, and two plugins claiming one is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ecs_engine.errors import StoreUrlError, UsageError

if TYPE_CHECKING:
    import pluggy

    from ecs_engine.config.store import KeyValueStore
    from ecs_engine.events.outbox import Publisher
    from ecs_engine.tasks.resources import ResourceManager

#: opens the store of a URL of its scheme (``sqlite:///path/config.sqlite``)
ConfigStoreOpener = Callable[[str], "KeyValueStore"]
#: opens a resource manager from the core's ``core`` settings section and the directory for task output
ResourceManagerOpener = Callable[[Mapping[str, Any], Path], "ResourceManager"]
#: opens the publisher of an external event service from its broker endpoints
EventPublisherOpener = Callable[[Sequence[str]], "Publisher"]

Opener = TypeVar("Opener")


class BackendRegistry:
    """What the plugins registered; ``from_plugins`` fills one from a plugin manager."""

    def __init__(self) -> None:
        self._config_stores: dict[str, ConfigStoreOpener] = {}
        self._resource_managers: dict[str, ResourceManagerOpener] = {}
        self._event_publishers: dict[str, EventPublisherOpener] = {}

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> BackendRegistry:
        """The backends every plugin of ``pm`` registers (hook ``ecs_register_backends``)."""
        registry = cls()
        pm.hook.ecs_register_backends(registry=registry)
        return registry

    def add_config_store(self, scheme: str, opener: ConfigStoreOpener) -> None:
        """Open URLs ``scheme://...`` with ``opener(url)``."""
        _add(self._config_stores, scheme, opener, "configuration store scheme")

    def add_resource_manager(self, name: str, opener: ResourceManagerOpener) -> None:
        """Open the resource manager ``name`` (setting ``core.resource_manager``) with ``opener(settings, state_dir)``."""
        _add(self._resource_managers, name, opener, "resource manager")

    def add_event_publisher(self, name: str, opener: EventPublisherOpener) -> None:
        """Publish the core's events to the service ``name`` (``kafka``) with ``opener(endpoints)``."""
        _add(self._event_publishers, name, opener, "event publisher")

    @property
    def config_store_schemes(self) -> list[str]:
        return sorted(self._config_stores)

    @property
    def resource_manager_names(self) -> list[str]:
        return sorted(self._resource_managers)

    def open_config_store(self, url: str) -> KeyValueStore:
        """The store named by ``url``; StoreUrlError if the URL is malformed or its scheme unknown."""
        scheme, sep, _ = url.partition("://")
        if not sep or not scheme:
            raise StoreUrlError(
                f"bad configuration store URL {url!r}: expected SCHEME://...",
                hint="e.g. sqlite:///path/config.sqlite, file:///path/config.yaml, etcd://127.0.0.1:2379",
            )
        opener = self._config_stores.get(scheme)
        if opener is None:
            schemes = ", ".join(f"{s}://" for s in self.config_store_schemes) or "none"
            raise StoreUrlError(
                f"unknown configuration store scheme '{scheme}://' in {url}",
                hint=f"installed backends handle {schemes}",
            )
        return opener(url)

    def open_resource_manager(self, name: str, settings: Mapping[str, Any], *, state_dir: Path) -> ResourceManager:
        """The resource manager ``name``; UsageError naming the setting and the installed ones if unknown."""
        opener = self._resource_managers.get(name)
        if opener is None:
            raise UsageError(
                f"unknown resource manager '{name}' (setting core.resource_manager)",
                hint=f"installed: {', '.join(self.resource_manager_names) or 'none'}",
            )
        return opener(settings, state_dir)

    def open_event_publisher(self, name: str, endpoints: Sequence[str]) -> Publisher:
        """The publisher ``name`` for ``endpoints``; UsageError naming the installed ones if unknown."""
        opener = self._event_publishers.get(name)
        if opener is None:
            raise UsageError(
                f"no event publisher '{name}' is installed",
                hint=f"installed: {', '.join(sorted(self._event_publishers)) or 'none'}",
            )
        return opener(endpoints)


def _add(table: dict[str, Opener], key: str, opener: Opener, what: str) -> None:
    if not key:
        raise ValueError(f"a {what} needs a name")
    if key in table:
        raise ValueError(f"{what} '{key}' is registered twice (two plugins provide it)")
    table[key] = opener
