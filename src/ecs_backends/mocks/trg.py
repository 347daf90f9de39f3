"""``coconut mock trg``: a CTP (``ctpd.CTPd``) that keeps runs as the real one does and answers as the script says.

``RunLoad`` loads a global run, ``RunStart`` starts a loaded run (or, with a detector, a standalone one),
``RunStop`` stops it (a global run stays loaded, a standalone one is gone), ``RunUnload`` unloads a global run;
``RunList`` answers ``rc`` = the number of runs and one line per run (``G 511713 R its, mft  run511713``),
``RunStatus`` 0 running, 2 loaded, 3 no such run. Asking for a run in the wrong state answers ``rc`` 3.
The script may start with runs of its own (another control system's, for reconciliation) and make any
operation slow, answer a given ``rc``, or fail with a gRPC status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc

from ecs_engine.protocols import ctpecs_pb2, ctpecs_pb2_grpc
from ecs_engine.template.yamlload import YMap

from .framework import MockService, Recorder, Script

OPERATIONS = (
    "PrepareForRun",
    "RunLoad",
    "RunUnload",
    "RunStart",
    "RunStatus",
    "RunList",
    "RunStop",
    "RunConfig",
    "RunCleanup",
    "TPCReset",
)
OPERATION_KEYS = ("delay", "rc", "msg", "fail")
RUN_KEYS = ("runn", "global", "running", "detectors")
NO_SUCH_RUN = 3

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  runs:                          # CTP runs there from the start (another control system's)
    - {runn: 9999, global: true, running: true, detectors: [hmp, tof]}
  operations:
    RunStart:
      delay: 500ms               # before answering
      rc: 5                      # answer this response code (non-zero: the operation failed)
      msg: "detector busy"       # with this message
    RunStop:
      fail: "UNAVAILABLE: CTP is down"   # answer with this gRPC status instead

Operations: PrepareForRun, RunLoad, RunUnload, RunStart, RunStatus, RunList, RunStop, RunConfig,
RunCleanup, TPCReset.

As the real CTP, RunList leaves out runs numbered below 1000 (they are loaded and started all the same):
a core whose run numbers are still small sees no CTP runs in coconut info."""


@dataclass
class Run:
    number: int
    is_global: bool
    running: bool
    detectors: list[str]

    def line(self) -> str:
        kind, state = "G" if self.is_global else "S", "R" if self.running else "L"
        return f"{kind} {self.number} {state} {', '.join(self.detectors)}  run{self.number}"


@dataclass
class OperationScript:
    delay: float = 0.0
    rc: int = 0
    msg: str = ""
    fail: tuple[grpc.StatusCode, str] | None = None


@dataclass
class TrgScript:
    runs: list[Run] = field(default_factory=list)
    operations: dict[str, OperationScript] = field(default_factory=dict)


def flag(script: Script, node: YMap, key: str) -> bool:
    return script.choice(node, key, ("true", "false"), "false") == "true"


def load_script(script: Script) -> TrgScript:
    """The script as ``TrgScript``; a mistake is a ``ScriptError`` naming its line."""
    root = script.root
    script.check_keys(root, ("runs", "operations"), "the script")
    out = TrgScript()
    runs = script.items(root, "runs")
    for index, node in enumerate(runs):
        if not isinstance(node, YMap):
            raise script.error("each run is a map: {runn: 9999, global: true, ...}", runs.line_of(index))
        script.check_keys(node, RUN_KEYS, "a run")
        number = script.text(node, "runn")
        if not number.isdigit():
            raise script.error(f"'runn' is '{number}', expected a run number", node.line_of("runn"))
        detectors = script.items(node, "detectors")
        if not all(isinstance(d, str) for d in detectors):
            raise script.error("'detectors' is a list of names", node.line_of("detectors"))
        out.runs.append(Run(int(number), flag(script, node, "global"), flag(script, node, "running"), list(detectors)))
    operations = script.mapping(root, "operations")
    script.check_keys(operations, OPERATIONS, "operations")
    for operation in operations:
        node = script.mapping(operations, operation)
        script.check_keys(node, OPERATION_KEYS, f"operation {operation}")
        rc = script.text(node, "rc", "0")
        if not rc.lstrip("-").isdigit():
            raise script.error(f"'rc' is '{rc}', expected a whole number", node.line_of("rc"))
        parsed = OperationScript(delay=script.seconds(node, "delay"), rc=int(rc), msg=script.text(node, "msg"))
        parsed.fail = script.grpc_status(node, "fail", operation)
        out.operations[operation] = parsed
    return out


