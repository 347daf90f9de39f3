"""The ``dcs`` integration (AliECS ``core/integration/dcs``, integrations.md §1.2): the Detector Control System.

``dcs.PrepareForRun()``, ``StartOfRun()``, ``EndOfRun()`` and ``Cleanup()`` over ``dcs.Configurator``
(setting ``dcsServiceEndpoint``). A ``Subscribe`` stream, renewed 3 s after it ends or fails, keeps every
detector's PFR/SOR availability; PFR waits up to ``dcs_pfr_grace_period`` (polling at 1 Hz) for every
detector to be available and then prepares the available ones (none: the call fails); SOR waits up to
``dcs_sor_grace_period`` for all of them and otherwise fails without asking DCS. A detector DCS never spoke
of counts as available. Operation streams are read to their end (EOF): a detector's states are not final
until then, and the call fails unless each detector's last state is RUN_OK. As soon as a SOR stream is open
an EOR is owed for the environment: ``EndOfRun`` pays it, ``Cleanup`` (GO_ERROR, DESTROY) sends it if still
owed. Unlike upstream, owed EORs are kept in the plugin's state directory and survive a core restart, and
an EOR still owed when its environment is destroyed (DCS was unreachable) is sent in the background once
the channel is READY again, backing off while DCS answers UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from ecs_engine.durations import parse_duration
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.errors import HandledError
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.offload import offload
from ecs_engine.protocols import dcs_pb2, dcs_pb2_grpc

from .grpc_service import GrpcServicePlugin, call_event, call_timeout, fail_call, rpc_error_text

log = logging.getLogger(__name__)

#: seconds between the end of a subscription and the next (upstream: 3 s)
RESUBSCRIBE_SECONDS = 3.0
#: how often a grace period looks at the availabilities again (upstream: 1 Hz)
POLL_SECONDS = 1.0
#: the back-off between attempts at an orphaned EOR that DCS answered UNAVAILABLE (doubling up to the last)
RETRY_SECONDS = (1.0, 60.0)
#: the file in the plugin's state directory that holds the owed EORs
PENDING_EOR_FILE = "pending-eor.json"
#: DCS calls the test detector AGD
TO_DCS = {"TST": "AGD"}
FROM_DCS = {v: k for k, v in TO_DCS.items()}
#: run types DCS does not know under our name
RUN_TYPES = {"COSMICS": "PHYSICS"}
AVAILABILITY_STATES = {
    dcs_pb2.PFR_AVAILABLE: "pfr",
    dcs_pb2.PFR_UNAVAILABLE: "pfr",
    dcs_pb2.SOR_AVAILABLE: "sor",
    dcs_pb2.SOR_UNAVAILABLE: "sor",
}


def state_name(state: int) -> str:
    return dcs_pb2.DetectorState.Name(state)


def detector_name(detector: int) -> str:
    name = dcs_pb2.Detector.Name(detector)
    return FROM_DCS.get(name, name)


@dataclass
class DetectorStatus:
    """What DCS last said of one detector (HEARTBEAT and STATE_CHANGE_EVENT)."""

    state: int = dcs_pb2.NULL_STATE
    timestamp: str = ""
    allowed_run_types: list[str] = field(default_factory=list)
    pfr: int = dcs_pb2.NULL_STATE
    sor: int = dcs_pb2.NULL_STATE

    def as_data(self) -> dict[str, Any]:
        return {
            "State": state_name(self.state),
            "Timestamp": self.timestamp,
            "AllowedRunTypes": self.allowed_run_types,
            "PfrAvailability": state_name(self.pfr),
            "SorAvailability": state_name(self.sor),
        }


class RequestError(ValueError):
    """A call's variables do not make a valid request (the message names the variable)."""


def detectors_of(stack: Mapping[str, str]) -> list[str]:
    """``dcs_detectors`` (a JSON list; ``detectors`` if unset), sorted, without ``DCS``."""
    text = stack.get("dcs_detectors") or stack.get("detectors") or "[]"
    try:
        names = json.loads(text)
    except ValueError:
        raise RequestError(f"dcs_detectors is not a JSON list: {text!r}") from None
    if not isinstance(names, list):
        raise RequestError(f"dcs_detectors is not a JSON list: {text!r}")
    return sorted(str(n) for n in names if str(n) != "DCS")


