"""The ``trg`` integration (AliECS ``core/integration/trg``, integrations.md §1.4): the CTP through ``ctpd.CTPd``.

A run with two or more detectors, or with ``trg_global_run_enabled`` true, is a *global* run: ``RunLoad`` loads
it (``trg_global_config``, the detectors, whether CTP readout is in), ``RunStart`` starts it with no detector,
``RunUnload`` unloads it. A *standalone* run (one detector) skips load and unload and names its detector in
``RunStart``/``RunStop``. Detectors go as CTP writes them: lower case, sorted, space-joined. A reply with
``rc`` other than 0 fails the call (``response code N from TRG: MSG``). ``RunStart``'s DONE_OK event carries
the time of the call, which Bookkeeping takes as the trigger start, and sets ``trg_start_time_ms``; ``RunStop``
sets ``trg_end_time_ms``. The runs each environment loaded or started are remembered (in the plugin's state
directory, so a restarted core still knows them) until unloaded or stopped; ``EnsureRunStop``,
``EnsureRunUnload`` and ``Cleanup`` stop and unload what is left.

Every ``trgPollingInterval`` the plugin lists the CTP's runs (``RunList``) for ``GetIntegratedServices``.
Upstream then stops and unloads every CTP run that no environment of its own knows, which kills the runs of
a second control system sharing the CTP; here that reconciliation happens only with the setting
``trgReconciliationEnabled: true`` (docs/compat.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from ecs_engine.durations import parse_duration
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.offload import offload
from ecs_engine.protocols import ctpecs_pb2, ctpecs_pb2_grpc

from .grpc_service import GrpcServicePlugin, call_event, call_timeout, fail_call, rpc_error_text

log = logging.getLogger(__name__)

RECONCILIATION_SETTING = "trgReconciliationEnabled"
#: setting -> upstream's default (core/config.go)
DURATION_SETTINGS = {"trgPollingInterval": 3.0, "trgPollingTimeout": 3.0, "trgReconciliationTimeout": 5.0}
PENDING_FILE = "pending.json"


@dataclass(frozen=True)
class CtpRun:
    """One line of ``RunList``: ``G 511713 R its, mft  run511713`` (global, running) or ``S 2222 L hmp``."""

    number: int
    is_global: bool
    running: bool
    detectors: tuple[str, ...]


def parse_run_list(text: str) -> list[CtpRun]:
    """The runs of a ``RunList`` reply's text; lines about ``daq`` and lines not of the form are skipped."""
    runs = []
    for line in text.splitlines():
        parts = line.split(maxsplit=3)
        if "daq" in line or len(parts) < 3 or parts[0] not in ("G", "S") or not parts[1].isdigit():
            continue
        listed = parts[3].split("  ")[0] if len(parts) > 3 else ""
        detectors = tuple(d.strip() for d in listed.split(",") if d.strip())
        runs.append(CtpRun(int(parts[1]), parts[0] == "G", parts[2] == "R", detectors))
    return runs


def ctp_detectors(stack: Mapping[str, str]) -> list[str]:
    """``trg_detectors`` (a JSON list; default ``detectors``) as CTP names them: lower case, sorted."""
    text = stack.get("trg_detectors", stack.get("detectors", "")) or "[]"
    try:
        detectors = json.loads(text)
    except ValueError:
        raise ValueError(f"trg_detectors is not a JSON list of detectors: {text!r}") from None
    if not isinstance(detectors, list):
        raise ValueError(f"trg_detectors is not a JSON list of detectors: {text!r}")
    return sorted(str(d).lower() for d in detectors)


def is_global_run(detectors: list[str], stack: Mapping[str, str]) -> bool:
    return len(detectors) >= 2 or stack.get("trg_global_run_enabled", "").strip().lower() == "true"


def request_payload(request: Message, environment_id: str) -> dict[str, Any]:
    """The event payload consumers parse: ``trgRequest`` with the request's fields (``runn``...)."""
    return {"trgRequest": MessageToDict(request, preserving_proto_field_name=True), "environmentId": environment_id}


def set_run_variable(call: Any, key: str, value: str) -> None:
    """Set a variable on the environment's root role, where later calls and the tasks' START/STOP read it."""
    call.role.root().user_vars[key] = value


