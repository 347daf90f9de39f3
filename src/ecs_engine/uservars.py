"""User variables as people type them: ``k=v,k2=v2`` or a JSON object; ``role.path:key`` targets one role."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ecs_engine.errors import UsageError


def string_list(text: str) -> list[str] | None:
    """``text`` as a JSON list of strings (``detectors``, an iterator's range), None if it is not one."""
    try:
        items = json.loads(text)
    except ValueError:
        return None
    return items if isinstance(items, list) and all(isinstance(i, str) for i in items) else None


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, braces and quotes (``hosts=["a","b"],x=1`` is two items)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def parse_vars(texts: str | Iterable[str], *, argument: str = "-e") -> dict[str, str]:
    """Parse one or more ``-e`` values into a string map (later values win)."""
    if isinstance(texts, str):
        texts = [texts]
    out: dict[str, str] = {}
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise UsageError(f"{argument}: not a valid JSON object: {exc}") from None
            if not isinstance(data, dict):
                raise UsageError(f"{argument}: expected a JSON object of variable names to values")
            out.update({str(k): _as_text(v) for k, v in data.items()})
            continue
        for item in _split_top_level(text):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"{argument}: '{item}' is not KEY=VALUE (use k=v,k2=v2 or a JSON object)")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[key.strip()] = value
    return out


def split_role_vars(variables: Mapping[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Separate ``role.path:key`` entries (applied to that role) from environment-wide ones."""
    plain: dict[str, str] = {}
    per_role: dict[str, dict[str, str]] = {}
    for key, value in variables.items():
        if ":" in key:
            path, _, name = key.rpartition(":")
            if not path or not name:
                raise UsageError(f"variable '{key}': expected ROLE.PATH:NAME")
            per_role.setdefault(path, {})[name] = value
        else:
            plain[key] = value
    return plain, per_role
