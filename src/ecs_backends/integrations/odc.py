"""The ``odc`` integration (AliECS ``core/integration/odc``): the EPN farm's partitions through ODC.

Each call (integrations.md §1.3) sends its ODC requests within the call's budget: every request carries
``timeout`` = the time left − ``odc_padding_timeout`` (3 s), in whole seconds, and the RPC's own deadline is
the time left. A reply succeeds when it has no ``error`` and its status is SUCCESS (its ``state`` is not
compared); otherwise the call fails with ``code N from ODC: <message>`` or ``status S from ODC``. A
background poll (setting ``odcPollingInterval``, 3 s) asks ``Status{running}`` and each partition's detailed
state, publishes ``odc.partitionStateChanged`` / ``odc.deviceStateChanged`` / ``odc.collectionStateChanged``
events, and when a partition turns ERROR asks the manager to STOP its environment, then GO_ERROR (if it
runs). Template-time functions (``odc.GenerateEPN*``) come from ``odc_topology.py`` whether or not the
plugin is enabled, so planning readout-dataflow with ``epn_enabled`` needs no ODC.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from ecs_engine.durations import parse_duration
from ecs_engine.environment import runvars
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, TemplateConfiguration, hookimpl
from ecs_engine.occ import fairmq
from ecs_engine.protocols import odc_pb2, odc_pb2_grpc

from .grpc_service import GrpcServicePlugin, call_event, call_timeout, fail_call, rpc_error_text
from .odc_topology import GO_BOOLS, HASH, MANUAL_XML, PATH, EpnTopologyFunctions

log = logging.getLogger(__name__)

#: upstream's per-call budgets, used only when the role's ``timeout`` does not parse
GENERAL_TIMEOUT = 5.0
DEFAULT_TIMEOUTS = {
    "PartitionInitialize": 60.0,
    "Configure": 60.0,
    "Start": 15.0,
    "Stop": 15.0,
    "Reset": 30.0,
    "PartitionTerminate": 30.0,
}
PADDING = 3.0
POLLING_INTERVAL = 3.0
#: the budget of each status request of the poll
STATUS_TIMEOUT = 3.0
MAX_ERROR_LENGTH = 250
#: the global runtime variable PartitionInitialize leaves, without which PartitionTerminate does nothing
INITIALIZED_VAR = "__odc_partitioninitialize_called"
PARTITION_ERROR = "ERROR"


class OdcError(Exception):
    """One ODC request failed; the message is the line the call fails with."""


def reply_error(reply: Any) -> str:
    """Upstream's success rule for a GeneralReply or StatusReply: no ``error`` and status SUCCESS; else why."""
    if reply.HasField("error"):
        return f"code {reply.error.code} from ODC: {reply.error.msg[:MAX_ERROR_LENGTH]}"
    if reply.status != odc_pb2.SUCCESS:
        return f"status {odc_pb2.ReplyStatus.Name(reply.status)} from ODC"
    return ""


def general_reply(reply: Message) -> Any:
    """The part of a reply that says how it went (a StateReply wraps a GeneralReply)."""
    return reply.reply if isinstance(reply, odc_pb2.StateReply) else reply


def quiet(reply: Message) -> dict[str, Any]:
    """A reply as event payload, without the host and device lists (too large for an event, as upstream)."""
    copy = type(reply)()
    copy.CopyFrom(reply)
    if isinstance(copy, odc_pb2.StateReply):
        del copy.devices[:]
        del copy.collections[:]
    general = general_reply(copy)
    if isinstance(general, odc_pb2.GeneralReply):
        del general.hosts[:]
    return MessageToDict(copy)


def run_number(stack: Mapping[str, str]) -> int:
    """The run number as ODC's ``runnr`` (uint32); 0 when it does not parse, as upstream."""
    text = stack.get("run_number", "")
    return int(text) if text.isdigit() and int(text) < 1 << 32 else 0


def properties(values: Mapping[str, str]) -> list[odc_pb2.Property]:
    return [odc_pb2.Property(key=k, value=v) for k, v in sorted(values.items())]


def configure_properties(stack: Mapping[str, str]) -> dict[str, str]:
    """What ``odc.Configure()`` sets before CONFIGURE: the environment, its run type, period and detectors."""
    out = {"environment_id": stack.get("environment_id", "")}
    for key, name in (
        ("run_type", "run_type"),
        ("lhc_period", "lhc_period"),
        ("pdp_force_run_as_raw", "force_run_as_raw"),
        ("pdp_beam_type", "pdp_beam_type"),
    ):
        if key in stack:
            out[name] = stack[key]
    try:
        detectors = json.loads(stack.get("detectors", ""))
        out["detectors"] = ",".join(sorted(str(d) for d in detectors))
    except (ValueError, TypeError):
        log.warning("odc: the detectors variable is not a JSON list; Configure sends none")
    if stack.get("pdp_override_run_start_time"):
        out["orbit-reset-time"] = stack["pdp_override_run_start_time"]
    return out


class OdcCall:
    """The ODC requests of one call, within its deadline, each reported as an integrated-service event step."""

    def __init__(self, plugin: OdcPlugin, call: Any, default_timeout: float):
        self.plugin = plugin
        self.call = call
        self.stack: dict[str, str] = call.var_stack
        self.environment_id = self.stack.get("environment_id", "")
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + call_timeout(call, default_timeout)
        try:
            self.padding = parse_duration(self.stack.get("odc_padding_timeout", ""))
        except ValueError:
            self.padding = PADDING

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def request_timeout(self) -> int:
        """The ``timeout`` ODC gets: whole seconds left after the padding (at least 1: 0 means ODC's default)."""
        return max(1, int(self.remaining() - self.padding))

    async def rpc(self, method: str, request: Message) -> Any:
        """Send ``request`` to ODC's ``method``; its reply, or OdcError with the line the call fails with."""
        inner = request.request if hasattr(request, "request") else request
        if "timeout" in inner.DESCRIPTOR.fields_by_name:
            inner.timeout = self.request_timeout()
        step = f"perform ODC call: {method}"
        if self.plugin.stub is None:
            raise OdcError(f"no connection to ODC at {self.plugin.endpoint} (the plugin did not start)")
        payload: dict[str, Any] = {"odcRequest": MessageToDict(request)}
        call_event(self.call, model.ONGOING, step=step, step_status=model.STARTED, payload=payload)
        try:
            reply = await getattr(self.plugin.stub, method)(request, timeout=max(self.remaining(), 0.001))
        except grpc.aio.AioRpcError as exc:
            error = rpc_error_text(exc)
            call_event(self.call, model.ONGOING, step=step, step_status=model.DONE_ERROR, error=error, payload=payload)
            raise OdcError(error) from None
        error = reply_error(general_reply(reply))
        payload["odcResponse"] = quiet(reply)
        status = model.DONE_ERROR if error else model.DONE_OK
        call_event(self.call, model.ONGOING, step=step, step_status=status, error=error, payload=payload)
        if error:
            raise OdcError(error)
        return reply

    def state_request(self, partition: str = "", run: int = 0) -> odc_pb2.StateRequest:
        return odc_pb2.StateRequest(partitionid=partition or self.environment_id, runnr=run)

    async def shutdown(self, partition: str) -> None:
        await self.rpc("Shutdown", odc_pb2.ShutdownRequest(partitionid=partition))

    async def cleanup(self, partition: str) -> None:
        """Shut down every running partition no environment of this core owns, and ``partition`` if given."""
        reply = await self.rpc("Status", odc_pb2.StatusRequest(running=True))
        known = set(self.plugin.environments.environment_ids()) if self.plugin.environments else set()
        orphans = {p.partitionid for p in reply.partitions if p.partitionid not in known}
        if partition:
            orphans.add(partition)
        results = await asyncio.gather(*(self.shutdown(p) for p in sorted(orphans)), return_exceptions=True)
        for orphan, result in zip(sorted(orphans), results, strict=True):
            if isinstance(result, Exception):
                log.warning("odc: Shutdown of partition %s failed: %s", orphan, result)

    async def regardless(self, *steps: tuple[str, Message]) -> None:
        """Each request in turn; a failure is only logged (a teardown that cannot do better)."""
        for method, request in steps:
            try:
                await self.rpc(method, request)
            except OdcError as exc:
                log.warning("odc: %s of %s failed: %s", method, self.environment_id, exc)


