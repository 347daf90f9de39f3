"""Our descriptors against the interface tables of spec/protocols.md: every message's field numbers, wire types
and labels, every enum value, every rpc's request/response/streaming shape and :path.

This is what a generic client built from protocols.md relies on: if it passes, such a client and our stubs
put the same bytes on the wire.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf import descriptor_pb2

import ecs_engine.protocols
from tests.protocols import spec_tables

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "double": FDP.TYPE_DOUBLE,
    "float": FDP.TYPE_FLOAT,
    "int64": FDP.TYPE_INT64,
    "uint64": FDP.TYPE_UINT64,
    "int32": FDP.TYPE_INT32,
    "fixed64": FDP.TYPE_FIXED64,
    "fixed32": FDP.TYPE_FIXED32,
    "bool": FDP.TYPE_BOOL,
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "uint32": FDP.TYPE_UINT32,
    "sfixed32": FDP.TYPE_SFIXED32,
    "sfixed64": FDP.TYPE_SFIXED64,
    "sint32": FDP.TYPE_SINT32,
    "sint64": FDP.TYPE_SINT64,
}
STREAMING = {
    "unary": (False, False),
    "server-stream": (False, True),
    "client-stream": (True, False),
    "bidi": (True, True),
}
OUR_ADDITIONS_START = 1000

pytestmark = pytest.mark.shared


class Descriptors:
    """Every message, enum and service of our generated modules, by full name (from FileDescriptorProtos)."""

    def __init__(self) -> None:
        self.messages: dict[str, tuple[descriptor_pb2.FileDescriptorProto, descriptor_pb2.DescriptorProto]] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        for info in pkgutil.iter_modules(ecs_engine.protocols.__path__):
            if not info.name.endswith("_pb2"):
                continue
            module = importlib.import_module(f"ecs_engine.protocols.{info.name}")
            fdp = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
            for enum in fdp.enum_type:
                self.enums[f"{fdp.package}.{enum.name}"] = enum
            for message in fdp.message_type:
                self._add_message(fdp, f"{fdp.package}.{message.name}", message)
            for service in fdp.service:
                self.services[f"{fdp.package}.{service.name}"] = service

    def _add_message(self, fdp, full_name, message) -> None:
        self.messages[full_name] = (fdp, message)
        for enum in message.enum_type:
            self.enums[f"{full_name}.{enum.name}"] = enum
        for nested in message.nested_type:
            self._add_message(fdp, f"{full_name}.{nested.name}", nested)


@pytest.fixture(scope="module")
def spec() -> spec_tables.Spec:
    return spec_tables.load()


@pytest.fixture(scope="module")
def ours() -> Descriptors:
    return Descriptors()


def qualified(spec: spec_tables.Spec, package: str, type_name: str) -> str:
    """Full name of a type as the spec writes it: unqualified within the package, qualified across packages."""
    for other in spec.packages:
        if other != package and type_name.startswith(other + "."):
            return type_name
    return f"{package}.{type_name}"


def check_type(spec, ours, package, field_proto, spec_type, where) -> None:
    if spec_type in SCALARS:
        assert field_proto.type == SCALARS[spec_type], f"{where}: wire type differs from {spec_type}"
        return
    expected = qualified(spec, package, spec_type)
    assert field_proto.type_name == "." + expected, f"{where}: type {field_proto.type_name} is not {expected}"
    kind = FDP.TYPE_ENUM if expected in ours.enums else FDP.TYPE_MESSAGE
    assert field_proto.type == kind, (
        f"{where}: {expected} is not used as {'enum' if kind == FDP.TYPE_ENUM else 'message'}"
    )


def check_field(spec, ours, message: spec_tables.Message, fdp, message_proto, spec_field, field_proto) -> None:
    where = f"{message.package}.{message.name}.{spec_field.name} (#{spec_field.number})"
    label = spec_field.label
    if label == "map":
        key_type, value_type = (t.strip() for t in spec_field.type.removeprefix("map<").removesuffix(">").split(","))
        assert field_proto.label == FDP.LABEL_REPEATED and field_proto.type == FDP.TYPE_MESSAGE, f"{where}: not a map"
        entry = ours.messages[field_proto.type_name.lstrip(".")][1]
        assert entry.options.map_entry, f"{where}: not a map"
        key, value = sorted(entry.field, key=lambda f: f.number)
        check_type(spec, ours, message.package, key, key_type, where + " key")
        check_type(spec, ours, message.package, value, value_type, where + " value")
        return
    check_type(spec, ours, message.package, field_proto, spec_field.type, where)
    if label == "repeated":
        assert field_proto.label == FDP.LABEL_REPEATED, f"{where}: should be repeated"
        return
    assert field_proto.label == FDP.LABEL_OPTIONAL, f"{where}: should be singular"
    if label == "optional":
        assert field_proto.proto3_optional, f"{where}: should have explicit presence (proto3 optional)"
    elif label.startswith("oneof "):
        assert field_proto.HasField("oneof_index") and not field_proto.proto3_optional, f"{where}: not in a oneof"
        oneof = message_proto.oneof_decl[field_proto.oneof_index].name
        assert oneof == label.removeprefix("oneof "), f"{where}: in oneof {oneof}, not {label}"
    else:
        assert label == "", f"{where}: unknown label {label!r} in the spec"
        assert not field_proto.proto3_optional and not field_proto.HasField("oneof_index"), f"{where}: should be plain"


def test_the_spec_reader_finds_every_package_and_the_known_shapes(spec):
    assert spec.packages == {
        "o2control",
        "common",
        "events",
        "occ_pb",
        "apricot",
        "dcs",
        "odc",
        "ctpd",
        "ctp_status",
        "o2.DataDistribution.Control",
        "kafka",
        "o2.bookkeeping",
    }
    by_name = {(m.package, m.name): m for m in spec.messages}
    transition = by_name[("occ_pb", "TransitionRequest")]
    assert [(f.name, f.number, f.type, f.label) for f in transition.fields] == [
        ("srcState", 1, "string", ""),
        ("transitionEvent", 2, "string", ""),
        ("arguments", 3, "ConfigEntry", "repeated"),
    ]
    assert by_name[("events", "Event")].reserved == [(3, 10), (17, 100), (104, 199)]
    assert len(by_name[("o2.bookkeeping", "Run")].fields) == 31
    control = next(s for s in spec.services if s.name == "Control")
    assert len(control.rpcs) == 26
    assert (len(spec.messages), len(spec.enums), len(spec.services)) == (192, 29, 12)


def test_every_message_matches_field_by_field(spec, ours):
    for message in spec.messages:
        full_name = f"{message.package}.{message.name}"
        assert full_name in ours.messages, f"message {full_name} is missing"
        fdp, message_proto = ours.messages[full_name]
        by_number = {f.number: f for f in message_proto.field}
        for spec_field in message.fields:
            field_proto = by_number.pop(spec_field.number, None)
            assert field_proto is not None, f"{full_name}: field {spec_field.name} #{spec_field.number} is missing"
            assert field_proto.name == spec_field.name, f"{full_name} #{spec_field.number}: named {field_proto.name}"
            check_field(spec, ours, message, fdp, message_proto, spec_field, field_proto)
        extra = sorted(n for n in by_number if n < OUR_ADDITIONS_START)
        assert not extra, f"{full_name}: fields {extra} are not in the spec (our additions must use numbers >= 1000)"
        reserved = [(r.start, r.end - 1) for r in message_proto.reserved_range]
        assert reserved == message.reserved, f"{full_name}: reserved {reserved}, spec says {message.reserved}"


def test_every_enum_has_exactly_the_spec_values(spec, ours):
    for enum in spec.enums:
        full_name = f"{enum.package}.{enum.name}"
        assert full_name in ours.enums, f"enum {full_name} is missing"
        enum_proto = ours.enums[full_name]
        assert {v.name: v.number for v in enum_proto.value} == enum.values, f"enum {full_name} values differ"
        reserved = [(r.start, r.end) for r in enum_proto.reserved_range]
        assert reserved == enum.reserved, f"enum {full_name}: reserved {reserved}, spec says {enum.reserved}"


def test_every_rpc_has_the_spec_path_types_and_streaming(spec, ours):
    for service in spec.services:
        full_name = f"{service.package}.{service.name}"
        assert full_name in ours.services, f"service {full_name} is missing"
        methods = {m.name: m for m in ours.services[full_name].method}
        for rpc in service.rpcs:
            method = methods.get(rpc.name)
            assert method is not None, f"rpc {full_name}/{rpc.name} is missing"
            assert f"/{full_name}/{method.name}" == rpc.path
            assert method.input_type == "." + qualified(spec, service.package, rpc.request), f"{rpc.path} request"
            assert method.output_type == "." + qualified(spec, service.package, rpc.response), f"{rpc.path} response"
            assert (method.client_streaming, method.server_streaming) == STREAMING[rpc.streaming], f"{rpc.path} shape"


def test_messages_round_trip_through_the_wire_encoding():
    """Keyword field names (await, return) and oneof payloads survive serialisation."""
    from ecs_engine.protocols import events_pb2

    event = events_pb2.Event(timestamp=1, callEvent=events_pb2.Ev_CallEvent(func="f", **{"return": "42"}))
    event.callEvent.traits.CopyFrom(events_pb2.Traits(**{"await": "after_CONFIGURE"}))
    decoded = events_pb2.Event.FromString(event.SerializeToString())
    assert decoded.WhichOneof("Payload") == "callEvent"
    assert getattr(decoded.callEvent, "return") == "42"
    assert getattr(decoded.callEvent.traits, "await") == "after_CONFIGURE"
