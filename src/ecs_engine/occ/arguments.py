"""Transition arguments: OCClib's property-tree reading of them, and flattening a file into them.

OCClib turns the ``key=value`` arguments of every transition into a tree (occ-peer-behaviour.md §6.4):
dotted keys nest, order is kept, ``__ptree__:<json|ini|xml>:<name>`` values are parsed in that syntax and
grafted under ``<name>``, and ``runNumber`` is read from every transition. peanut goes the other way: a YAML
or JSON file is flattened into dot keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

PTREE_PREFIX = "__ptree__:"
RUN_NUMBER_KEY = "runNumber"

Tree = dict[str, Any]  # values: str, list, or Tree


class ArgumentError(ValueError):
    """An argument that cannot be placed in the tree (a node that is both a value and a parent)."""


def as_pairs(arguments: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if arguments is None:
        return []
    if isinstance(arguments, Mapping):
        return [(str(k), str(v)) for k, v in arguments.items()]
    return [(str(k), str(v)) for k, v in arguments]


def run_number(arguments: Mapping[str, str]) -> int:
    """The run number carried by a transition's arguments; 0 when absent or not a number (as OCClib)."""
    try:
        return int(arguments.get(RUN_NUMBER_KEY, "0"))
    except ValueError:
        return 0


def to_tree(arguments: Mapping[str, str] | Iterable[tuple[str, str]]) -> Tree:
    """Nest the arguments as OCClib does. Unparseable ``__ptree__`` entries are skipped with a warning."""
    tree: Tree = {}
    for key, value in as_pairs(arguments):
        if key.startswith(PTREE_PREFIX):
            syntax, _, name = key[len(PTREE_PREFIX) :].partition(":")
            if not name:
                log.warning("error processing ptree declaration %r: expected __ptree__:<syntax>:<name>", key)
                continue
            try:
                subtree: Any = _PARSERS[syntax](value)
            except KeyError:
                log.warning("error processing syntax declaration %r: syntax must be json, ini or xml", key)
                continue
            except ValueError as exc:
                log.warning("error loading configuration payload %r: %s", key, exc)
                continue
            _put(tree, name, subtree)
        else:
            _put(tree, key, value)
    return tree


def _put(tree: Tree, dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ArgumentError(f"argument {dotted!r}: {'.'.join(parts[: i + 1])!r} already has a value")
        node = child
    last = parts[-1]
    if isinstance(node.get(last), dict) and not isinstance(value, dict):
        raise ArgumentError(f"argument {dotted!r}: {dotted!r} already has children")
    node[last] = value


def _stringify(value: Any) -> Any:
    """Property trees hold strings: JSON numbers and booleans become their text."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _parse_json(text: str) -> Any:
    try:
        return _stringify(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc


def _parse_ini(text: str) -> Tree:
    tree: Tree = {}
    section = tree
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = tree.setdefault(line[1:-1].strip(), {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"line {number}: expected key=value or [section], got {raw!r}")
        section[key.strip()] = value.strip()
    return tree


def _parse_xml(text: str) -> Tree:
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(str(exc)) from exc

    def convert(element) -> Any:
        children = list(element)
        if not children and not element.attrib:
            return (element.text or "").strip()
        node: Tree = {}
        if element.attrib:
            node["<xmlattr>"] = dict(element.attrib)
        for child in children:
            node[child.tag] = convert(child)
        return node

    return {root.tag: convert(root)}


_PARSERS = {"json": _parse_json, "ini": _parse_ini, "xml": _parse_xml}


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested mappings and lists -> ``{"a.b.0.c": "value"}``; integer keys and non-string values become text."""
    flat: dict[str, str] = {}
    if isinstance(data, Mapping):
        items: Iterable[tuple[Any, Any]] = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    else:
        flat[prefix] = _scalar_text(data)
        return flat
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping | list | tuple) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = _scalar_text(value) if not isinstance(value, Mapping | list | tuple) else ""
    return flat


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
