"""A generic protobuf client codec built only from the tables of spec/protocols.md (not from our .proto files).

``encode`` writes a message from a dict of field names; ``decode`` reads a reply and fails on any field
number the spec does not list for that message or any wire type that does not fit the spec's field type.
"""

from __future__ import annotations

import struct
from typing import Any

from tests.protocols import spec_tables

VARINT_TYPES = {"int32", "int64", "uint32", "uint64", "bool", "sint32", "sint64"}
FIXED64 = {"double", "fixed64", "sfixed64"}
FIXED32 = {"float", "fixed32", "sfixed32"}
LENGTH = {"string", "bytes"}
#: field numbers from here on are this project's additions to the upstream messages (protocols.md is upstream's)
OUR_ADDITIONS_START = 1000


class Codec:
    def __init__(self, spec: spec_tables.Spec):
        self.messages = {(m.package, m.name): m for m in spec.messages}
        self.enums = {(e.package, e.name) for e in spec.enums}

    def _message(self, package: str, name: str) -> spec_tables.Message:
        return self._resolve(package, name, self.messages)

    def _resolve(self, package: str, name: str, table):
        if (package, name) in table:
            return table[package, name] if isinstance(table, dict) else (package, name)
        other, _, short = name.partition(".")
        if (other, short) in table:  # another package: common.User
            return table[other, short] if isinstance(table, dict) else (other, short)
        raise KeyError(f"{package}.{name} is not in the spec")

    def _kind(self, package: str, type_name: str) -> tuple[str, Any]:
        if type_name in VARINT_TYPES | FIXED64 | FIXED32 | LENGTH:
            return "scalar", type_name
        try:
            return "enum", self._resolve(package, type_name, self.enums)
        except KeyError:
            message = self._message(package, type_name)
            return "message", message

    # -- encoding -------------------------------------------------------------------------------------------

    def encode(self, package: str, message_name: str, values: dict[str, Any]) -> bytes:
        message = self._message(package, message_name)
        out = bytearray()
        fields = {f.name: f for f in message.fields}
        for name, value in values.items():
            spec_field = fields[name]
            if spec_field.label == "map":
                key_type, value_type = (t.strip() for t in spec_field.type[4:-1].split(","))
                for k, v in value.items():
                    entry = self._scalar_or_message(message.package, 1, key_type, k)
                    entry += self._scalar_or_message(message.package, 2, value_type, v)
                    out += _tag(spec_field.number, 2) + _varint(len(entry)) + entry
            elif spec_field.label == "repeated":
                for item in value:
                    out += self._scalar_or_message(message.package, spec_field.number, spec_field.type, item)
            else:
                out += self._scalar_or_message(message.package, spec_field.number, spec_field.type, value)
        return bytes(out)

    def _scalar_or_message(self, package: str, number: int, type_name: str, value: Any) -> bytes:
        kind, detail = self._kind(package, type_name)
        if kind == "message":
            body = self.encode(detail.package, detail.name, value)
            return _tag(number, 2) + _varint(len(body)) + body
        if kind == "enum" or detail in VARINT_TYPES:
            return _tag(number, 0) + _varint(int(value))
        if detail in LENGTH:
            data = value.encode() if isinstance(value, str) else bytes(value)
            return _tag(number, 2) + _varint(len(data)) + data
        if detail in FIXED64:
            return _tag(number, 1) + struct.pack("<d" if detail == "double" else "<q", value)
        return _tag(number, 5) + struct.pack("<f" if detail == "float" else "<i", value)

    # -- decoding -------------------------------------------------------------------------------------------

    def decode(self, package: str, message_name: str, data: bytes) -> dict[str, Any]:
        message = self._message(package, message_name)
        by_number = {f.number: f for f in message.fields}
        out: dict[str, Any] = {}
        for number, wire, raw in _fields(data):
            spec_field = by_number.get(number)
            if spec_field is None and number >= OUR_ADDITIONS_START:
                continue  # this core's additions: an upstream client skips them as unknown fields
            assert spec_field is not None, f"{package}.{message_name}: field number {number} is not in the spec"
            if spec_field.label == "map":
                assert wire == 2, f"{message_name}.{spec_field.name}: a map entry must be length-delimited"
                key_type, value_type = (t.strip() for t in spec_field.type[4:-1].split(","))
                entry = {n: (w, r) for n, w, r in _fields(raw)}
                key = self._value(message.package, f"{message_name}.{spec_field.name}", key_type, *entry[1])
                value = (
                    self._value(message.package, f"{message_name}.{spec_field.name}", value_type, *entry[2])
                    if 2 in entry
                    else ""
                )
                out.setdefault(spec_field.name, {})[key] = value
                continue
            where = f"{message_name}.{spec_field.name}"
            kind, detail = self._kind(message.package, spec_field.type)
            if spec_field.label == "repeated" and wire == 2 and kind != "message" and detail not in LENGTH:
                values = [v for _, _, v in _packed(raw, detail if kind == "scalar" else "int32")]
                out.setdefault(spec_field.name, []).extend(values)
                continue
            value = self._value(message.package, where, spec_field.type, wire, raw)
            if spec_field.label == "repeated":
                out.setdefault(spec_field.name, []).append(value)
            else:
                out[spec_field.name] = value
        return out

    def _value(self, package: str, where: str, type_name: str, wire: int, raw: Any) -> Any:
        kind, detail = self._kind(package, type_name)
        expected = 2 if kind == "message" or detail in LENGTH else 0
        if kind == "scalar" and detail in FIXED64:
            expected = 1
        if kind == "scalar" and detail in FIXED32:
            expected = 5
        assert wire == expected, f"{where}: wire type {wire}, but the spec type {type_name} needs {expected}"
        if kind == "message":
            return self.decode(detail.package, detail.name, raw)
        if detail == "string":
            return raw.decode()
        if detail == "bool":
            return bool(raw)
        if detail in ("int32", "int64") and raw >= 1 << 63:
            return raw - (1 << 64)
        return raw


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise AssertionError(f"unsupported wire type {wire}")
        yield number, wire, value


def _packed(data: bytes, type_name: str):
    pos = 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        yield 0, 0, value
