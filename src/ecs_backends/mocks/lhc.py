"""A stand-in for BKP-LHC-Client: publishes a scripted beam-mode sequence to ``dip.lhc.beam_mode``.

``coconut mock lhc --broker HOST:PORT [--script FILE]`` sends each step of the script as the real producer
does (integrations.md §1.8): an ``events.Event`` with ``beamModeEvent``, the key the fill number (a 4-byte
big-endian integer, Kafka's IntegerSerializer), ``timestamp`` in ms and ``timestampNano``; it returns once the
broker has every message. Stable beams get their start time when they begin and their end time when they end.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Mapping
from typing import Any

from ecs_engine.errors import UnreachableError
from ecs_engine.protocols import common_pb2, events_pb2
from ecs_engine.server.endpoints import split_endpoint
from ecs_engine.template.yamlload import YMap

from .framework import CommandOption, MockService, Recorder, Script

TOPIC = "dip.lhc.beam_mode"
#: without a script: a fill from injection to the dump
DEFAULT_STEPS = ("INJECTION_PHYSICS_BEAM", "STABLE_BEAMS", "BEAM_DUMP", "NO_BEAM")
FLUSH_TIMEOUT = 10.0
#: how long the broker may take to accept a connection before it counts as unreachable
CONNECT_TIMEOUT = 2.0

SCRIPT_HELP = """\
Publishes the script's beam modes to dip.lhc.beam_mode on the broker of --broker (then exits), as
BKP-LHC-Client does: an events.Event with beamModeEvent, keyed by the fill number. Without a script:
INJECTION_PHYSICS_BEAM, STABLE_BEAMS, BEAM_DUMP, NO_BEAM at once.

Script (YAML):
  fill: 9000                 # the fill number (the message key; default 1)
  filling_scheme: 25ns_2352b # default: none
  beam_type: PROTON-PROTON   # default: none
  steps:                     # in order; 'after' waits before sending (500ms, 2s; default 0)
    - {mode: STABLE_BEAMS}
    - {mode: BEAM_DUMP, after: 2s}"""


def steps_of(script: Script) -> tuple[dict[str, Any], list[tuple[float, str]]]:
    """(fill fields, [(seconds to wait, beam mode)]) from ``script``; ScriptError naming the line."""
    root = script.root
    script.check_keys(root, ("fill", "filling_scheme", "beam_type", "steps"), "the script")
    fill_text = script.text(root, "fill", "1")
    if not fill_text.isdigit():
        raise script.error(f"'fill' is '{fill_text}', expected a fill number", root.line_of("fill"))
    fill = {
        "fillNumber": int(fill_text),
        "fillingSchemeName": script.text(root, "filling_scheme"),
        "beamType": script.text(root, "beam_type"),
    }
    steps = []
    for step in script.items(root, "steps"):
        if not isinstance(step, YMap):
            raise script.error("each step is a map: {mode: BEAM_DUMP, after: 1s}", root.line_of("steps"))
        script.check_keys(step, ("mode", "after"), "a step")
        mode = script.choice(step, "mode", common_pb2.BeamMode.keys(), "")
        steps.append((script.seconds(step, "after"), mode))
    if "steps" not in root:
        steps = [(0.0, m) for m in DEFAULT_STEPS]
    return fill, steps


def message(fill: dict[str, Any], mode: str, stable: list[int]) -> events_pb2.Event:
    """The event of one step; ``stable`` is [start, end] of stable beams so far (ms, 0 if none)."""
    now = int(time.time() * 1000)
    if mode == "STABLE_BEAMS":
        stable[:] = [now, 0]
    elif stable[0] and not stable[1]:
        stable[1] = now
    info = common_pb2.BeamInfo(beamMode=mode, stableBeamsStart=stable[0], stableBeamsEnd=stable[1], **fill)
    return events_pb2.Event(
        timestamp=now,
        timestampNano=now * 1_000_000,
        beamModeEvent=events_pb2.Ev_BeamModeEvent(timestamp=now, beamInfo=info),
    )


def reachable(broker: str) -> None:
    """Raise UnreachableError unless ``broker`` accepts a connection (Kafka's client would only time out)."""
    host, port = split_endpoint(broker, what="--broker", example="127.0.0.1:9092")
    try:
        socket.create_connection((host, port), CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnreachableError(f"the Kafka broker at {broker} is unreachable: {reason.lower()}") from None


def run(script: Script, recorder: Recorder, args: list[str], options: Mapping[str, str]) -> int:
    """Send the script's steps to ``--broker``; 0 once the broker has them all (no arguments)."""
    broker = options["broker"]
    reachable(broker)

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    from ecs_backends.events.kafka import client_config, create_topics

    fill, steps = steps_of(script)
    config = client_config([broker])
    create_topics(AdminClient(config), [TOPIC], broker)  # a first message to a new topic may be lost
    producer = Producer({**config, "acks": "all", "linger.ms": 0})
    key = struct.pack(">i", fill["fillNumber"])
    stable = [0, 0]
    for wait, mode in steps:
        if wait:
            producer.flush(FLUSH_TIMEOUT)
            time.sleep(wait)
        event = message(fill, mode, stable)
        producer.produce(TOPIC, value=event.SerializeToString(), key=key)
        producer.poll(0)
        recorder.record("publish", event.beamModeEvent.beamInfo, topic=TOPIC)
        print(f"lhc mock: {mode} (fill {fill['fillNumber']})", flush=True)
    if producer.flush(FLUSH_TIMEOUT):
        raise UnreachableError(f"Kafka at {broker}: the beam modes were not delivered in {FLUSH_TIMEOUT:g}s")
    return 0


MOCK = MockService(
    name="lhc",
    summary="LHC beam modes to Kafka (BKP-LHC-Client)",
    script_help=SCRIPT_HELP,
    run=run,
    options=(CommandOption("--broker", "HOST:PORT", "The Kafka broker to publish to."),),
)
