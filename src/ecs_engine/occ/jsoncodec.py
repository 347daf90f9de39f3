"""The OCClite JSON codec: occ_pb messages as the JSON objects the FairMQ OCClite plugin speaks (protocols §5).

Not proto3-JSON: keys are the .proto field names, enums are integers. The Go client leaves zero values out
(``omit_empty``); the C++ plugin writes every field. Decoding is forgiving like Go's ``encoding/json``:
unknown keys are ignored, keys match case-insensitively, missing keys are zero values.
Method paths are bare (``GetState``, ``Transition``, ``EventStream``); StateStream does not exist.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

GET_STATE = "GetState"
TRANSITION = "Transition"
EVENT_STREAM = "EventStream"
METHODS = (GET_STATE, TRANSITION, EVENT_STREAM)

M = TypeVar("M", bound=Message)


class CodecError(ValueError):
    """A payload that is not a JSON object of the expected shape."""


def to_object(message: Message, *, omit_empty: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            items = [to_object(v, omit_empty=omit_empty) if _is_message(field) else v for v in value]
            if items or not omit_empty:
                obj[field.name] = items
        elif _is_message(field):
            if message.HasField(field.name) or not omit_empty:
                obj[field.name] = to_object(value, omit_empty=omit_empty)
        elif value or not omit_empty:
            obj[field.name] = value
    return obj


def encode(message: Message, *, omit_empty: bool = True) -> bytes:
    return json.dumps(to_object(message, omit_empty=omit_empty), separators=(",", ":")).encode()


def from_object(obj: Any, cls: type[M]) -> M:
    if not isinstance(obj, dict):
        raise CodecError(f"expected a JSON object for {cls.DESCRIPTOR.name}, got {type(obj).__name__}")
    message = cls()
    fields = {f.name.lower(): f for f in cls.DESCRIPTOR.fields}
    for key, value in obj.items():
        field = fields.get(str(key).lower())
        if field is None or value is None:
            continue
        try:
            if field.is_repeated:
                if not isinstance(value, list):
                    raise CodecError(f"{field.name}: expected a list")
                target = getattr(message, field.name)
                for item in value:
                    if _is_message(field):
                        target.append(from_object(item, GetMessageClass(field.message_type)))
                    else:
                        target.append(item)
            elif _is_message(field):
                getattr(message, field.name).CopyFrom(from_object(value, GetMessageClass(field.message_type)))
            else:
                setattr(message, field.name, value)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"{cls.DESCRIPTOR.name}.{field.name}: {exc}") from exc
    return message


def decode(data: bytes, cls: type[M]) -> M:
    """Parse one payload; an empty or non-JSON payload is an error (OCClite answers it with CANCELLED)."""
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CodecError(f"payload is not JSON: {exc}") from exc
    return from_object(obj, cls)


def _is_message(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE
