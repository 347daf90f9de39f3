"""The ``bookkeeping`` integration (AliECS ``core/integration/bookkeeping``, integrations.md §1.6) over the
Bookkeeping's gRPC API (package ``o2.bookkeeping``).

``bookkeeping.RetrieveFillInfo()`` sets the environment's ``fill_info_*`` variables (which START pushes to the
tasks) from the run's LHC fill in Bookkeeping, else from the last fill if its stable beams have begun and not
ended; otherwise it removes them. Bookkeeping now learns environments and runs from the core's Kafka events,
but the corpus v1.45.0 still enables the legacy calls, so they are here too: ``CreateEnv``/``UpdateEnv``
(the environment and its state), ``StartOfRun`` (the run, a log entry for it, its FLPs), ``UpdateRunStart`` and
``UpdateRunStop`` (times, trigger, PDP and ODC settings). A failed RPC fails the call (the roles are not
critical). The endpoint is ``bookkeepingBaseUri`` (an ``http://`` prefix is dropped); no credentials are sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.environment.runvars import FILL_INFO_KEYS
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.protocols import bookkeeping_pb2 as bk
from ecs_engine.protocols import bookkeeping_pb2_grpc as bk_grpc

from .grpc_service import GrpcServicePlugin, call_event, call_timeout, fail_call, rpc_error_text
from .trg import ctp_detectors, is_global_run

#: RunUpdateRequest field <- variable, sent at the start of a run when the variable is set
RUN_START_FIELDS = {
    "pdpConfigOption": "pdp_config_option",
    "pdpTopologyDescriptionLibraryFile": "pdp_topology_description_library_file",
    "tfbDdMode": "tfb_dd_mode",
    "lhcPeriod": "lhc_period",
    "odcTopologyFullName": "odc_topology_fullname",
    "pdpWorkflowParameters": "pdp_workflow_parameters",
    "pdpBeamType": "pdp_beam_type",
    "readoutCfgUri": "readout_cfg_uri",
}


def true(stack: Mapping[str, str], name: str) -> bool:
    return stack.get(name, "").strip().lower() == "true"


def json_list(stack: Mapping[str, str], name: str) -> list[str]:
    try:
        value = json.loads(stack.get(name, "") or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def number(stack: Mapping[str, str], name: str) -> int:
    text = stack.get(name, "").strip()
    return int(text) if text.isdigit() else 0


def run_type(name: str) -> str:
    """The Bookkeeping run type of ``run_type`` (``PHYSICS`` → ``RUN_TYPE_PHYSICS``); unknown: NULL."""
    known = f"RUN_TYPE_{name.strip().upper()}"
    return known if known in bk.RunType.DESCRIPTOR.values_by_name else "RUN_TYPE_NULL"


def detectors(names: list[str]) -> list[str]:
    """The Bookkeeping detectors of ``names``; a detector Bookkeeping does not know is left out."""
    return [f"DETECTOR_{n.upper()}" for n in names if f"DETECTOR_{n.upper()}" in bk.Detector.DESCRIPTOR.values_by_name]


def run_creation(stack: Mapping[str, str], run: int) -> bk.RunCreationRequest:
    epn = true(stack, "epn_enabled")
    request = bk.RunCreationRequest(
        environmentId=stack.get("environment_id", ""),
        nDetectors=len(json_list(stack, "detectors")),
        nEpns=number(stack, "odc_n_epns") if epn else 0,
        nFlps=len(json_list(stack, "hosts")),
        runNumber=run,
        runType=run_type(stack.get("run_type", "")),
        dd_flp=true(stack, "dd_enabled"),
        dcs=true(stack, "dcs_enabled"),
        epn=epn,
        epnTopology=stack.get("odc_topology", ""),
        detectors=detectors(json_list(stack, "detectors")),
    )
    if stack.get("odc_topology_fullname"):
        request.odcTopologyFullName = stack["odc_topology_fullname"]
    return request


def trigger_value(stack: Mapping[str, str]) -> str:
    """``OFF`` without the trigger, ``CTP`` for a global run, ``LTU`` for a standalone one."""
    if not true(stack, "trg_enabled"):
        return "OFF"
    try:
        return "CTP" if is_global_run(ctp_detectors(stack), stack) else "LTU"
    except ValueError:
        return "LTU"


def run_start_update(stack: Mapping[str, str], run: int) -> bk.RunUpdateRequest:
    request = bk.RunUpdateRequest(runNumber=run, triggerValue=trigger_value(stack))
    if number(stack, "run_start_time_ms"):
        request.timeO2Start = number(stack, "run_start_time_ms")
    if true(stack, "trg_enabled") and number(stack, "trg_start_time_ms"):
        request.timeTrgStart = number(stack, "trg_start_time_ms")
    for field, name in RUN_START_FIELDS.items():
        if stack.get(name):
            setattr(request, field, stack[name])
    return request


def run_stop_update(stack: Mapping[str, str], run: int) -> bk.RunUpdateRequest:
    request = bk.RunUpdateRequest(runNumber=run)
    if number(stack, "run_end_time_ms"):
        request.timeO2End = number(stack, "run_end_time_ms")
    if true(stack, "trg_enabled") and number(stack, "trg_end_time_ms"):
        request.timeTrgEnd = number(stack, "trg_end_time_ms")
    return request


def fill_info(fill: bk.LHCFill | None) -> dict[str, str]:
    """The ``fill_info_*`` variables of ``fill`` (none for no fill)."""
    if fill is None:
        return {}
    number_key, scheme, beam_type, start, end = FILL_INFO_KEYS
    out = {number_key: str(fill.fillNumber), scheme: fill.fillingSchemeName, beam_type: fill.beamType}
    if fill.HasField("stableBeamsStart"):
        out[start] = str(fill.stableBeamsStart)
    if fill.HasField("stableBeamsEnd"):
        out[end] = str(fill.stableBeamsEnd)
    return out


def in_stable_beams(fill: bk.LHCFill) -> bool:
    return fill.stableBeamsStart > 0 and fill.stableBeamsEnd <= 0


class BookkeepingFailure(Exception):
    """An RPC failed; the message says which and why."""


class BookkeepingCalls:
    """The functions of one call (upstream's names)."""

    def __init__(self, plugin: BookkeepingPlugin, call: Any):
        self._plugin = plugin
        self._call = call
        self._stack = call.var_stack

    async def _rpc(self, service: str, method: str, request: Message) -> Any:
        """One RPC within the call's whole budget (as upstream: each RPC of a call gets all of it)."""
        stub = self._plugin.stub(service)
        try:
            return await getattr(stub, method)(request, timeout=call_timeout(self._call, self._plugin.default_timeout))
        except grpc.aio.AioRpcError as exc:
            raise BookkeepingFailure(f"{service}.{method}: {rpc_error_text(exc)}") from None

    async def _operation(self, what: str, *steps: tuple[str, str, Message]) -> str:
        """The RPCs of one call in order, with the call's events; the first failure fails the call."""
        call_event(self._call, model.STARTED)
        try:
            for service, method, request in steps:
                await self._rpc(service, method, request)
        except BookkeepingFailure as exc:
            call_event(self._call, model.DONE_ERROR, error=str(exc))
            return fail_call(self._call, f"Bookkeeping {what} failed", str(exc))
        call_event(self._call, model.DONE_OK)
        return ""

    def _run(self) -> int:
        return number(self._stack, "run_number")

    def _state(self) -> str:
        return str(getattr(self._call.env, "state", ""))

    async def RetrieveFillInfo(self) -> str:
        run = self._run()
        fill: bk.LHCFill | None = None
        try:
            if run:
                with_relations = await self._rpc("RunService", "Get", bk.RunFetchRequest(runNumber=run))
                if with_relations.HasField("lhcFill"):
                    fill = with_relations.lhcFill
        except BookkeepingFailure:
            pass  # the run is not (yet) in Bookkeeping: the last fill tells
        try:
            if fill is None:
                last = await self._rpc("LhcFillService", "GetLast", bk.LastLhcFillFetchRequest())
                fill = last.lhcFill if last.HasField("lhcFill") and in_stable_beams(last.lhcFill) else None
        except BookkeepingFailure as exc:
            return fail_call(self._call, "Bookkeeping RetrieveFillInfo failed", str(exc))
        root = self._call.role.root()
        for key in FILL_INFO_KEYS:
            root.user_vars.pop(key, None)
        root.user_vars.update(fill_info(fill))
        return ""

    async def CreateEnv(self) -> str:
        configuration = {k: v for k, v in self._stack.items() if not k.startswith("__")}
        request = bk.EnvironmentCreationRequest(
            id=self._stack.get("environment_id", ""), status=self._state(), rawConfiguration=json.dumps(configuration)
        )
        return await self._operation("CreateEnv", ("EnvironmentService", "Create", request))

    async def UpdateEnv(self) -> str:
        request = bk.EnvironmentUpdateRequest(id=self._stack.get("environment_id", ""), status=self._state())
        return await self._operation("UpdateEnv", ("EnvironmentService", "Update", request))

    async def StartOfRun(self) -> str:
        run = self._run()
        if not run:
            return fail_call(self._call, "Bookkeeping StartOfRun failed", "no run number")
        environment_id = self._stack.get("environment_id", "")
        names = json_list(self._stack, "detectors")
        log = bk.LogCreationRequest(
            title=f"Run {run} started",
            text=f"Environment {environment_id} started run {run} ({self._stack.get('run_type', '')}) "
            f"with {', '.join(names) or 'no detectors'}.",
            runNumbers=[run],
        )
        flps = bk.ManyFlpsCreationRequest(
            flps=[bk.FlpCreationRequest(name=h, hostname=h, runNumber=run) for h in json_list(self._stack, "hosts")]
        )
        return await self._operation(
            "StartOfRun",
            ("RunService", "Create", run_creation(self._stack, run)),
            ("LogService", "Create", log),
            ("FlpService", "CreateMany", flps),
        )

    async def UpdateRunStart(self) -> str:
        run = self._run()
        if not run:
            return fail_call(self._call, "Bookkeeping UpdateRunStart failed", "no run number")
        return await self._operation("UpdateRunStart", ("RunService", "Update", run_start_update(self._stack, run)))

    async def UpdateRunStop(self) -> str:
        """The run's end; nothing when no run is current (DESTROY after STOP: that run was updated then)."""
        run = self._run()
        if not run:
            return ""
        return await self._operation("UpdateRunStop", ("RunService", "Update", run_stop_update(self._stack, run)))


class BookkeepingPlugin(GrpcServicePlugin):
    name = "bookkeeping"
    pretty_name = "Bookkeeping"
    endpoint_setting = "bookkeepingBaseUri"
    default_endpoint = "http://127.0.0.1:4000"
    default_timeout = 30.0

    def stub(self, service: str) -> Any:
        return getattr(bk_grpc, f"{service}Stub")(self.channel)

    def data(self) -> dict[str, str]:
        return {"endpoint": self.endpoint}

    def call_stack(self, call: Any) -> BookkeepingCalls:
        return BookkeepingCalls(self, call)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [BookkeepingPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.bookkeeping import MOCK

    return [MOCK]
