"""``memory://``: an in-process store for tests and trials, registered like every other scheme."""

from __future__ import annotations

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config.memory import MemoryStore
from ecs_engine.hookspecs import hookimpl

SCHEME = "memory"


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_config_store(SCHEME, lambda url: MemoryStore(url=url))