class MockCtp(ctpecs_pb2_grpc.CTPdServicer):
    """``ctpd.CTPd`` keeping its runs; every request recorded before it is answered."""

    def __init__(self, script: TrgScript, recorder: Recorder):
        self.script = script
        self.recorder = recorder
        self.runs = {run.number: run for run in script.runs}

    async def _answer(self, operation: str, request: Any, context: Any, work: Any) -> ctpecs_pb2.RunReply:
        self.recorder.record(operation, request)
        op = self.script.operations.get(operation, OperationScript())
        if op.delay:
            await asyncio.sleep(op.delay)
        if op.fail is not None:
            await context.abort(op.fail[0], op.fail[1])
        if op.rc:
            return ctpecs_pb2.RunReply(rc=op.rc, msg=op.msg)
        rc, msg = work(request)
        return ctpecs_pb2.RunReply(rc=rc, msg=msg)

    def _load(self, request: Any) -> tuple[int, str]:
        if request.runn in self.runs:
            return NO_SUCH_RUN, f"run {request.runn} exists already"
        self.runs[request.runn] = Run(request.runn, True, False, request.detectors.split())
        return 0, ""

    def _start(self, request: Any) -> tuple[int, str]:
        run = self.runs.get(request.runn)
        if run is None and request.detector:
            self.runs[request.runn] = Run(request.runn, False, True, [request.detector])
            return 0, ""
        if run is None or run.running:
            return NO_SUCH_RUN, f"run {request.runn} is not loaded"
        run.running = True
        return 0, ""

    def _stop(self, request: Any) -> tuple[int, str]:
        run = self.runs.get(request.runn)
        if run is None or not run.running:
            return NO_SUCH_RUN, f"run {request.runn} is not running"
        if run.is_global:
            run.running = False
        else:
            del self.runs[request.runn]
        return 0, ""

    def _unload(self, request: Any) -> tuple[int, str]:
        run = self.runs.get(request.runn)
        if run is None or not run.is_global or run.running:
            return NO_SUCH_RUN, f"run {request.runn} is not loaded"
        del self.runs[request.runn]
        return 0, ""

    def _status(self, request: Any) -> tuple[int, str]:
        run = self.runs.get(request.runn)
        return (NO_SUCH_RUN if run is None else 0 if run.running else 2), ""

    def _list(self, request: Any) -> tuple[int, str]:
        listed = [r for n, r in sorted(self.runs.items()) if n >= 1000]  # as the real CTP: no runs below 1000
        return len(listed), "\n".join(r.line() for r in listed)

    async def PrepareForRun(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("PrepareForRun", request, context, lambda r: (0, ""))

    async def RunLoad(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunLoad", request, context, self._load)

    async def RunUnload(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunUnload", request, context, self._unload)

    async def RunStart(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunStart", request, context, self._start)

    async def RunStatus(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunStatus", request, context, self._status)

    async def RunList(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunList", request, context, self._list)

    async def RunStop(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunStop", request, context, self._stop)

    async def RunConfig(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunConfig", request, context, lambda r: (0, ""))

    async def RunCleanup(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("RunCleanup", request, context, lambda r: (0, ""))

    async def TPCReset(self, request: Any, context: Any) -> ctpecs_pb2.RunReply:
        return await self._answer("TPCReset", request, context, lambda r: (0, ""))


def add_servicers(server: grpc.aio.Server, script: Script, recorder: Recorder) -> None:
    ctpecs_pb2_grpc.add_CTPdServicer_to_server(MockCtp(load_script(script), recorder), server)


MOCK = MockService(
    name="trg",
    summary="A CTP (ctpd.CTPd over gRPC): global and standalone runs, RunList, response codes, failures.",
    script_help=SCRIPT_HELP,
    add_servicers=add_servicers,
    default_port=50060,
)