class OdcCalls:
    """The functions of one call (upstream's names); each fails the call with ``EPN <name> call failed``."""

    def __init__(self, plugin: OdcPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    async def _run(self, name: str, work: Any) -> str:
        odc = OdcCall(self._plugin, self._call, DEFAULT_TIMEOUTS.get(name, GENERAL_TIMEOUT))
        try:
            await work(odc)
        except OdcError as exc:
            return fail_call(self._call, f"EPN {name} call failed", str(exc))
        return ""

    async def PartitionInitialize(self) -> str:
        return await self._run("PartitionInitialize", self._partition_initialize)

    async def _partition_initialize(self, odc: OdcCall) -> None:
        stack = odc.stack
        request = odc_pb2.RunRequest(partitionid=odc.environment_id)
        extract = stack.get("odc_extract_topology_resources", "")
        if extract and extract not in GO_BOOLS:
            raise OdcError(f"odc_extract_topology_resources is not a boolean: {extract!r}")
        request.extractTopoResources = GO_BOOLS.get(extract, False)
        option = stack.get("pdp_config_option")
        if option in (HASH, PATH):
            request.script = self._need(stack, "odc_script", "make sure odc.GenerateEPNWorkflowScript() sets it")
            if request.script.startswith('{"error":'):
                raise OdcError(f"odc_script could not be generated: {json.loads(request.script)['error']}")
        elif option == MANUAL_XML:
            request.topology = self._need(stack, "odc_topology", "the topology for 'Manual XML'")
        else:
            raise OdcError(f"pdp_config_option is {option!r}, expected '{HASH}', '{PATH}' or '{MANUAL_XML}'")
        if not request.extractTopoResources:
            request.plugin = self._need(stack, "odc_plugin", "the ODC resource plugin")
            request.resources = self._need(stack, "odc_resources", "the ODC resources")
        root = self._call.role.root()
        root.user_vars[INITIALIZED_VAR] = "true"
        await odc.rpc("Run", request)

    @staticmethod
    def _need(stack: Mapping[str, str], name: str, what: str) -> str:
        if name not in stack:
            raise OdcError(f"the variable {name} is not set ({what})")
        return stack[name]

    async def Configure(self) -> str:
        async def work(odc: OdcCall) -> None:
            values = configure_properties(odc.stack)
            await odc.rpc(
                "SetProperties",
                odc_pb2.SetPropertiesRequest(partitionid=odc.environment_id, properties=properties(values)),
            )
            await odc.rpc("Configure", odc_pb2.ConfigureRequest(request=odc.state_request()))

        return await self._run("Configure", work)

    async def Start(self) -> str:
        async def work(odc: OdcCall) -> None:
            run = run_number(odc.stack)
            values = runvars.start_arguments(odc.stack, run)
            await odc.rpc(
                "SetProperties",
                odc_pb2.SetPropertiesRequest(partitionid=odc.environment_id, runnr=run, properties=properties(values)),
            )
            await odc.rpc("Start", odc_pb2.StartRequest(request=odc.state_request(run=run)))

        return await self._run("Start", work)

    async def Stop(self) -> str:
        async def work(odc: OdcCall) -> None:
            run = run_number(odc.stack)
            values = runvars.stop_arguments(odc.stack)
            if values:  # a failure here only warns: the stop goes on (upstream: "will continue with odc.Stop")
                await odc.regardless(
                    (
                        "SetProperties",
                        odc_pb2.SetPropertiesRequest(
                            partitionid=odc.environment_id, runnr=run, properties=properties(values)
                        ),
                    )
                )
            await odc.rpc("Stop", odc_pb2.StopRequest(request=odc.state_request(run=run)))

        return await self._run("Stop", work)

    async def EnsureStop(self) -> str:
        async def work(odc: OdcCall) -> None:
            reply = await odc.rpc("GetState", odc.state_request())
            if reply.reply.state == fairmq.RUNNING:
                await odc.rpc("Stop", odc_pb2.StopRequest(request=odc.state_request(run=run_number(odc.stack))))

        return await self._run("EnsureStop", work)

    async def Reset(self) -> str:
        async def work(odc: OdcCall) -> None:
            await odc.rpc("Reset", odc_pb2.ResetRequest(request=odc.state_request()))

        return await self._run("Reset", work)

    async def PartitionTerminate(self) -> str:
        if INITIALIZED_VAR not in self._call.var_stack:
            call_event(self._call, model.DONE_OK, step="PartitionInitialize was not called: nothing to terminate")
            return ""

        async def work(odc: OdcCall) -> None:
            await odc.rpc("Terminate", odc_pb2.TerminateRequest(request=odc.state_request()))
            await odc.shutdown(odc.environment_id)

        return await self._run("PartitionTerminate", work)

    async def EnsureCleanup(self) -> str:
        return await self._run("EnsureCleanup", lambda odc: odc.cleanup(odc.environment_id))

    async def PreDeploymentCleanup(self) -> str:
        return await self._run("PreDeploymentCleanup", lambda odc: odc.cleanup(""))

    async def EnsureCleanupLegacy(self) -> str:
        async def work(odc: OdcCall) -> None:
            await odc.regardless(
                ("Reset", odc_pb2.ResetRequest(request=odc.state_request())),
                ("Terminate", odc_pb2.TerminateRequest(request=odc.state_request())),
                ("Shutdown", odc_pb2.ShutdownRequest(partitionid=odc.environment_id)),
            )

        return await self._run("EnsureCleanupLegacy", work)


@dataclass
class Partition:
    """What the poll knows of one ODC partition."""

    partition_id: str
    state: str
    run_number: int = 0
    session_id: str = ""
    session_status: str = ""
    hosts: list[str] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, *, devices: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "partitionId": self.partition_id,
            "runNumber": self.run_number,
            "state": self.state,
            "ecsState": fairmq.occ_state(self.state),
            "ddsSessionId": self.session_id,
            "ddsSessionStatus": self.session_status,
            "hosts": self.hosts,
        }
        if devices:
            out["devices"] = self.devices
        return out