@dataclass(frozen=True)
class PendingRun:
    """A run an environment loaded or started and has not unloaded or stopped yet."""

    run: int
    detector: str = ""
    #: the CTP confirmed the start (a run is remembered before RunStart is sent: its reply may be lost)
    started: bool = False


class TrgFailure(Exception):
    """An operation failed; the message is the call's error."""


class TrgCalls:
    """The functions of one call (upstream's names)."""

    def __init__(self, plugin: TrgPlugin, call: Any):
        self._plugin = plugin
        self._call = call
        self._env = call.var_stack.get("environment_id", "")

    def _run_setup(self) -> tuple[int, list[str], bool]:
        stack = self._call.var_stack
        text = stack.get("run_number", "")
        if not text.isdigit() or int(text) == 0:
            raise TrgFailure(f"no run number (run_number is {text!r})")
        detectors = ctp_detectors(stack)
        if not detectors:
            raise TrgFailure("no detectors for the CTP (trg_detectors is empty)")
        return int(text), detectors, is_global_run(detectors, stack)

    async def _do(self, operation: str, request: Message, stamp: int | None = None) -> bool:
        """Send ``request``; on an RPC error or a non-zero ``rc`` the call fails and this is False."""
        try:
            await self._plugin.send(self._call, operation, request, stamp=stamp)
        except TrgFailure as exc:
            fail_call(self._call, f"TRG {operation} failed", str(exc))
            return False
        return True

    async def PrepareForRun(self) -> str:
        stack = self._call.var_stack
        try:
            detectors = ctp_detectors(stack)
        except ValueError as exc:
            return fail_call(self._call, "TRG PrepareForRun failed", str(exc))
        request = ctpecs_pb2.RunPrepareRequest(runtype=stack.get("run_type", ""), detectors=" ".join(detectors))
        await self._do("PrepareForRun", request)
        return ""

    async def RunLoad(self) -> str:
        try:
            run, detectors, global_run = self._run_setup()
        except (TrgFailure, ValueError) as exc:
            return fail_call(self._call, "TRG RunLoad failed", str(exc))
        if not global_run:
            return ""  # a standalone run is not loaded
        stack = self._call.var_stack
        request = ctpecs_pb2.RunLoadRequest(
            runn=run,
            config=stack.get("trg_global_config", ""),
            detectors=" ".join(detectors),
            ctp_readout_included=stack.get("ctp_readout_enabled", "").strip().lower() == "true",
        )
        await self._plugin.remember("unload", self._env, PendingRun(run))  # before: polling must know it
        await self._do("RunLoad", request)
        return ""

    async def RunStart(self) -> str:
        try:
            run, detectors, global_run = self._run_setup()
        except (TrgFailure, ValueError) as exc:
            return fail_call(self._call, "TRG RunStart failed", str(exc))
        detector = "" if global_run else detectors[0]
        request = ctpecs_pb2.RunStartRequest(
            runn=run, config=self._call.var_stack.get("trg_runtime_config", ""), detector=detector
        )
        started = model.now_ms()
        await self._plugin.remember("stop", self._env, PendingRun(run, detector))
        if await self._do("RunStart", request, stamp=started):
            set_run_variable(self._call, "trg_start_time_ms", str(started))
            await self._plugin.remember("stop", self._env, PendingRun(run, detector, started=True))
        return ""

    async def RunStop(self) -> str:
        try:
            run, detectors, global_run = self._run_setup()
        except (TrgFailure, ValueError) as exc:
            return fail_call(self._call, "TRG RunStop failed", str(exc))
        set_run_variable(self._call, "trg_end_time_ms", str(model.now_ms()))
        return await self._stop(PendingRun(run, "" if global_run else detectors[0]))

    async def RunUnload(self) -> str:
        try:
            run, _, global_run = self._run_setup()
        except (TrgFailure, ValueError) as exc:
            return fail_call(self._call, "TRG RunUnload failed", str(exc))
        if not global_run:
            return ""
        return await self._unload(PendingRun(run))

    async def EnsureRunStop(self) -> str:
        pending = self._plugin.pending("stop", self._env)
        return await self._stop(pending) if pending is not None else ""

    async def EnsureRunUnload(self) -> str:
        pending = self._plugin.pending("unload", self._env)
        return await self._unload(pending) if pending is not None else ""

    async def Cleanup(self) -> str:
        """v1.45's name: whatever of this environment's runs is still started or loaded is stopped, unloaded."""
        await self.EnsureRunStop()
        return await self.EnsureRunUnload()

    async def _stop(self, pending: PendingRun) -> str:
        if await self._do("RunStop", ctpecs_pb2.RunStopRequest(runn=pending.run, detector=pending.detector)):
            await self._plugin.forget("stop", self._env)
        return ""

    async def _unload(self, pending: PendingRun) -> str:
        if await self._do("RunUnload", ctpecs_pb2.RunStopRequest(runn=pending.run)):
            await self._plugin.forget("unload", self._env)
        return ""


