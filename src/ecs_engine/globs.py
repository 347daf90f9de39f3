"""Glob patterns with the syntax AliECS users know (gobwas/glob): repository, revision and role-path patterns.

One compiler for every pattern a user types, so ``coconut repo``/``template`` patterns and ``role query``
paths match alike. ``?`` one character, ``*`` any run of characters, ``[abc]``/``[a-z]``/``[!x]`` classes,
``{a,b}`` alternatives, ``\\`` escapes the next character. With a ``separator`` (``.`` for role paths),
``*`` and ``?`` stay within one segment and ``**`` crosses segments, as gobwas's ``Compile(p, '.')``.
"""

from __future__ import annotations

import functools
import re

from ecs_engine.errors import UsageError

GLOB_CHARS = frozenset("*?[{")


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` matches more than its literal self."""
    return any(c in GLOB_CHARS for c in pattern)


@functools.lru_cache(maxsize=256)
def compile_glob(pattern: str, separator: str = "") -> re.Pattern[str]:
    """The anchored regular expression equivalent to ``pattern``; UsageError if it is malformed."""
    within = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                raise UsageError(f"glob '{pattern}': trailing backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 1
        elif c == "*":
            out.append(within + "*")
        elif c == "?":
            out.append(within)
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                raise UsageError(f"glob '{pattern}': '[' at position {i} is never closed")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]")
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise UsageError(f"glob '{pattern}': '{{' is never closed")
    return re.compile("".join(out) + r"\Z", re.DOTALL)
