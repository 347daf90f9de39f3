"""``coconut mock ddsched``: a DD scheduler (``o2.DataDistribution.Control.DataDistributionControl``).

``PartitionInitialize`` answers CONFIGURING and the partition is CONFIGURED ``configure`` later;
``PartitionTerminate`` answers TERMINATING and it is TERMINATED ``terminate`` later; ``PartitionStatus``
gives the partition's state (UNKNOWN for one it never saw). The script can delay an answer, fail it with a
gRPC status, or make the partition end in another state (PARTITION_ERROR...). Every request is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc

from ecs_engine.protocols import ddsched_pb2, ddsched_pb2_grpc

from .framework import MockService, Recorder, Script

S = ddsched_pb2.PartitionState
OPERATIONS = ("PartitionInitialize", "PartitionTerminate", "PartitionStatus")
OPERATION_KEYS = ("delay", "fail", "reply", "final", "after")
#: what each operation answers, and where the partition ends and how long after, unless the script says
DEFAULTS = {
    "PartitionInitialize": (S.PARTITION_CONFIGURING, S.PARTITION_CONFIGURED, 0.3),
    "PartitionTerminate": (S.PARTITION_TERMINATING, S.PARTITION_TERMINATED, 0.3),
}

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  operations:                       # PartitionInitialize PartitionTerminate PartitionStatus
    PartitionInitialize:
      delay: 200ms                  # before answering
      fail: "UNAVAILABLE: down"     # answer with this gRPC status instead
      reply: PARTITION_CONFIGURING  # the state answered (default CONFIGURING / TERMINATING)
      final: PARTITION_ERROR        # the state the partition reaches (default CONFIGURED / TERMINATED)
      after: 1s                     # how long after the answer (default 300ms)"""


@dataclass
class OperationScript:
    delay: float = 0.0
    fail: tuple[grpc.StatusCode, str] | None = None
    reply: ddsched_pb2.PartitionState | None = None
    final: ddsched_pb2.PartitionState | None = None
    after: float | None = None


@dataclass
class DdschedScript:
    operations: dict[str, OperationScript] = field(default_factory=dict)


def load_script(script: Script) -> DdschedScript:
    """The script as ``DdschedScript``; a mistake is a ``ScriptError`` naming its line."""
    root = script.root
    script.check_keys(root, ("operations",), "the script")
    out = DdschedScript()
    operations = script.mapping(root, "operations")
    script.check_keys(operations, OPERATIONS, "operations")
    for name in operations:
        node = script.mapping(operations, name)
        script.check_keys(node, OPERATION_KEYS, f"operation {name}")
        op = OperationScript(delay=script.seconds(node, "delay"))
        if "fail" in node:
            op.fail = script.grpc_failure(node, "fail", name)
        for key in ("reply", "final"):
            if key in node:
                setattr(op, key, S.Value(script.choice(node, key, S.keys())))  # a PartitionState
        if "after" in node:
            op.after = script.seconds(node, "after")
        out.operations[name] = op
    return out


class MockDdsched(ddsched_pb2_grpc.DataDistributionControlServicer):
    """The DD scheduler's partitions in memory; every request recorded."""

    def __init__(self, script: DdschedScript, recorder: Recorder):
        self.script = script
        self.recorder = recorder
        self.states: dict[str, ddsched_pb2.PartitionState] = {}
        self._later: set[asyncio.Task[None]] = set()

    async def _answer(self, name: str, request: Any, context: Any) -> OperationScript:
        self.recorder.record(name, request)
        op = self.script.operations.get(name, OperationScript())
        if op.delay:
            await asyncio.sleep(op.delay)
        if op.fail is not None:
            await context.abort(*op.fail)
        return op

    async def _change(self, name: str, request: Any, context: Any) -> ddsched_pb2.PartitionResponse:
        op = await self._answer(name, request, context)
        reply, final, after = DEFAULTS[name]
        reply = op.reply if op.reply is not None else reply
        final = op.final if op.final is not None else final
        after = op.after if op.after is not None else after
        partition = request.partition_info.partition_id
        self.states[partition] = reply
        if final != reply:
            task = asyncio.get_running_loop().create_task(self._reach(partition, final, after))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
        return ddsched_pb2.PartitionResponse(partition_state=reply, info_message=f"{name} (mock)")

    async def _reach(self, partition: str, state: ddsched_pb2.PartitionState, after: float) -> None:
        await asyncio.sleep(after)
        self.states[partition] = state

    async def PartitionInitialize(self, request: Any, context: Any) -> ddsched_pb2.PartitionResponse:
        return await self._change("PartitionInitialize", request, context)

    async def PartitionTerminate(self, request: Any, context: Any) -> ddsched_pb2.PartitionResponse:
        return await self._change("PartitionTerminate", request, context)

    async def PartitionStatus(self, request: Any, context: Any) -> ddsched_pb2.PartitionResponse:
        await self._answer("PartitionStatus", request, context)
        state = self.states.get(request.partition_id, S.PARTITION_UNKNOWN)
        return ddsched_pb2.PartitionResponse(partition_state=state)


def add_servicers(server: grpc.aio.Server, script: Script, recorder: Recorder) -> None:
    ddsched_pb2_grpc.add_DataDistributionControlServicer_to_server(MockDdsched(load_script(script), recorder), server)


MOCK = MockService(
    name="ddsched",
    summary="A DD scheduler (DataDistributionControl over gRPC): partitions configuring/terminating, failures.",
    script_help=SCRIPT_HELP,
    add_servicers=add_servicers,
    default_port=50052,
)
