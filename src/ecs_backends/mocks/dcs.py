"""``coconut mock dcs``: a DCS (``dcs.Configurator``) that answers as the script says.

Like upstream's ECS2DCS2ECS test server, each detector of an operation goes through a state sequence
``MILLIS:STATE,...`` (wait MILLIS, then send a ``RunEvent`` with STATE): the request's own ``STATE_SEQUENCE``
parameter first, else the script's, else the operation's default (PFR: PREPARING then RUN_OK; SOR:
SOR_PROGRESSING then RUN_OK; EOR: EOR_PROGRESSING then RUN_OK). The stream ends (EOF) after every detector's
last state, as the real gateway does. ``Subscribe`` sends a full ``HEARTBEAT`` at once and then every
``heartbeat`` interval.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc

from ecs_engine.protocols import dcs_pb2, dcs_pb2_grpc
from ecs_engine.template.yamlload import YMap

from .framework import MockService, Recorder, Script

OPERATIONS = ("PrepareForRun", "StartOfRun", "EndOfRun")
DEFAULT_SEQUENCES = {
    "PrepareForRun": "100:PREPARING,100:RUN_OK",
    "StartOfRun": "100:SOR_PROGRESSING,100:RUN_OK",
    "EndOfRun": "100:EOR_PROGRESSING,100:RUN_OK",
}
EVENT_TYPES = {"PrepareForRun": dcs_pb2.PFR_EVENT, "StartOfRun": dcs_pb2.SOR_EVENT, "EndOfRun": dcs_pb2.EOR_EVENT}
DETECTOR_KEYS = ("pfr", "sor", "state", *OPERATIONS)
OPERATION_KEYS = ("delay", "fail", "sequence")
#: DCS's timestamp layout (Go ``2006-01-02 15:04:05.000``)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  heartbeat: 1s                  # Subscribe: a full HEARTBEAT this often
  detectors:                     # what heartbeats and GetStatus report (others: not reported)
    TPC:
      pfr: PFR_AVAILABLE         # pfrAvailability (default PFR_AVAILABLE)
      sor: SOR_UNAVAILABLE       # sorAvailability (default SOR_AVAILABLE)
      state: READY               # state (default READY)
      StartOfRun: 200:SOR_PROGRESSING,300:SOR_FAILURE   # this detector's sequence in that operation
  operations:
    EndOfRun:
      delay: 500ms               # before answering
      fail: "UNAVAILABLE: DCS is down"   # answer with this gRPC status instead of a stream
      sequence: 100:RUN_OK       # every detector's default sequence in that operation

A sequence is MILLIS:STATE,... (states of dcs.DetectorState); a request's STATE_SEQUENCE parameter wins."""


@dataclass(frozen=True)
class Step:
    millis: int
    state: dcs_pb2.DetectorState


@dataclass
class DetectorScript:
    pfr: dcs_pb2.DetectorState = dcs_pb2.PFR_AVAILABLE
    sor: dcs_pb2.DetectorState = dcs_pb2.SOR_AVAILABLE
    state: dcs_pb2.DetectorState = dcs_pb2.READY
    sequences: dict[str, list[Step]] = field(default_factory=dict)


@dataclass
class OperationScript:
    delay: float = 0.0
    fail: tuple[grpc.StatusCode, str] | None = None
    sequence: list[Step] = field(default_factory=list)


@dataclass
class DcsScript:
    heartbeat: float = 1.0
    detectors: dict[dcs_pb2.Detector, DetectorScript] = field(default_factory=dict)
    operations: dict[str, OperationScript] = field(default_factory=dict)


def parse_sequence(text: str) -> list[Step]:
    """``MILLIS:STATE,...`` as steps; raises ValueError naming the bad part."""
    steps = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        millis, sep, state = part.partition(":")
        if not sep or not millis.strip().isdigit():
            raise ValueError(f"'{part}' is not MILLIS:STATE")
        steps.append(Step(int(millis), enum_value(dcs_pb2.DetectorState, state.strip(), "detector state")))
    if not steps:
        raise ValueError("an empty sequence")
    return steps


def enum_value(enum: Any, name: str, what: str) -> Any:
    """The number of ``name`` in a protobuf enum; ValueError listing the known names."""
    try:
        return enum.Value(name)
    except ValueError:
        raise ValueError(f"unknown {what} '{name}' (known: {', '.join(enum.keys())})") from None


def load_script(script: Script) -> DcsScript:
    """The script as ``DcsScript``; a mistake is a ``ScriptError`` naming its line."""
    root = script.root
    script.check_keys(root, ("heartbeat", "detectors", "operations"), "the script")
    out = DcsScript(heartbeat=script.seconds(root, "heartbeat", 1.0))
    detectors = script.mapping(root, "detectors")
    for name, node in detectors.items():
        line = detectors.line_of(name)
        if not isinstance(node, YMap):
            raise script.error(f"detector '{name}' must be a map", line)
        script.check_keys(node, DETECTOR_KEYS, f"detector {name}")
        try:
            detector = enum_value(dcs_pb2.Detector, name, "detector")
            parsed = DetectorScript()
            for key, enum_name in (("pfr", "pfr"), ("sor", "sor"), ("state", "state")):
                if key in node:
                    line = node.line_of(key)
                    setattr(parsed, enum_name, enum_value(dcs_pb2.DetectorState, script.text(node, key), "state"))
            for operation in OPERATIONS:
                if operation in node:
                    line = node.line_of(operation)
                    parsed.sequences[operation] = parse_sequence(script.text(node, operation))
        except ValueError as exc:
            raise script.error(str(exc), line) from None
        out.detectors[detector] = parsed
    operations = script.mapping(root, "operations")
    script.check_keys(operations, OPERATIONS, "operations")
    for operation in operations:
        node = script.mapping(operations, operation)
        script.check_keys(node, OPERATION_KEYS, f"operation {operation}")
        parsed_op = OperationScript(
            delay=script.seconds(node, "delay"), fail=script.grpc_status(node, "fail", operation)
        )
        if "sequence" in node:
            try:
                parsed_op.sequence = parse_sequence(script.text(node, "sequence"))
            except ValueError as exc:
                raise script.error(str(exc), node.line_of("sequence")) from None
        out.operations[operation] = parsed_op
    return out