def device_info(device: odc_pb2.Device) -> dict[str, Any]:
    return {
        "taskId": str(device.id),
        "state": device.state,
        "path": device.path,
        "ignored": device.ignored,
        "host": device.host,
        "expendable": device.expendable,
        "rmsjobid": device.rmsjobid,
    }


def collection_info(collection: odc_pb2.Collection) -> dict[str, Any]:
    return {"id": str(collection.id), "state": collection.state, "path": collection.path, "host": collection.host}


class OdcPlugin(GrpcServicePlugin):
    name = "odc"
    pretty_name = "ODC (EPN subcontrol)"
    endpoint_setting = "odcEndpoint"
    default_endpoint = "//127.0.0.1:50053"
    default_timeout = GENERAL_TIMEOUT

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self.stub: odc_pb2_grpc.ODCStub | Any = None
        self.partitions: dict[str, Partition] = {}

    async def started(self) -> None:
        self.stub = odc_pb2_grpc.ODCStub(self.channel)
        self.background(self._poll(), "status polling")

    def polling_interval(self) -> float:
        try:
            return parse_duration(str(self.settings.get("odcPollingInterval", "")))
        except ValueError:
            return POLLING_INTERVAL

    def call_stack(self, call: Any) -> OdcCalls:
        return OdcCalls(self, call)

    def data(self) -> dict[str, str]:
        return {p.partition_id: p.state for p in self.partitions.values()}

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, str]:
        return {i: json.dumps(self.partitions[i].summary()) for i in environment_ids if i in self.partitions}

    # -- polling -------------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        interval = self.polling_interval()
        while True:
            await asyncio.sleep(interval)
            try:
                current = await self.query()
            except (grpc.aio.AioRpcError, OdcError) as exc:
                log.debug("odc: status poll failed: %s", exc)
                continue
            self.compare(current)

    async def query(self) -> dict[str, Partition]:
        """Every running partition with its devices (``Status{running}``, then each one's detailed state)."""
        reply = await self.stub.Status(odc_pb2.StatusRequest(running=True), timeout=STATUS_TIMEOUT)
        error = reply_error(reply)
        if error:
            raise OdcError(error)
        found = {
            p.partitionid: Partition(p.partitionid, p.state, p.runnr, p.sessionid, odc_pb2.SessionStatus.Name(p.status))
            for p in reply.partitions
        }

        async def detail(partition: Partition) -> None:
            request = odc_pb2.StateRequest(partitionid=partition.partition_id, detailed=True)
            try:
                state = await self.stub.GetState(request, timeout=STATUS_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                log.debug("odc: GetState of %s failed: %s", partition.partition_id, rpc_error_text(exc))
                return
            partition.hosts = list(state.reply.hosts)
            partition.devices = [device_info(d) for d in state.devices]
            partition.collections = [collection_info(c) for c in state.collections]

        await asyncio.gather(*(detail(p) for p in found.values()))
        return found

    def compare(self, current: dict[str, Partition]) -> None:
        """Publish what changed since the last poll; a partition turned ERROR stops its running environment."""
        previous, self.partitions = self.partitions, current
        for partition_id, now in current.items():
            before = previous.get(partition_id)
            if before is None:
                continue
            if before.state != now.state:
                payload = {**now.summary(devices=False), "oldState": before.state, "newState": now.state}
                self.service_event(
                    "odc.partitionStateChanged",
                    model.NULL,
                    environment_id=partition_id,
                    error=in_error(f"ODC partition {partition_id}", now.state),
                    payload=payload,
                )
                if now.state == PARTITION_ERROR and self.environments is not None:
                    self.environments.service_error(partition_id, f"ODC partition {partition_id} is in ERROR")
            self._changed("odc.deviceStateChanged", partition_id, before.devices, now.devices, "taskId")
            self._changed("odc.collectionStateChanged", partition_id, before.collections, now.collections, "id")

    def _changed(self, name: str, partition_id: str, before: list[dict], now: list[dict], key: str) -> None:
        old = {item[key]: item["state"] for item in before}
        for item in now:
            if item[key] in old and old[item[key]] != item["state"]:
                payload = {"partitionId": partition_id, "oldState": old[item[key]], **item}
                error = in_error(f"ODC {key} {item[key]} of partition {partition_id}", item["state"])
                self.service_event(name, model.NULL, environment_id=partition_id, error=error, payload=payload)


def in_error(what: str, state: str) -> str:
    """The event's error text when ``state`` is ERROR (so the journal gives it severity error), else ""."""
    return f"{what} is in ERROR" if state == PARTITION_ERROR else ""


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [OdcPlugin]


@hookimpl
def ecs_template_objects(stack: dict[str, str], config: TemplateConfiguration | None) -> Mapping[str, object]:
    return {"odc": EpnTopologyFunctions(stack, config)}


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.odc import MOCK

    return [MOCK]
