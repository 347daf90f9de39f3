"""``coconut mock odc``: an ODC (``odc.ODC``) keeping partitions and their devices, as the script says.

``Run`` makes a partition (a DDS session, ``devices`` devices in IDLE); ``Configure``/``Start``/``Stop``/
``Reset``/``Terminate`` move it and its devices READY/RUNNING/READY/IDLE/EXITING, ``Shutdown`` ends it.
A request for a partition it does not have, or one its state does not allow, is answered with an ``error``
(as ODC does); the script can delay any operation, make it fail (a gRPC status, an ``error`` reply or a
non-SUCCESS status), and turn a partition to a state some time after an operation (a partition that goes
to ERROR while running). Every request is recorded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from ecs_engine.ids import new_id
from ecs_engine.protocols import odc_pb2, odc_pb2_grpc
from ecs_engine.template.yamlload import YMap

from .framework import MockService, Recorder, Script

#: operation -> (states it is allowed in, state it leads to)
TRANSITIONS = {
    "Configure": (("IDLE",), "READY"),
    "Start": (("READY",), "RUNNING"),
    "Stop": (("RUNNING",), "READY"),
    "Reset": (("READY",), "IDLE"),
    "Terminate": (("IDLE", "READY", "RUNNING", "ERROR"), "EXITING"),
}
OPERATIONS = ("Run", "SetProperties", "GetState", "Status", "Shutdown", *TRANSITIONS)
OPERATION_KEYS = ("delay", "fail", "error", "status", "after")
#: the error code of a request the partition's state does not allow (ODC's own codes are not documented)
WRONG_STATE = 100
UNKNOWN_PARTITION = 101

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  devices: 2                          # devices per partition (on hosts epn000, epn001...)
  partitions:                         # partitions running before any request (orphans to clean up)
    - {id: 2oDvieFrVTi, state: READY}
  operations:                         # Run SetProperties Configure Start Stop Reset Terminate Shutdown GetState Status
    Start:
      delay: 500ms                    # before answering
      fail: "UNAVAILABLE: ODC is down"  # answer with this gRPC status instead
      error: "500: device failed"     # a reply with this error (code: message), nothing changes
      status: ERROR                   # a reply with this status and no error, nothing changes
      after: {delay: 1s, state: ERROR}  # after a success, the partition (and one device) turn to this state"""


@dataclass
class OperationScript:
    delay: float = 0.0
    fail: tuple[grpc.StatusCode, str] | None = None
    error: tuple[int, str] | None = None
    status: int = odc_pb2.SUCCESS
    after: tuple[float, str] | None = None


@dataclass
class OdcScript:
    devices: int = 2
    partitions: list[tuple[str, str]] = field(default_factory=list)
    operations: dict[str, OperationScript] = field(default_factory=dict)


def load_script(script: Script) -> OdcScript:
    """The script as ``OdcScript``; a mistake is a ``ScriptError`` naming its line."""
    root = script.root
    script.check_keys(root, ("devices", "partitions", "operations"), "the script")
    out = OdcScript()
    devices = script.text(root, "devices", "2")
    if not devices.isdigit():
        raise script.error(f"'devices' is '{devices}', expected a number", root.line_of("devices"))
    out.devices = int(devices)
    for item in script.items(root, "partitions"):
        if not isinstance(item, YMap):
            raise script.error("a partition is a map {id: ..., state: ...}", root.line_of("partitions"))
        script.check_keys(item, ("id", "state"), "a partition")
        out.partitions.append((script.text(item, "id"), script.text(item, "state", "READY")))
    operations = script.mapping(root, "operations")
    script.check_keys(operations, OPERATIONS, "operations")
    for name in operations:
        node = script.mapping(operations, name)
        script.check_keys(node, OPERATION_KEYS, f"operation {name}")
        op = OperationScript(delay=script.seconds(node, "delay"))
        if "fail" in node:
            op.fail = script.grpc_failure(node, "fail", name)
        if "error" in node:
            code, _, message = script.text(node, "error").partition(":")
            if not code.strip().lstrip("-").isdigit():
                raise script.error("'error' is 'CODE: message' with a number CODE", node.line_of("error"))
            op.error = (int(code), message.strip() or f"{name} fails (script)")
        if "status" in node:
            op.status = odc_pb2.ReplyStatus.Value(script.choice(node, "status", ("SUCCESS", "ERROR", "UNKNOWN")))
        if "after" in node:
            after = script.mapping(node, "after")
            script.check_keys(after, ("delay", "state"), f"operation {name}: after")
            op.after = (script.seconds(after, "delay"), script.text(after, "state", "ERROR"))
        out.operations[name] = op
    return out


