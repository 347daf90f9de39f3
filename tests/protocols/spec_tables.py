"""A reader for the interface tables of spec/protocols.md: packages, messages, fields, enums, services.

Used to check our descriptors (and, through them, any generic client built from the spec) field by field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parents[2] / "../shared/spec/protocols.md"


@dataclass
class Field:
    name: str
    number: int
    type: str  # scalar name, type name as written in the spec, or "map<K, V>"
    label: str  # "", "optional", "repeated", "map" or "oneof <name>"


@dataclass
class Message:
    package: str
    name: str  # nested types as Outer.Inner
    fields: list[Field] = field(default_factory=list)
    reserved: list[tuple[int, int]] = field(default_factory=list)  # inclusive ranges


@dataclass
class Enum:
    package: str
    name: str
    values: dict[str, int]
    reserved: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Rpc:
    name: str
    request: str
    response: str
    streaming: str  # unary, server-stream, client-stream, bidi
    path: str


@dataclass
class Service:
    package: str
    name: str
    rpcs: list[Rpc] = field(default_factory=list)


@dataclass
class Spec:
    packages: set[str] = field(default_factory=set)
    messages: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)


_PACKAGE = re.compile(r"^- package: `([\w.]+)`")
_MESSAGE_HEADING = re.compile(r"^#### (\w+)(?:\s+—\s+(.*))?$")
_ENUM = re.compile(r"^- enum \*\*([\w.]+)\*\*: (.*)$")
_SERVICE = re.compile(r"^\*\*service `(\w+)`\*\*")
_INLINE_MESSAGE = re.compile(r"^- \*\*(\w+)\*\*: (.*)$")
_INLINE_FIELD = re.compile(r"^(\w+)=(\d+) (?:(optional|repeated) )?([\w.]+)$")


def _ranges(text: str) -> list[tuple[int, int]]:
    """'3 to 10, 17 to 100' / '1, 11' -> inclusive ranges."""
    ranges = []
    for part in text.split(","):
        bounds = [int(x) for x in part.strip().split(" to ")]
        ranges.append((bounds[0], bounds[-1]))
    return ranges


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]


def _parse_enum(package: str, name: str, body: str) -> Enum:
    body, _, reserved = body.partition(" — reserved ")
    values = {}
    for item in body.split(","):
        key, _, number = item.partition("=")
        values[key.strip()] = int(number)
    return Enum(package, name, values, _ranges(reserved) if reserved else [])


def parse(text: str) -> Spec:
    spec = Spec()
    package = ""
    current: Message | Service | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            current = None
        if m := _PACKAGE.match(line):
            package = m.group(1)
            spec.packages.add(package)
        elif m := _MESSAGE_HEADING.match(line):
            note = m.group(2) or ""
            message = Message(package, m.group(1))
            if note.startswith("reserved "):
                message.reserved = _ranges(note.removeprefix("reserved "))
            spec.messages.append(message)
            current = message
        elif m := _ENUM.match(line):
            spec.enums.append(_parse_enum(package, m.group(1), m.group(2)))
        elif m := _SERVICE.match(line):
            current = Service(package, m.group(1))
            spec.services.append(current)
        elif m := _INLINE_MESSAGE.match(line):
            message = Message(package, m.group(1))
            if m.group(2) != "(no fields)":
                for item in m.group(2).split(";"):
                    fm = _INLINE_FIELD.match(item.strip())
                    assert fm, f"unreadable field {item!r} in {line!r}"
                    message.fields.append(Field(fm.group(1), int(fm.group(2)), fm.group(4), fm.group(3) or ""))
            spec.messages.append(message)
        elif line.startswith("|") and current is not None:
            cells = _cells(line)
            if cells[0] in ("field", "rpc") or set(cells[0]) <= {"-"}:
                continue
            if isinstance(current, Message):
                current.fields.append(Field(cells[0], int(cells[1]), cells[2], cells[3]))
            else:
                current.rpcs.append(Rpc(cells[0], cells[1], cells[2], cells[3], cells[4]))
    return spec


def load(path: Path = SPEC_PATH) -> Spec:
    return parse(path.read_text(encoding="utf-8"))
