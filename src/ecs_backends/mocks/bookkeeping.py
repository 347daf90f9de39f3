"""``coconut mock bookkeeping``: a Bookkeeping (gRPC, package ``o2.bookkeeping``) that keeps environments and runs.

Serves ``EnvironmentService`` (Create, Update), ``RunService`` (Get, Create, Update), ``LhcFillService``
(GetLast), ``LogService`` (Create) and ``FlpService`` (CreateMany, UpdateCounters). ``RunService.Get`` answers
NOT_FOUND for a run nobody created; with ``run_fill: true`` a known run comes with the script's fill.
``GetLast`` answers the script's fill. Every request is recorded as ``Service.Method``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc

from ecs_engine.events.model import now_ms
from ecs_engine.protocols import bookkeeping_pb2 as bk
from ecs_engine.protocols import bookkeeping_pb2_grpc as bk_grpc

from .framework import MockService, Recorder, Script

OPERATIONS = (
    "EnvironmentService.Create",
    "EnvironmentService.Update",
    "RunService.Get",
    "RunService.Create",
    "RunService.Update",
    "LhcFillService.GetLast",
    "LogService.Create",
    "FlpService.CreateMany",
    "FlpService.UpdateCounters",
)
FILL_KEYS = ("fillNumber", "beamType", "fillingSchemeName", "stableBeamsStart", "stableBeamsEnd")

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  fill:                          # what LhcFillService.GetLast answers (default: no fill)
    fillNumber: 9000
    beamType: PROTON-PROTON
    fillingSchemeName: 25ns_2352b_2340_2004_2133_108bpi_24inj
    stableBeamsStart: 1760000000000   # ms; 0 or absent: no stable beams yet
    stableBeamsEnd: 0
  run_fill: true                 # RunService.Get gives a created run this fill
  operations:
    RunService.Update:
      delay: 500ms               # before answering
      fail: "UNAVAILABLE: Bookkeeping is down"   # answer with this gRPC status instead

Operations: EnvironmentService.Create/Update, RunService.Get/Create/Update, LhcFillService.GetLast,
LogService.Create, FlpService.CreateMany/UpdateCounters."""


@dataclass
class OperationScript:
    delay: float = 0.0
    fail: tuple[grpc.StatusCode, str] | None = None


@dataclass
class BookkeepingScript:
    fill: bk.LHCFill | None = None
    run_fill: bool = False
    operations: dict[str, OperationScript] = field(default_factory=dict)


def load_script(script: Script) -> BookkeepingScript:
    """The script as ``BookkeepingScript``; a mistake is a ``ScriptError`` naming its line."""
    root = script.root
    script.check_keys(root, ("fill", "run_fill", "operations"), "the script")
    out = BookkeepingScript(run_fill=script.choice(root, "run_fill", ("true", "false"), "false") == "true")
    if "fill" in root:
        node = script.mapping(root, "fill")
        script.check_keys(node, FILL_KEYS, "fill")
        fill = bk.LHCFill(
            beamType=script.text(node, "beamType"), fillingSchemeName=script.text(node, "fillingSchemeName")
        )
        for key in ("fillNumber", "stableBeamsStart", "stableBeamsEnd"):
            if key in node:
                text = script.text(node, key)
                if not text.isdigit():
                    raise script.error(f"'{key}' is '{text}', expected a whole number", node.line_of(key))
                setattr(fill, key, int(text))
        out.fill = fill
    operations = script.mapping(root, "operations")
    script.check_keys(operations, OPERATIONS, "operations")
    for operation in operations:
        node = script.mapping(operations, operation)
        script.check_keys(node, ("delay", "fail"), f"operation {operation}")
        parsed = OperationScript(delay=script.seconds(node, "delay"))
        parsed.fail = script.grpc_status(node, "fail", operation)
        out.operations[operation] = parsed
    return out


class MockBookkeeping:
    """The state shared by the services: environments and runs as created; every request recorded first."""

    def __init__(self, script: BookkeepingScript, recorder: Recorder):
        self.script = script
        self.recorder = recorder
        self.environments: dict[str, bk.Environment] = {}
        self.runs: dict[int, bk.Run] = {}

    async def enter(self, operation: str, request: Any, context: Any) -> None:
        """Record ``request``, then wait or fail as the script says for ``operation``."""
        self.recorder.record(operation, request)
        op = self.script.operations.get(operation, OperationScript())
        if op.delay:
            await asyncio.sleep(op.delay)
        if op.fail is not None:
            await context.abort(op.fail[0], op.fail[1])


async def not_found(context: Any, message: str) -> NoReturn:
    """Answer NOT_FOUND, as Bookkeeping does for an unknown environment or run."""
    await context.abort(grpc.StatusCode.NOT_FOUND, message)
    raise AssertionError("context.abort returned")  # it raises: this line only tells the type checker


