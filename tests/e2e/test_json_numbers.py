"""``-o json|yaml`` of every command printing a message with 64-bit integers (run numbers, times, counts) gives
them as numbers, not as the strings of protobuf's JSON mapping: scripts (jq) compare and add them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from ecs_engine.protocols import events_pb2, journal_pb2, o2control_pb2, watchdogs_pb2
from tests.watchdogs.conftest import pair_repo

from .conftest import remember

pytestmark = pytest.mark.slow

SIXTY_FOUR = (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64)


def sixty_four_bit(descriptor: Descriptor, data: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """The place and value of every 64-bit integer of a message of type ``descriptor`` in its JSON form ``data``."""
    for field in descriptor.fields:
        if field.json_name not in data:
            continue
        place = f"{path}.{field.json_name}"
        values = data[field.json_name] if field.is_repeated else [data[field.json_name]]
        if field.cpp_type in SIXTY_FOUR:
            yield from ((place, value) for value in values)
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for value in values:
                yield from sixty_four_bit(field.message_type, value, place)


Picked = Callable[[Any], list[tuple[Descriptor, dict[str, Any]]]]


def whole(descriptor: Descriptor) -> Picked:
    return lambda data: [(descriptor, data)]


def under(key: str, descriptor: Descriptor) -> Picked:
    return lambda data: [(descriptor, item) for item in (data[key] if isinstance(data[key], list) else [data[key]])]


def test_every_64_bit_integer_of_every_message_printed_is_a_json_number(coconut, tmp_path):
    pair = pair_repo(tmp_path / "pair-repo")
    created = coconut("env", "create", "-w", "pair", "--repo", str(pair), "-o", "json")
    environment_id = created.json()["environment"]["id"]
    remember(coconut)
    started = coconut("env", "control", environment_id, "-e", "START", "-o", "json")
    run = started.json()["currentRunNumber"]
    watchdog = coconut("watchdog", "list", "-o", "json").json()["watchdogs"][0]["name"]
    printed = {
        "env create": (created, whole(o2control_pb2.NewEnvironmentReply.DESCRIPTOR)),
        "env control": (started, whole(o2control_pb2.ControlEnvironmentReply.DESCRIPTOR)),
        **{
            " ".join(args): (coconut(*args, "-o", "json"), pick)
            for args, pick in [
                (("env", "list"), whole(o2control_pb2.GetEnvironmentsReply.DESCRIPTOR)),
                (("env", "show", environment_id), whole(o2control_pb2.GetEnvironmentReply.DESCRIPTOR)),
                (("info",), under("framework", o2control_pb2.GetFrameworkInfoReply.DESCRIPTOR)),
                (("watchdog", "list"), whole(watchdogs_pb2.WatchdogsReply.DESCRIPTOR)),
                (("watchdog", "show", watchdog), under("watchdog", watchdogs_pb2.Watchdog.DESCRIPTOR)),
                (("runs", "list"), whole(journal_pb2.RunsReply.DESCRIPTOR)),
                (("runs", "show", str(run)), under("run", journal_pb2.RunRecord.DESCRIPTOR)),
                (
                    ("events", "query", "--run", str(run)),
                    lambda data: [(events_pb2.Event.DESCRIPTOR, e["event"]) for e in data],
                ),
                (
                    ("env", "destroy", environment_id, "--allow-in-running-state"),
                    whole(o2control_pb2.DestroyEnvironmentReply.DESCRIPTOR),
                ),
                (("task", "clean"), whole(o2control_pb2.CleanupTasksReply.DESCRIPTOR)),
            ]
        },
    }
    found = {
        command: [value for descriptor, data in pick(result.json()) for value in sixty_four_bit(descriptor, data, "")]
        for command, (result, pick) in printed.items()
    }
    assert all(found.values()), f"commands that printed no 64-bit integer: {[c for c, v in found.items() if not v]}"
    strings = {command: [(p, v) for p, v in values if type(v) is not int] for command, values in found.items()}
    assert not any(strings.values()), f"64-bit integers that are not JSON numbers: {strings}"


def test_yaml_output_has_them_as_numbers_too(coconut, tmp_path):
    pair = pair_repo(tmp_path / "pair-repo")
    environment_id = coconut("env", "create", "-w", "pair", "--repo", str(pair), "-o", "json").json()["environment"][
        "id"
    ]
    remember(coconut)
    shown = yaml.safe_load(coconut("env", "show", environment_id, "-o", "yaml").out)
    assert type(shown["environment"]["createdWhen"]) is int and shown["environment"]["createdWhen"] > 0
    coconut("env", "destroy", environment_id)
