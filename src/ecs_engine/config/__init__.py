"""The configuration store: AliECS's key tree (components, runtime KV, inventory, run numbers) over
pluggable backends (memory, sqlite, file, etcd), with payload templating and template functions."""

from .configuration import Configuration, open_store
from .memory import MemoryStore
from .paths import RUN_TYPES, ComponentQuery
from .store import DEFAULT_PREFIX, Change, KeyValueStore, Watch

__all__ = [
    "DEFAULT_PREFIX",
    "RUN_TYPES",
    "Change",
    "ComponentQuery",
    "Configuration",
    "KeyValueStore",
    "MemoryStore",
    "Watch",
    "open_store",
]