def timestamp() -> str:
    return datetime.datetime.now().strftime(TIME_FORMAT)[:-3]


class MockConfigurator(dcs_pb2_grpc.ConfiguratorServicer):
    """``dcs.Configurator`` as the script says; every request recorded."""

    def __init__(self, script: DcsScript, recorder: Recorder):
        self.script = script
        self.recorder = recorder

    def matrix(self, detectors: Iterable[dcs_pb2.Detector] = ()) -> list[dcs_pb2.DetectorInfo]:
        wanted = set(detectors)
        return [
            dcs_pb2.DetectorInfo(
                detector=det,
                state=d.state,
                timestamp=timestamp(),
                allowedRunTypes=[dcs_pb2.PHYSICS, dcs_pb2.TECHNICAL],
                pfrAvailability=d.pfr,
                sorAvailability=d.sor,
            )
            for det, d in sorted(self.script.detectors.items())
            if not wanted or det in wanted
        ]

    async def Subscribe(self, request: Any, context: Any) -> AsyncIterator[dcs_pb2.Event]:
        self.recorder.record("Subscribe", request)
        while True:
            yield dcs_pb2.Event(eventtype=dcs_pb2.HEARTBEAT, detectorMatrix=self.matrix(), timestamp=timestamp())
            await asyncio.sleep(self.script.heartbeat)

    async def GetStatus(self, request: Any, context: Any) -> dcs_pb2.StatusReply:
        self.recorder.record("GetStatus", request)
        return dcs_pb2.StatusReply(detectorMatrix=self.matrix(request.detector))

    async def PrepareForRun(self, request: Any, context: Any) -> AsyncIterator[dcs_pb2.RunEvent]:
        async for event in self._operation("PrepareForRun", request, context):  # gRPC serves async generators only
            yield event

    async def StartOfRun(self, request: Any, context: Any) -> AsyncIterator[dcs_pb2.RunEvent]:
        async for event in self._operation("StartOfRun", request, context):  # gRPC serves async generators only
            yield event

    async def EndOfRun(self, request: Any, context: Any) -> AsyncIterator[dcs_pb2.RunEvent]:
        async for event in self._operation("EndOfRun", request, context):  # gRPC serves async generators only
            yield event

    async def _operation(self, operation: str, request: Any, context: Any) -> AsyncIterator[dcs_pb2.RunEvent]:
        """Each detector's sequence, interleaved in time; EOF after the last state of all."""
        self.recorder.record(operation, request)
        op = self.script.operations.get(operation, OperationScript())
        if op.delay:
            await asyncio.sleep(op.delay)
        if op.fail is not None:
            await context.abort(op.fail[0], op.fail[1])
        events: asyncio.Queue[dcs_pb2.RunEvent | None] = asyncio.Queue()
        runs = []
        for item in request.detectors:
            try:
                steps = self._sequence(operation, op, item)
            except ValueError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"STATE_SEQUENCE: {exc}")
            runs.append(self._detector(operation, item.detector, steps, events))

        async def all_detectors() -> None:
            try:
                await asyncio.gather(*runs)
            finally:
                events.put_nowait(None)  # the end of the stream

        task = asyncio.create_task(all_detectors())
        try:
            while (event := await events.get()) is not None:
                yield event
        finally:
            task.cancel()

    def _sequence(self, operation: str, op: OperationScript, item: Any) -> list[Step]:
        requested = item.extraParameters.get("STATE_SEQUENCE", "")
        if requested:
            return parse_sequence(requested)
        detector = self.script.detectors.get(item.detector)
        if detector is not None and operation in detector.sequences:
            return detector.sequences[operation]
        return op.sequence or parse_sequence(DEFAULT_SEQUENCES[operation])

    async def _detector(
        self, operation: str, detector: dcs_pb2.Detector, steps: list[Step], out: asyncio.Queue[dcs_pb2.RunEvent | None]
    ) -> None:
        for step in steps:
            await asyncio.sleep(step.millis / 1000)
            state_name = dcs_pb2.DetectorState.Name(step.state)
            out.put_nowait(
                dcs_pb2.RunEvent(
                    eventtype=EVENT_TYPES[operation],
                    detector=detector,
                    state=step.state,
                    timestamp=timestamp(),
                    message=f"{dcs_pb2.Detector.Name(detector)} {state_name} (mock)",
                )
            )


def add_servicers(server: grpc.aio.Server, script: Script, recorder: Recorder) -> None:
    dcs_pb2_grpc.add_ConfiguratorServicer_to_server(MockConfigurator(load_script(script), recorder), server)


MOCK = MockService(
    name="dcs",
    summary="A DCS (dcs.Configurator over gRPC): availability, PFR/SOR/EOR state sequences, failures.",
    script_help=SCRIPT_HELP,
    add_servicers=add_servicers,
    default_port=50051,
)
