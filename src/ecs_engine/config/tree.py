"""Nested maps <-> flat keys: the AliECS file layout, dumps and imports all use nested maps.

A nested map mirrors the key tree (``{"components": {"readout": {"ANY": {"any": {"x": "..."}}}}}``).
Leaves become string values (numbers and booleans as YAML spells them, lists as JSON); an empty map
becomes a directory marker key ending in ``/``. A name containing ``/`` spans several levels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ecs_engine.errors import ConfigurationError

from .store import check_key


def leaf_text(value: Any) -> str:
    """The string stored for a leaf of a nested map."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def flatten(tree: Mapping[str, Any], base: str = "", *, origin: str = "tree") -> dict[str, str]:
    """Flat ``key -> value`` pairs of a nested map; ``base`` is prepended to every key."""
    out: dict[str, str] = {}

    def walk(node: Mapping[Any, Any], path: str) -> None:
        if not node and path:
            out[check_key(path + "/", what=f"key in {origin}")] = ""
            return
        for name, child in node.items():
            name = str(name)
            if not name.strip("/"):
                where = f"under '{path}'" if path else "at the top level"
                raise ConfigurationError(f"{origin}: bad key {name!r} {where}: names must not be empty")
            key = f"{path}/{name}" if path else name  # a name with '/' spans several levels
            if isinstance(child, Mapping):
                walk(child, key)
            else:
                out[check_key(key, what=f"key in {origin}")] = leaf_text(child)

    walk(tree, base.rstrip("/"))
    return out


def unflatten(items: Mapping[str, str], base: str = "") -> dict[str, Any]:
    """The nested map of the keys under ``base`` (their paths relative to ``base``)."""
    root: dict[str, Any] = {}
    start = base if not base or base.endswith("/") else base + "/"
    for key in sorted(items):
        if not key.startswith(start):
            continue
        rest = key[len(start) :]
        is_dir = rest.endswith("/")
        parts = [p for p in rest.split("/") if p]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if last and not is_dir:
                if isinstance(node.get(part), dict):
                    raise ConfigurationError(f"'{key}' has a value and also keys below it: cannot nest it in a map")
                node[part] = items[key]
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ConfigurationError(
                        f"'{start}{'/'.join(parts[: depth + 1])}' has a value and also keys below it: "
                        "cannot nest it in a map"
                    )
                node = child
    return root
