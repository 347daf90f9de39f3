"""The ``ddsched`` integration (AliECS ``core/integration/ddsched``): the Data Distribution scheduler's partitions.

``ddsched.PartitionInitialize()`` (integrations.md §1.5) sends the environment's partition: which StfBuilder
and StfSender (by their discovery ids) run on which FLP's InfiniBand host, read from every leaf role's
``dd_discovery_ib_hostname`` with ``dd_discovery_stfs_id`` (or else ``dd_discovery_stfb_id``), and as
``partition_params`` every ``ddsched_*`` variable but ``ddsched_enabled``, prefix stripped. The reply must
be CONFIGURING or CONFIGURED; then ``PartitionStatus`` is polled every 100 ms (an RPC error is retried) until
CONFIGURED, another state (failure) or the call's deadline. ``PartitionTerminate()`` does the same towards
TERMINATED; ``EnsureTermination()`` terminates unless the partition is unknown, terminating or terminated.
``GetIntegratedServices`` shows each environment's partition as the calls last saw it (upstream asks live,
with a timeout read from a misspelt setting, 0, so it never shows any).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.protocols import ddsched_pb2, ddsched_pb2_grpc
from ecs_engine.template.model import Role

from .grpc_service import GrpcServicePlugin, call_event, call_timeout, fail_call, rpc_error_text

log = logging.getLogger(__name__)

PREFIX = "ddsched_"
POLL_INTERVAL = 0.1
#: upstream's budgets when the role's ``timeout`` does not parse
INITIALIZE_TIMEOUT = 30.0
TERMINATE_TIMEOUT = 30.0
S = ddsched_pb2.PartitionState


def host_id_maps(root: Role) -> tuple[dict[str, str], dict[str, str]]:
    """(StfBuilder id -> IB host, StfSender id -> IB host) from the leaf roles of the workflow under ``root``."""
    stfb: dict[str, str] = {}
    stfs: dict[str, str] = {}
    for role in root.walk():
        if role.children:
            continue
        stack = role.stack()
        host = stack.get("dd_discovery_ib_hostname")
        if host is None:
            continue
        if "dd_discovery_stfs_id" in stack:
            stfs[stack["dd_discovery_stfs_id"]] = host
        elif "dd_discovery_stfb_id" in stack:
            stfb[stack["dd_discovery_stfb_id"]] = host
    return stfb, stfs


def partition_params(stack: Mapping[str, str]) -> dict[str, str]:
    """Every ``ddsched_*`` variable but ``ddsched_enabled``, without the prefix (timeouts included, as upstream)."""
    return {k.removeprefix(PREFIX): v for k, v in stack.items() if k.startswith(PREFIX) and k != "ddsched_enabled"}


def init_request(call: Any) -> ddsched_pb2.PartitionInitRequest:
    """The ``PartitionInitRequest`` of a ``ddsched.PartitionInitialize()`` call."""
    stack = call.var_stack
    environment_id = stack.get("environment_id", "")
    root = call.role.root()
    stfb, stfs = host_id_maps(root)
    return ddsched_pb2.PartitionInitRequest(
        partition_info=ddsched_pb2.PartitionInfo(environment_id=environment_id, partition_id=environment_id),
        stfb_host_id_map=stfb,
        stfs_host_id_map=stfs,
        partition_params=partition_params(stack),
    )


class DdschedError(Exception):
    """The operation failed; the message is the reason the call fails with."""


class DdschedCalls:
    """The functions of one call (upstream's names)."""

    def __init__(self, plugin: DdschedPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    def _info(self) -> ddsched_pb2.PartitionInfo:
        environment_id = self._call.var_stack.get("environment_id", "")
        return ddsched_pb2.PartitionInfo(environment_id=environment_id, partition_id=environment_id)

    async def PartitionInitialize(self) -> str:
        deadline = self._deadline(INITIALIZE_TIMEOUT)
        request = init_request(self._call)
        try:
            await self._plugin.drive(
                self._call, "PartitionInitialize", request, deadline,
                accepted=(S.PARTITION_CONFIGURING, S.PARTITION_CONFIGURED),
                passing=S.PARTITION_CONFIGURING, target=S.PARTITION_CONFIGURED,
            )  # fmt: skip
        except DdschedError as exc:
            return fail_call(self._call, "DDsched PartitionInitialize call failed", str(exc))
        return ""

    async def PartitionTerminate(self) -> str:
        try:
            await self._terminate(self._deadline(TERMINATE_TIMEOUT))
        except DdschedError as exc:
            return fail_call(self._call, "DDsched PartitionTerminate call failed", str(exc))
        return ""

    async def EnsureTermination(self) -> str:
        deadline = self._deadline(TERMINATE_TIMEOUT)
        if self._plugin.stub is None:
            return fail_call(self._call, "DDsched EnsureTermination call failed", "the plugin did not start")
        try:
            reply = await self._plugin.stub.PartitionStatus(self._info(), timeout=self._plugin.left(deadline))
            if reply.partition_state in (S.PARTITION_UNKNOWN, S.PARTITION_TERMINATING, S.PARTITION_TERMINATED):
                return ""
            await self._terminate(deadline)
        except grpc.aio.AioRpcError as exc:
            return fail_call(self._call, "DDsched EnsureTermination call failed", rpc_error_text(exc))
        except DdschedError as exc:
            return fail_call(self._call, "DDsched EnsureTermination call failed", str(exc))
        return ""

    async def _terminate(self, deadline: float) -> None:
        await self._plugin.drive(
            self._call, "PartitionTerminate", ddsched_pb2.PartitionTermRequest(partition_info=self._info()), deadline,
            accepted=(S.PARTITION_TERMINATING, S.PARTITION_TERMINATED),
            passing=S.PARTITION_TERMINATING, target=S.PARTITION_TERMINATED,
        )  # fmt: skip

    def _deadline(self, default: float) -> float:
        return asyncio.get_running_loop().time() + call_timeout(self._call, default)


class DdschedPlugin(GrpcServicePlugin):
    name = "ddsched"
    pretty_name = "DD scheduler"
    endpoint_setting = "ddSchedulerEndpoint"
    default_endpoint = "//127.0.0.1:50052"
    default_timeout = INITIALIZE_TIMEOUT

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self.stub: ddsched_pb2_grpc.DataDistributionControlStub | Any = None
        #: the last state seen of each environment's partition, for GetIntegratedServices
        self.states: dict[str, dict[str, str]] = {}

    async def started(self) -> None:
        self.stub = ddsched_pb2_grpc.DataDistributionControlStub(self.channel)

    def call_stack(self, call: Any) -> DdschedCalls:
        return DdschedCalls(self, call)

    def data(self) -> dict[str, str]:
        return {env: info["state"] for env, info in list(self.states.items())}  # asked from a thread

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, str]:
        states = dict(self.states)
        return {i: json.dumps(states[i]) for i in environment_ids if i in states}

    @staticmethod
    def left(deadline: float) -> float:
        return max(deadline - asyncio.get_running_loop().time(), 0.001)

    async def drive(
        self,
        call: Any,
        method: str,
        request: Any,
        deadline: float,
        *,
        accepted: tuple[int, ...],
        passing: int,
        target: int,
    ) -> None:
        """Send ``request``, then poll ``PartitionStatus`` every 100 ms until ``target``; DdschedError on failure."""
        if self.stub is None:
            raise DdschedError(f"no connection to the DD scheduler at {self.endpoint} (the plugin did not start)")
        step = f"perform DD scheduler call: {method}"
        payload: dict[str, Any] = {"ddschedRequest": MessageToDict(request)}
        call_event(call, model.ONGOING, step=step, step_status=model.STARTED, payload=payload)
        try:
            reply = await getattr(self.stub, method)(request, timeout=self.left(deadline))
        except grpc.aio.AioRpcError as exc:
            error = rpc_error_text(exc)
            call_event(call, model.ONGOING, step=step, step_status=model.DONE_ERROR, error=error, payload=payload)
            raise DdschedError(error) from None
        payload["ddschedResponse"] = MessageToDict(reply)
        self._seen(request.partition_info.environment_id, reply)
        if reply.partition_state not in accepted:
            error = f"{method} returned unexpected state {S.Name(reply.partition_state)} (expected: {S.Name(passing)})"
            call_event(call, model.ONGOING, step=step, step_status=model.DONE_ERROR, error=error, payload=payload)
            raise DdschedError(error)
        call_event(call, model.ONGOING, step=step, step_status=model.DONE_OK, payload=payload)
        await self._poll(call, method, request.partition_info, reply.partition_state, deadline, passing, target)

    async def _poll(
        self, call: Any, method: str, info: Any, last: int, deadline: float, passing: int, target: int
    ) -> None:
        step = "poll for DD partition state"
        loop = asyncio.get_running_loop()
        while True:
            if last == target:
                call_event(
                    call, model.ONGOING, step=step, step_status=model.DONE_OK, payload={"lastKnownState": S.Name(last)}
                )
                return
            if last != passing:
                error = f"{method} landed on unexpected state {S.Name(last)} (expected: {S.Name(target)})"
                call_event(call, model.ONGOING, step=step, step_status=model.DONE_ERROR, error=error)
                raise DdschedError(error)
            if loop.time() >= deadline:
                error = f"{method} timeout exceeded. Latest state {S.Name(last)} (expected: {S.Name(target)})"
                call_event(call, model.ONGOING, step=step, step_status=model.DONE_TIMEOUT, error=error)
                raise DdschedError(error)
            await asyncio.sleep(min(POLL_INTERVAL, self.left(deadline)))
            try:
                reply = await self.stub.PartitionStatus(info, timeout=self.left(deadline))
            except grpc.aio.AioRpcError as exc:  # retried until the deadline, as upstream
                log.debug("ddsched: PartitionStatus of %s failed: %s", info.environment_id, rpc_error_text(exc))
                continue
            self._seen(info.environment_id, reply)
            last = reply.partition_state

    def _seen(self, environment_id: str, reply: Any) -> None:
        self.states[environment_id] = {"state": S.Name(reply.partition_state), "infoMessage": reply.info_message}


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [DdschedPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.ddsched import MOCK

    return [MOCK]
