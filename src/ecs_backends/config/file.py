"""``file:///path.yaml|json``: a read-only store loaded from a nested map that mirrors the key tree.

The AliECS file layout: the top-level key is ``o2`` and nested maps follow the key tree, e.g.
``o2: {hardware: {detectors: {TST: {flps: {flp001: {}}}}}, runtime: {aliecs: {defaults: {x: "1"}}}}``.
The file is read once when the store is opened.
"""

from __future__ import annotations

import json
from pathlib import Path

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.config.configuration import tree_root
from ecs_engine.config.memory import MemoryStore
from ecs_engine.config.tree import flatten, yaml_error
from ecs_engine.errors import ConfigurationError, StoreUrlError
from ecs_engine.hookspecs import hookimpl

SCHEME = "file"


def path_of(url: str) -> Path:
    """The file named by ``file:///abs/path`` or ``file://relative/path``."""
    rest = url.partition("://")[2]
    if not rest:
        raise StoreUrlError(f"bad configuration store URL {url!r}: expected file:///PATH.yaml or .json")
    return Path(rest)


def load_tree(path: Path, url: str) -> dict[str, str]:
    """Flat keys of the file at ``path``; one ConfigurationError naming the file and what is wrong. A file that is
    not there is a mistyped URL (a StoreUrlError, exit 2), told apart from a file that is there but bad (exit 1)."""
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise StoreUrlError(f"configuration file {path}: expected a .yaml, .yml or .json file")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StoreUrlError(f"configuration store URL {url}: the file {path} does not exist") from None
    except OSError as exc:
        raise ConfigurationError(f"configuration file {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"configuration file {path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigurationError(yaml_error(f"configuration file {path}", exc)) from None
    return flatten(tree_root(data, f"configuration file {path}"), origin=f"configuration file {path}")


class FileStore(MemoryStore):
    """The read-only store of one file (runtime KV writes and run numbers are refused)."""

    def __init__(self, path: Path, url: str):
        super().__init__(load_tree(path, url), read_only=True, url=url)
        self.path = path


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_config_store(SCHEME, lambda url: FileStore(path_of(url), url))