def dcs_detector(name: str) -> dcs_pb2.Detector:
    try:
        return dcs_pb2.Detector.Value(TO_DCS.get(name, name))
    except ValueError:
        raise RequestError(f"detector {name!r} is not one DCS knows") from None


def run_type(stack: Mapping[str, str]) -> dcs_pb2.RunType:
    """``run_type`` as DCS knows it: COSMICS is PHYSICS, an unknown one TECHNICAL."""
    name = stack.get("run_type", "").strip().upper()
    try:
        return dcs_pb2.RunType.Value(RUN_TYPES.get(name, name))
    except ValueError:
        return dcs_pb2.TECHNICAL


def json_map(stack: Mapping[str, str], variable: str) -> dict[str, str]:
    text = stack.get(variable, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise RequestError(f"{variable} is not a JSON map: {text!r}") from None
    if not isinstance(value, dict):
        raise RequestError(f"{variable} is not a JSON map: {text!r}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def detector_requests(
    stack: Mapping[str, str],
    detectors: Iterable[str],
    phase: str,
    kind: str,
    ddl_lists: Mapping[str, str] | None = None,
) -> list[dcs_pb2.DetectorOperationRequest]:
    """Per detector: ``<det>_dcs_<kind>_parameters`` over ``dcs_<kind>_parameters`` (``kind``: sor, eor),
    ``STATE_SEQUENCE`` from ``dcs_<phase>_state_sequence`` when set (``phase``: pfr, sor, eor), and its
    ``ddl_list`` when ``ddl_lists`` has one."""
    common = json_map(stack, f"dcs_{kind}_parameters")
    sequence = stack.get(f"dcs_{phase}_state_sequence", "").strip()
    out = []
    for name in detectors:
        parameters = {**common, **json_map(stack, f"{name.lower()}_dcs_{kind}_parameters")}
        if sequence:
            parameters["STATE_SEQUENCE"] = sequence
        if ddl_lists and name in ddl_lists:
            parameters["ddl_list"] = ddl_lists[name]
        out.append(dcs_pb2.DetectorOperationRequest(detector=dcs_detector(name), extraParameters=parameters))
    return out


def run_number(stack: Mapping[str, str]) -> int:
    text = stack.get("run_number", "").strip()
    if not text.isdigit():
        raise RequestError(f"run_number is not a run number: {text!r}")
    return int(text)


def eor_request(stack: Mapping[str, str], run: int) -> dcs_pb2.EorRequest:
    """The EOR of ``run`` for the call's detectors (RequestError when the variables make none)."""
    return dcs_pb2.EorRequest(detectors=detector_requests(stack, detectors_of(stack), "eor", "eor"), runNumber=run)


def grace_period(stack: Mapping[str, str], variable: str) -> float:
    text = stack.get(variable, "").strip()
    if not text:
        return 0.0
    try:
        return max(parse_duration(text), 0.0)
    except ValueError as exc:
        raise RequestError(f"{variable}: {exc}") from None


class DcsCalls:
    """The functions of one call."""

    def __init__(self, plugin: DcsPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    async def PrepareForRun(self) -> str:
        return await self._plugin.prepare_for_run(self._call)

    async def StartOfRun(self) -> str:
        return await self._plugin.start_of_run(self._call)

    async def EndOfRun(self) -> str:
        return await self._plugin.end_of_run(self._call)

    async def Cleanup(self) -> str:
        return await self._plugin.cleanup(self._call)


class DcsPlugin(GrpcServicePlugin):
    name = "dcs"
    pretty_name = "DCS"
    endpoint_setting = "dcsServiceEndpoint"
    default_endpoint = "//127.0.0.1:50051"
    default_timeout = 45.0

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self.framework_id = ""
        self.detectors: dict[str, DetectorStatus] = {}
        #: environment id -> the run whose EOR is owed
        self.pending_eors: dict[str, int] = {}
        self.sor_successful: dict[str, bool] = {}
        self.env_detectors: dict[str, list[str]] = {}
        self.subscribed = False
        self._stub: dcs_pb2_grpc.ConfiguratorStub | None = None
        #: environment id -> the EOR still owed after its environment was destroyed (sent in the background)
        self._orphans: dict[str, dcs_pb2.EorRequest] = {}
        self._orphaned = asyncio.Event()

    # -- life ----------------------------------------------------------------------------------------------

    def init(self, framework_id: str) -> None:
        self.framework_id = framework_id
        self.pending_eors = self._load_pending()

    async def started(self) -> None:
        self._stub = dcs_pb2_grpc.ConfiguratorStub(self.channel)
        self.background(self._subscribe_forever(), "subscription")
        self.background(self._retry_orphans(), "owed EORs of destroyed environments")

    @property
    def stub(self) -> dcs_pb2_grpc.ConfiguratorStub:
        if self._stub is None:
            raise RuntimeError("dcs: not connected (the plugin was not started)")
        return self._stub

    def call_stack(self, call: Any) -> DcsCalls:
        return DcsCalls(self, call)

    # -- what GetIntegratedServices and EnvironmentInfo show ------------------------------------------------

    def data(self) -> dict[str, Any]:
        return {
            "partitions": dict(self.pending_eors),
            "detectors": {name: status.as_data() for name, status in sorted(self.detectors.items())},
            "subscribed": self.subscribed,
        }

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, str]:
        out = {}
        for env_id in environment_ids:
            if env_id not in self.env_detectors and env_id not in self.sor_successful:
                continue
            wanted = self.env_detectors.get(env_id, [])
            detectors = {d: self.detectors[d].as_data() for d in wanted if d in self.detectors}
            out[env_id] = json.dumps({"SorSuccessful": self.sor_successful.get(env_id, False), "Detectors": detectors})
        return out

    # -- the subscription -----------------------------------------------------------------------------------

    async def _subscribe_forever(self) -> None:
        while True:
            try:
                stream = self.stub.Subscribe(dcs_pb2.SubscriptionRequest(instanceId=self.framework_id))
                async for event in stream:
                    self.subscribed = True
                    self.on_event(event)
                log.warning("dcs: the subscription ended; subscribing again in %.0f s", RESUBSCRIBE_SECONDS)
            except grpc.aio.AioRpcError as exc:
                log.warning("dcs: subscription failed (%s); again in %.0f s", rpc_error_text(exc), RESUBSCRIBE_SECONDS)
            self.subscribed = False
            await asyncio.sleep(RESUBSCRIBE_SECONDS)

    def on_event(self, event: dcs_pb2.Event) -> None:
        """Keep what a HEARTBEAT or a STATE_CHANGE_EVENT says; a change of availability is an event of ours."""
        changed: dict[str, list[str]] = {"pfrAvailability": [], "sorAvailability": []}
        for info in event.detectorMatrix:
            name = detector_name(info.detector)
            status = self.detectors.setdefault(name, DetectorStatus())
            before = (status.pfr, status.sor)
            if event.eventtype == dcs_pb2.HEARTBEAT:
                status.pfr, status.sor = info.pfrAvailability, info.sorAvailability
                status.allowed_run_types = [dcs_pb2.RunType.Name(t) for t in info.allowedRunTypes]
                status.state, status.timestamp = info.state, info.timestamp
            elif event.eventtype == dcs_pb2.STATE_CHANGE_EVENT:
                status.state, status.timestamp = info.state, info.timestamp
                which = AVAILABILITY_STATES.get(info.state)
                if which is not None:
                    setattr(status, which, info.state)
            if status.pfr != before[0]:
                changed["pfrAvailability"].append(name)
            if status.sor != before[1]:
                changed["sorAvailability"].append(name)
        if changed["pfrAvailability"] or changed["sorAvailability"]:
            self.service_event(
                "dcs.updateDetectorOpAvailabilities",
                model.DONE_OK,
                payload={
                    "detectors": {name: status.as_data() for name, status in sorted(self.detectors.items())},
                    "changed": changed,
                },
            )

    def availability(self, detectors: Iterable[str], which: str) -> tuple[list[str], dict[str, str]]:
        """(available, {unavailable: its availability}): ``which`` is pfr or sor; never heard of is available."""
        wanted = dcs_pb2.PFR_AVAILABLE if which == "pfr" else dcs_pb2.SOR_AVAILABLE
        ok, not_ok = [], {}
        for name in detectors:
            status = self.detectors.get(name)
            value = getattr(status, which) if status is not None else dcs_pb2.NULL_STATE
            if value in (wanted, dcs_pb2.NULL_STATE):
                ok.append(name)
            else:
                not_ok[name] = state_name(value)
        return ok, not_ok

    async def _await_availability(self, detectors: list[str], which: str, grace: float) -> tuple[list[str], dict]:
        """Poll at 1 Hz until every detector is available or ``grace`` seconds have passed."""
        deadline = time.monotonic() + grace
        while True:
            ok, not_ok = self.availability(detectors, which)
            if not not_ok or time.monotonic() >= deadline:
                return ok, not_ok
            await asyncio.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))

    # -- the calls ------------------------------------------------------------------------------------------

    async def prepare_for_run(self, call: Any) -> str:
        stack = call.var_stack
        deadline = time.monotonic() + call_timeout(call, self.default_timeout)
        try:
            detectors = detectors_of(stack)
            self.env_detectors[call.environment_id] = detectors
            grace = grace_period(stack, "dcs_pfr_grace_period")
            kind = run_type(stack)
        except RequestError as exc:
            return self._refuse(call, str(exc))
        call_event(call, model.STARTED, payload={"detectors": detectors})
        ok, not_ok = await self._await_availability(detectors, "pfr", grace)
        if not ok:
            return self._refuse(call, f"no detector is ready for PFR: {_listing(not_ok)}")
        if not_ok:
            log.warning("dcs: PFR of %s only; not ready: %s", ", ".join(ok), _listing(not_ok))
        links = await self._ddl_lists(stack, ok)
        try:
            request = dcs_pb2.PfrRequest(
                detectors=detector_requests(stack, ok, "pfr", "sor", links),
                runType=kind,
                partitionId=call.environment_id,
            )
        except RequestError as exc:
            return self._refuse(call, str(exc))
        await self._operation(call, "PrepareForRun", self.stub.PrepareForRun(request), ok, 0, deadline)
        return ""

    async def start_of_run(self, call: Any) -> str:
        stack = call.var_stack
        env_id = call.environment_id
        deadline = time.monotonic() + call_timeout(call, self.default_timeout)
        try:
            detectors = detectors_of(stack)
            self.env_detectors[env_id] = detectors
            run = run_number(stack)
            grace = grace_period(stack, "dcs_sor_grace_period")
            requests = detector_requests(stack, detectors, "sor", "sor", await self._ddl_lists(stack, detectors))
            request = dcs_pb2.SorRequest(detectors=requests, runType=run_type(stack), runNumber=run)
        except RequestError as exc:
            return self._refuse(call, str(exc))
        self.sor_successful[env_id] = False
        call_event(call, model.STARTED, payload={"detectors": detectors, "runNumber": run})
        _, not_ok = await self._await_availability(detectors, "sor", grace)
        if not_ok:
            return self._refuse(call, f"detectors not ready for SOR: {_listing(not_ok)}", run=run)
        await self._owe_eor(env_id, run)  # from the moment the SOR is sent, whatever DCS answers
        await self._operation(call, "StartOfRun", self.stub.StartOfRun(request), detectors, run, deadline)
        self.sor_successful[env_id] = not call.var_stack.get("__call_error")
        return ""

    async def end_of_run(self, call: Any) -> str:
        try:
            run = run_number(call.var_stack)
        except RequestError as exc:
            return self._refuse(call, str(exc))
        return await self._end_of_run(call, run)

    async def cleanup(self, call: Any) -> str:
        """Send the EOR still owed for this environment, if any; at DESTROY, forget the environment."""
        run = self.pending_eors.get(call.environment_id)
        if run is not None:
            await self._end_of_run(call, run)
        if call.var_stack.get("__call_trigger") == "DESTROY":
            self.env_detectors.pop(call.environment_id, None)
            self.sor_successful.pop(call.environment_id, None)
            if run is not None and call.environment_id in self.pending_eors:
                self._orphan(call, run)
        return ""

    def _orphan(self, call: Any, run: int) -> None:
        """The environment is going away owing DCS an EOR it could not send: send it when DCS is back."""
        try:
            request = eor_request(call.var_stack, run)
        except RequestError as exc:
            log.error("dcs: the EOR of run %d (environment %s) cannot be sent: %s", run, call.environment_id, exc)
            return
        log.warning("dcs: environment %s owes run %d's EOR; it is sent once DCS is reachable", call.environment_id, run)
        self._orphans[call.environment_id] = request
        self._orphaned.set()

    async def _retry_orphans(self) -> None:
        """Send each orphaned EOR once the channel is READY; an UNAVAILABLE answer backs off and tries again."""
        delay = RETRY_SECONDS[0]
        while True:
            await self._orphaned.wait()
            await self.wait_until_ready()
            for env_id, request in list(self._orphans.items()):
                if await self._send_orphan(env_id, request):
                    del self._orphans[env_id]
                    await self._paid_eor(env_id)
            if self._orphans:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_SECONDS[1])
            else:
                self._orphaned.clear()
                delay = RETRY_SECONDS[0]

    async def _send_orphan(self, env_id: str, request: dcs_pb2.EorRequest) -> bool:
        """Send one orphaned EOR, read to its end; False when DCS was unreachable (it stays owed)."""
        run = request.runNumber
        stream = self.stub.EndOfRun(request)
        last: dict[str, str] = {}
        status, error = model.DONE_OK, ""
        try:
            async with asyncio.timeout(self.default_timeout):
                async for event in stream:
                    last[detector_name(event.detector)] = state_name(event.state)
        except TimeoutError:
            stream.cancel()
            status, error = model.DONE_TIMEOUT, "DCS did not end EndOfRun in time"
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                log.warning("dcs: the owed EOR of run %d is still not sent: %s", run, rpc_error_text(exc))
                return False
            status, error = model.DONE_ERROR, f"DCS EndOfRun failed: {rpc_error_text(exc)}"
        if status == model.DONE_OK and any(state != "RUN_OK" for state in last.values()):
            status, error = model.DONE_ERROR, f"EndOfRun did not succeed: {_listing(last)}"
        log.log(
            logging.INFO if not error else logging.WARNING,
            "dcs: owed EOR of run %d sent%s",
            run,
            f": {error}" if error else "",
        )
        self.service_event(
            "dcs.EndOfRun()", status, environment_id=env_id, error=error, payload={"runNumber": run, "owed": True}
        )
        return True

    async def _end_of_run(self, call: Any, run: int) -> str:
        env_id = call.environment_id
        deadline = time.monotonic() + call_timeout(call, self.default_timeout)
        try:
            request = eor_request(call.var_stack, run)
        except RequestError as exc:
            return self._refuse(call, str(exc), run=run)
        detectors = detectors_of(call.var_stack)
        call_event(call, model.STARTED, payload={"detectors": detectors, "runNumber": run})
        failure = await self._operation(call, "EndOfRun", self.stub.EndOfRun(request), detectors, run, deadline)
        if failure != grpc.StatusCode.UNAVAILABLE:  # DCS had it: once and only once, even if it failed
            await self._paid_eor(env_id)
        self.sor_successful.pop(env_id, None)
        return ""

    async def _ddl_lists(self, stack: Mapping[str, str], detectors: Iterable[str]) -> dict[str, str]:
        """``ddl_list`` of each detector whose ``<det>_dcs_send_enabled_links`` is true: the aliases of its enabled
        links in the inventory (apricot's ``GetAliasedLinkIDsForDetector``), comma-separated; a detector whose
        links cannot be read goes without (logged)."""
        out: dict[str, str] = {}
        for name in detectors:
            if stack.get(f"{name.lower()}_dcs_send_enabled_links", "").strip().lower() != "true":
                continue
            if self.config is None:
                log.warning("dcs: no configuration store: %s goes without its ddl_list", name)
                continue
            try:
                aliases = await offload(self.config.aliased_link_ids_for_detector, name, only_enabled=True)
            except HandledError as exc:
                log.warning("dcs: the links of %s cannot be read (%s): it goes without its ddl_list", name, exc)
                continue
            out[name] = ",".join(aliases)
        return out

    def _refuse(self, call: Any, error: str, *, run: int = 0) -> str:
        call_event(call, model.DONE_ERROR, error=error, payload={"runNumber": run} if run else None)
        return fail_call(call, f"{call.func}: {error}")

    async def _operation(
        self,
        call: Any,
        operation: str,
        stream: Any,
        detectors: list[str],
        run: int,
        deadline: float,
    ) -> grpc.StatusCode | None:
        """Read an operation's stream to its end (EOF), publishing each detector's event; fail the call unless
        every detector's last state is RUN_OK. The RPC's status code when it failed, else None."""
        last: dict[str, str] = {}
        messages: dict[str, list[str]] = {}  # per detector: the reason, if it fails
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                async for event in stream:
                    name = detector_name(event.detector)
                    state = state_name(event.state)
                    last[name] = state
                    if event.message and state != "RUN_OK":
                        messages.setdefault(name, []).append(f"{name}: {event.message}")
                    call_event(
                        call,
                        model.ONGOING,
                        step=f"{name} {state}",
                        payload={
                            "detector": name,
                            "state": state,
                            "dcsEvent": MessageToDict(event),
                            "runNumber": run,
                            "detectors": detectors,
                        },
                    )
        except TimeoutError:
            stream.cancel()
            error = f"DCS did not end {operation} within the call's timeout ({_states(detectors, last)})"
            call_event(call, model.DONE_TIMEOUT, error=error, payload={"runNumber": run, "detectors": detectors})
            fail_call(call, f"{call.func}: {error}")
            return grpc.StatusCode.DEADLINE_EXCEEDED
        except grpc.aio.AioRpcError as exc:
            error = f"DCS {operation} failed: {rpc_error_text(exc)}"
            call_event(call, model.DONE_ERROR, error=error, payload={"runNumber": run, "detectors": detectors})
            fail_call(call, f"{call.func}: {error}")
            return exc.code()
        failed = [d for d in detectors if last.get(d) != "RUN_OK"]
        if failed:
            error = f"{operation} did not succeed for {_states(failed, last)}"
            call_event(call, model.DONE_ERROR, error=error, payload={"runNumber": run, "detectors": detectors})
            fail_call(call, f"{call.func}: {error}", "; ".join(m for d in failed for m in messages.get(d, [])))
            return None
        call_event(call, model.DONE_OK, payload={"runNumber": run, "detectors": detectors})
        return None

    # -- owed EORs, kept on disk ----------------------------------------------------------------------------

    async def _owe_eor(self, env_id: str, run: int) -> None:
        self.pending_eors[env_id] = run
        await offload(self._save_pending, dict(self.pending_eors))

    async def _paid_eor(self, env_id: str) -> None:
        if self.pending_eors.pop(env_id, None) is not None:
            await offload(self._save_pending, dict(self.pending_eors))

    def _load_pending(self) -> dict[str, int]:
        if self.state_dir is None:
            return {}
        path = self.state_dir / PENDING_EOR_FILE
        with contextlib.suppress(FileNotFoundError):
            try:
                return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
            except (ValueError, AttributeError) as exc:
                log.error("dcs: %s is not valid (%s); no EOR is owed from before", path, exc)
        return {}

    def _save_pending(self, pending: dict[str, int]) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / PENDING_EOR_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(pending, sort_keys=True))
        temporary.replace(path)


def _listing(states: Mapping[str, str]) -> str:
    return ", ".join(f"{name} ({state})" for name, state in sorted(states.items()))


def _states(detectors: Iterable[str], last: Mapping[str, str]) -> str:
    return _listing({d: last.get(d, "no final state") for d in detectors})


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [DcsPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.dcs import MOCK

    return [MOCK]