@dataclass
class Partition:
    partition_id: str
    state: str
    session_id: str = field(default_factory=new_id)
    run_number: int = 0
    devices: list[odc_pb2.Device] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)

    def move(self, state: str) -> None:
        self.state = state
        for device in self.devices:
            device.state = state


class MockOdc(odc_pb2_grpc.ODCServicer):
    """``odc.ODC`` over an in-memory set of partitions; every request recorded."""

    def __init__(self, script: OdcScript, recorder: Recorder):
        self.script = script
        self.recorder = recorder
        self.partitions: dict[str, Partition] = {}
        self._later: set[asyncio.Task[None]] = set()
        for partition_id, state in script.partitions:
            self.partitions[partition_id] = self._new(partition_id, state)

    def _new(self, partition_id: str, state: str) -> Partition:
        partition = Partition(partition_id, state)
        partition.devices = [
            odc_pb2.Device(id=i + 1, state=state, path=f"main/dev_{i}", host=f"epn{i:03d}", rmsjobid=str(1000 + i))
            for i in range(self.script.devices)
        ]
        return partition

    def _reply(self, partition: Partition | None, partition_id: str, started: float, **fields: Any) -> Any:
        return odc_pb2.GeneralReply(
            msg=fields.pop("msg", "ok (mock)"),
            exectime=int((time.monotonic() - started) * 1000),
            partitionid=partition_id,
            sessionid=partition.session_id if partition else "",
            state=partition.state if partition else "UNDEFINED",
            runnr=partition.run_number if partition else 0,
            hosts=sorted({d.host for d in partition.devices}) if partition else [],
            **fields,
        )

    async def _handle(self, name: str, request: Any, context: Any, partition_id: str, change: Any) -> Any:
        """Record, wait, fail as scripted, or apply ``change(partition)`` (a message: it failed); a GeneralReply."""
        self.recorder.record(name, request)
        started = time.monotonic()
        op = self.script.operations.get(name, OperationScript())
        if op.delay:
            await asyncio.sleep(op.delay)
        if op.fail is not None:
            await context.abort(*op.fail)
        partition = self.partitions.get(partition_id)
        if op.error is not None:
            code, message = op.error
            error = odc_pb2.Error(code=code, msg=message)
            return self._reply(partition, partition_id, started, status=odc_pb2.ERROR, error=error, msg=message)
        if op.status != odc_pb2.SUCCESS:
            return self._reply(partition, partition_id, started, status=op.status, msg="scripted status")
        problem = change(partition)
        if problem:
            code = UNKNOWN_PARTITION if partition is None else WRONG_STATE
            error = odc_pb2.Error(code=code, msg=problem)
            return self._reply(
                self.partitions.get(partition_id), partition_id, started, status=odc_pb2.ERROR, error=error, msg=problem
            )
        partition = self.partitions.get(partition_id)
        if op.after is not None and partition is not None:
            self._turn_later(partition, *op.after)
        return self._reply(partition, partition_id, started, status=odc_pb2.SUCCESS)

    def _turn_later(self, partition: Partition, delay: float, state: str) -> None:
        async def turn() -> None:
            await asyncio.sleep(delay)
            partition.state = state
            if partition.devices:
                partition.devices[0].state = state

        task = asyncio.get_running_loop().create_task(turn())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    # -- the RPCs ------------------------------------------------------------------------------------------

    async def Run(self, request: Any, context: Any) -> odc_pb2.GeneralReply:
        def run(partition: Partition | None) -> str:
            if partition is not None:
                return f"partition {request.partitionid} already exists"
            if not (request.topology or request.content or request.script):
                return "one of topology, content or script is required"
            self.partitions[request.partitionid] = self._new(request.partitionid, "IDLE")
            return ""

        return await self._handle("Run", request, context, request.partitionid, run)

    async def SetProperties(self, request: Any, context: Any) -> odc_pb2.GeneralReply:
        def set_properties(partition: Partition | None) -> str:
            if partition is None:
                return f"partition {request.partitionid} not found"
            partition.properties.update({p.key: p.value for p in request.properties})
            return ""

        return await self._handle("SetProperties", request, context, request.partitionid, set_properties)

    async def _transition(self, name: str, request: Any, context: Any) -> odc_pb2.StateReply:
        inner = request.request
        allowed, target = TRANSITIONS[name]

        def transition(partition: Partition | None) -> str:
            if partition is None:
                return f"partition {inner.partitionid} not found"
            if partition.state not in allowed:
                return f"partition {inner.partitionid} is {partition.state}: cannot {name}"
            partition.move(target)
            if name == "Start":
                partition.run_number = inner.runnr
            return ""

        reply = await self._handle(name, request, context, inner.partitionid, transition)
        return odc_pb2.StateReply(reply=reply)

    async def Configure(self, request: Any, context: Any) -> odc_pb2.StateReply:
        return await self._transition("Configure", request, context)

    async def Start(self, request: Any, context: Any) -> odc_pb2.StateReply:
        return await self._transition("Start", request, context)

    async def Stop(self, request: Any, context: Any) -> odc_pb2.StateReply:
        return await self._transition("Stop", request, context)

    async def Reset(self, request: Any, context: Any) -> odc_pb2.StateReply:
        return await self._transition("Reset", request, context)

    async def Terminate(self, request: Any, context: Any) -> odc_pb2.StateReply:
        return await self._transition("Terminate", request, context)

    async def Shutdown(self, request: Any, context: Any) -> odc_pb2.GeneralReply:
        def shutdown(partition: Partition | None) -> str:
            if partition is None:
                return f"partition {request.partitionid} not found"
            del self.partitions[request.partitionid]
            return ""

        return await self._handle("Shutdown", request, context, request.partitionid, shutdown)

    async def GetState(self, request: Any, context: Any) -> odc_pb2.StateReply:
        reply = await self._handle(
            "GetState", request, context, request.partitionid,
            lambda p: "" if p is not None else f"partition {request.partitionid} not found",
        )  # fmt: skip
        partition = self.partitions.get(request.partitionid)
        devices = list(partition.devices) if partition is not None and request.detailed else []
        return odc_pb2.StateReply(reply=reply, devices=devices)

    async def Status(self, request: Any, context: Any) -> odc_pb2.StatusReply:
        reply = await self._handle("Status", request, context, "", lambda p: "")
        partitions = [
            odc_pb2.PartitionStatus(
                partitionid=p.partition_id,
                runnr=p.run_number,
                sessionid=p.session_id,
                status=odc_pb2.RUNNING,
                state=p.state,
            )
            for p in self.partitions.values()
        ]
        return odc_pb2.StatusReply(
            msg=reply.msg, status=reply.status, error=reply.error if reply.HasField("error") else None,
            exectime=reply.exectime, partitions=partitions,
        )  # fmt: skip


def add_servicers(server: grpc.aio.Server, script: Script, recorder: Recorder) -> None:
    odc_pb2_grpc.add_ODCServicer_to_server(MockOdc(load_script(script), recorder), server)


MOCK = MockService(
    name="odc",
    summary="An ODC (odc.ODC over gRPC): partitions and devices, delays, failures, partitions turning to ERROR.",
    script_help=SCRIPT_HELP,
    add_servicers=add_servicers,
    default_port=50053,
)
