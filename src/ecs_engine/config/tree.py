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


def yaml_error(what: str, exc: Exception) -> str:
    """One line for a YAML syntax error, ``WHAT:LINE: not valid YAML: PROBLEM``: PyYAML's own text is ~8 lines
    quoting the source twice. Every file a user writes (site files, settings) is reported this way."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{what}:{mark.line + 1}" if mark else what
    problem = getattr(exc, "problem", None) or exc
    return f"{where}: not valid YAML: {problem}"


def flatten(tree: Mapping[str, Any], base: str = "", *, origin: str = "tree") -> dict[str, str]:
    """Flat ``key -> value`` pairs of a nested map; ``base`` is prepended to every key."""
    out: dict[str, str] = {}

    def walk(node: Mapping[Any, Any], path: str) -> None:
        if not node and path:
            out[check_key(path + "/", what=f"key in {origin}")] = ""
            return
        for name, child in node.items():
            name = leaf_text(name)  # YAML turns keys like 'on' or '1' into booleans and numbers
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


FORMATS = ("json", "yaml", "toml")


def serialize(tree: Any, fmt: str) -> str:
    """A nested map as JSON, YAML or TOML text (keys in order, strings kept exactly)."""
    if fmt == "json":
        return json.dumps(tree, indent=4, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.dump(tree, Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, default_flow_style=False)
    if fmt == "toml":
        return _toml(tree)
    raise ConfigurationError(f"unknown format '{fmt}': expected one of {', '.join(FORMATS)}")


def _yaml_dumper() -> type:
    """PyYAML's safe dumper, writing multi-line strings as literal ``|`` blocks (as people write payloads) rather
    than quoted with escaped newlines; a string a block cannot hold exactly (trailing spaces on a line, control
    characters) keeps PyYAML's quoting, which the emitter picks by itself."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return Dumper


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(name: str) -> str:
    return name if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name) else _toml_string(name)


def _toml(tree: Mapping[str, Any]) -> str:
    """TOML of a nested map of strings: leaves first, then one table per non-empty map."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], path: list[str]) -> None:
        leaves = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
        if path and (leaves or not tables):
            lines.append("[" + ".".join(_toml_key(p) for p in path) + "]")
        for key, value in leaves:
            lines.append(f"{_toml_key(key)} = {_toml_string(leaf_text(value))}")
        if leaves or (path and not tables):
            lines.append("")
        for key, value in tables:
            emit(value, [*path, key])

    emit(tree, [])
    return "\n".join(lines).rstrip("\n") + "\n"