class EnvironmentService(bk_grpc.EnvironmentServiceServicer):
    def __init__(self, state: MockBookkeeping):
        self.state = state

    async def Create(self, request: Any, context: Any) -> bk.Environment:
        await self.state.enter("EnvironmentService.Create", request, context)
        env = bk.Environment(id=request.id, createdAt=now_ms(), updatedAt=now_ms(), status=request.status)
        self.state.environments[request.id] = env
        return env

    async def Update(self, request: Any, context: Any) -> bk.Environment:
        await self.state.enter("EnvironmentService.Update", request, context)
        env = self.state.environments.get(request.id)
        if env is None:
            await not_found(context, f"Environment with this id ({request.id}) could not be found")
        env.status, env.updatedAt = request.status, now_ms()
        return env


class RunService(bk_grpc.RunServiceServicer):
    def __init__(self, state: MockBookkeeping):
        self.state = state

    async def Get(self, request: Any, context: Any) -> bk.RunWithRelations:
        await self.state.enter("RunService.Get", request, context)
        run = self.state.runs.get(request.runNumber)
        if run is None:
            await not_found(context, f"Run with this run number ({request.runNumber}) could not be found")
        reply = bk.RunWithRelations(run=run)
        if self.state.script.run_fill and self.state.script.fill is not None:
            reply.lhcFill.CopyFrom(self.state.script.fill)
        return reply

    async def Create(self, request: Any, context: Any) -> bk.Run:
        await self.state.enter("RunService.Create", request, context)
        run = bk.Run(
            runNumber=request.runNumber,
            environmentId=request.environmentId,
            createdAt=now_ms(),
            runType=request.runType,
            detectors=request.detectors,
        )
        self.state.runs[request.runNumber] = run
        return run

    async def Update(self, request: Any, context: Any) -> bk.Run:
        await self.state.enter("RunService.Update", request, context)
        run = self.state.runs.setdefault(request.runNumber, bk.Run(runNumber=request.runNumber, createdAt=now_ms()))
        for name in ("timeO2Start", "timeO2End", "timeTrgStart", "timeTrgEnd", "triggerValue", "lhcPeriod"):
            if request.HasField(name):
                setattr(run, name, getattr(request, name))
        run.updatedAt = now_ms()
        return run


class LhcFillService(bk_grpc.LhcFillServiceServicer):
    def __init__(self, state: MockBookkeeping):
        self.state = state

    async def GetLast(self, request: Any, context: Any) -> bk.LhcFillWithRelations:
        await self.state.enter("LhcFillService.GetLast", request, context)
        fill = self.state.script.fill
        return bk.LhcFillWithRelations(lhcFill=fill) if fill is not None else bk.LhcFillWithRelations()


class LogService(bk_grpc.LogServiceServicer):
    def __init__(self, state: MockBookkeeping):
        self.state = state

    async def Create(self, request: Any, context: Any) -> bk.Log:
        await self.state.enter("LogService.Create", request, context)
        runs = [bk.MinimalRun(runNumber=n) for n in request.runNumbers]
        return bk.Log(id=1, title=request.title, text=request.text, runs=runs, CreatedAt=now_ms())


class FlpService(bk_grpc.FlpServiceServicer):
    def __init__(self, state: MockBookkeeping):
        self.state = state

    async def CreateMany(self, request: Any, context: Any) -> bk.FlpList:
        await self.state.enter("FlpService.CreateMany", request, context)
        return bk.FlpList(flps=[bk.Flp(name=f.name, hostname=f.hostname, createdAt=now_ms()) for f in request.flps])

    async def UpdateCounters(self, request: Any, context: Any) -> bk.Flp:
        await self.state.enter("FlpService.UpdateCounters", request, context)
        return bk.Flp(name=request.flpName, updatedAt=now_ms())


def add_servicers(server: grpc.aio.Server, script: Script, recorder: Recorder) -> None:
    state = MockBookkeeping(load_script(script), recorder)
    bk_grpc.add_EnvironmentServiceServicer_to_server(EnvironmentService(state), server)
    bk_grpc.add_RunServiceServicer_to_server(RunService(state), server)
    bk_grpc.add_LhcFillServiceServicer_to_server(LhcFillService(state), server)
    bk_grpc.add_LogServiceServicer_to_server(LogService(state), server)
    bk_grpc.add_FlpServiceServicer_to_server(FlpService(state), server)


MOCK = MockService(
    name="bookkeeping",
    summary="A Bookkeeping (o2.bookkeeping over gRPC): environments, runs, LHC fills, logs, FLPs; failures.",
    script_help=SCRIPT_HELP,
    add_servicers=add_servicers,
    default_port=4000,
)