class TrgPlugin(GrpcServicePlugin):
    name = "trg"
    pretty_name = "Trigger (CTP)"
    endpoint_setting = "trgServiceEndpoint"
    default_endpoint = "//127.0.0.1:50060"
    default_timeout = 5.0

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self._lock = threading.Lock()
        #: "stop" / "unload" -> environment id -> the run still to stop / unload
        self._pending: dict[str, dict[str, PendingRun]] = {"stop": {}, "unload": {}}
        self._ctp_runs: list[CtpRun] = []
        self._listed = False

    # -- settings ------------------------------------------------------------------------------------------

    def seconds(self, setting: str) -> float:
        """A duration setting (Go style or seconds); upstream's default when unset or unreadable."""
        default = DURATION_SETTINGS[setting]
        value = self.settings.get(setting)
        if value is None or value == "":
            return default
        try:
            return float(value) if isinstance(value, (int, float)) else parse_duration(str(value))
        except ValueError:
            log.warning("trg: setting %s: %r is not a duration; using %gs", setting, value, default)
            return default

    @property
    def reconciling(self) -> bool:
        return str(self.settings.get(RECONCILIATION_SETTING, "false")).strip().lower() in ("true", "1", "yes", "on")

    # -- what each environment loaded or started ----------------------------------------------------------

    def init(self, framework_id: str) -> None:
        """Read the runs remembered before a restart."""
        path = self.state_dir / PENDING_FILE if self.state_dir is not None else None
        if path is None or not path.exists():
            return
        try:
            stored = json.loads(path.read_text())
            self._pending = {
                kind: {env: PendingRun(**run) for env, run in stored.get(kind, {}).items()} for kind in self._pending
            }
        except (OSError, ValueError, TypeError) as exc:
            log.error("trg: %s cannot be read (%s): the runs loaded or started before are forgotten", path, exc)

    def pending(self, kind: str, environment_id: str) -> PendingRun | None:
        with self._lock:
            return self._pending[kind].get(environment_id)

    async def remember(self, kind: str, environment_id: str, run: PendingRun) -> None:
        with self._lock:
            self._pending[kind][environment_id] = run
        await offload(self._save)

    async def forget(self, kind: str, environment_id: str) -> None:
        with self._lock:
            self._pending[kind].pop(environment_id, None)
        await offload(self._save)

    def _save(self) -> None:
        if self.state_dir is None:
            return
        with self._lock:
            text = json.dumps({kind: {e: asdict(r) for e, r in runs.items()} for kind, runs in self._pending.items()})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_dir / f"{PENDING_FILE}.tmp"
        temporary.write_text(text)
        temporary.replace(self.state_dir / PENDING_FILE)

    def known_runs(self) -> set[int]:
        with self._lock:
            return {r.run for runs in self._pending.values() for r in runs.values()}

    # -- the service ---------------------------------------------------------------------------------------

    @property
    def stub(self) -> ctpecs_pb2_grpc.CTPdStub:
        return ctpecs_pb2_grpc.CTPdStub(self.channel)

    async def send(self, call: Any, operation: str, request: Message, *, stamp: int | None = None) -> None:
        """One operation of a call, with its events (STARTED, then DONE_OK stamped ``stamp`` or DONE_ERROR).

        Each event's step is the TRG request and its step status the operation's: Bookkeeping takes
        ``operationStepStatus`` DONE_OK of ``trg.RunStart()``/``RunStop()`` as the trigger's start and end."""
        payload = request_payload(request, call.var_stack.get("environment_id", ""))
        step = f"TRG {operation} request"

        def progress(status: model.OpStatus, error: str = "") -> None:
            call_event(call, status, step=step, step_status=status, error=error, payload=payload)

        progress(model.STARTED)
        budget = call_timeout(call, self.default_timeout)
        try:
            reply = await getattr(self.stub, operation)(request, timeout=budget)
            if reply.rc != 0:
                raise TrgFailure(f"response code {reply.rc} from TRG: {reply.msg}")
        except grpc.aio.AioRpcError as exc:
            timed_out = exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            error = f"no answer from TRG within the call's timeout ({budget:g}s)" if timed_out else rpc_error_text(exc)
            progress(model.DONE_TIMEOUT if timed_out else model.DONE_ERROR, error)
            raise TrgFailure(error) from None
        except TrgFailure as exc:
            progress(model.DONE_ERROR, str(exc))
            raise
        if stamp is None:
            progress(model.DONE_OK)
            return
        event = model.integrated_service_event(
            call.environment_id,
            service=call.path,
            operation=call.func,
            status=model.DONE_OK,
            step=step,
            step_status=model.DONE_OK,
            payload=json.dumps(payload),
        )
        event.timestamp = stamp  # the time of the call, which Bookkeeping takes as the trigger start
        call.env.publish(event)

    async def started(self) -> None:
        self.background(self._poll(), "RunList polling")

    async def _poll(self) -> None:
        """List the CTP's runs every ``trgPollingInterval``; reconcile them if the setting says so."""
        while True:
            try:
                reply = await self.stub.RunList(ctpecs_pb2.Empty(), timeout=self.seconds("trgPollingTimeout"))
                runs = parse_run_list(reply.msg)
                with self._lock:
                    self._ctp_runs, self._listed = runs, True
                if self.reconciling:
                    await self.reconcile(runs)
            except grpc.aio.AioRpcError as exc:
                log.debug("trg: RunList: %s", rpc_error_text(exc))
            await asyncio.sleep(self.seconds("trgPollingInterval"))

    async def reconcile(self, runs: Iterable[CtpRun]) -> None:
        """Stop (and unload, if global) every CTP run that no environment of this core loaded or started."""
        known = self.known_runs()
        timeout = self.seconds("trgReconciliationTimeout")
        for run in runs:
            if run.number in known:
                continue
            steps = (["RunStop"] if run.running else []) + (["RunUnload"] if run.is_global else [])
            for operation in steps:
                request = ctpecs_pb2.RunStopRequest(runn=run.number)
                try:
                    reply = await getattr(self.stub, operation)(request, timeout=timeout)
                    outcome = "done" if reply.rc == 0 else f"response code {reply.rc} from TRG: {reply.msg}"
                except grpc.aio.AioRpcError as exc:
                    outcome = rpc_error_text(exc)
                log.warning(
                    "trg: reconciliation: %s of CTP run %d, which no environment knows: %s",
                    operation,
                    run.number,
                    outcome,
                )
                self.service_event(
                    f"trg.{operation}()",
                    model.DONE_OK if outcome == "done" else model.DONE_ERROR,
                    error="" if outcome == "done" else outcome,
                    payload={"trgRequest": {"runn": run.number}, "reconciliation": True},
                )

    # -- what GetIntegratedServices shows ------------------------------------------------------------------

    def data(self) -> dict[str, str]:
        with self._lock:
            runs = [asdict(r) for r in self._ctp_runs] if self._listed else None
        return {
            "ctpRuns": json.dumps(runs),
            "reconciliation": "on" if self.reconciling else "off",
            "pollingInterval": f"{self.seconds('trgPollingInterval'):g}s",
        }

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, str]:
        out = {}
        with self._lock:
            for env in environment_ids:
                stop, unload = self._pending["stop"].get(env), self._pending["unload"].get(env)
                if stop is None and unload is None:
                    continue
                numbers = {r.run for r in (stop, unload) if r is not None}
                entry = {
                    "runStarted": stop.run if stop and stop.started else None,
                    "runLoaded": unload.run if unload else None,
                    "ctpRuns": [asdict(r) for r in self._ctp_runs if r.number in numbers],
                }
                out[env] = json.dumps(entry)
        return out

    def call_stack(self, call: Any) -> TrgCalls:
        return TrgCalls(self, call)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [TrgPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.trg import MOCK

    return [MOCK]
