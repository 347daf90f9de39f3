"""The ``ccdb`` integration (integrations.md §1.7): one GRP object per run, made by ``o2-ecs-grp-create``.

No gRPC: ``ccdb.RunStart()`` runs the GRP-creation command with ``--refresh`` and remembers the run;
``ccdb.RunStop()`` (after STOP, after GO_ERROR, at DESTROY: of the run, else of the last run) runs it again
only for a remembered run and forgets it, so the final object is written once per run. The command never
fails the call (as upstream: a GRP problem must not stop data taking); its outcome is an integrated-service
event and a log line.
The command is the setting ``ccdbGrpCreateCommand`` (default upstream's), run by ``bash -c`` in the
temporary directory and killed with its process group at the call's timeout (upstream: a fixed 10 s);
the arguments are quoted. ``coconut mock ccdb`` stands in for the tool.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.events import model
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.offload import offload
from ecs_engine.protocols import apricot_pb2

from .grpc_service import call_event, call_timeout

log = logging.getLogger(__name__)

COMMAND_SETTING = "ccdbGrpCreateCommand"
DEFAULT_COMMAND = "source /etc/profile.d/o2.sh && o2-ecs-grp-create"
DEFAULT_ENDPOINT = "http://ccdb-test.cern.ch:8080"
#: seconds the command may take when the call's timeout does not parse (upstream's fixed budget)
DEFAULT_TIMEOUT = 10.0
#: the hosts whose FLP id (the rest of the name) goes into the GRP object; only P2 hosts have one
FLP_PREFIX = "alio2-cr1-flp"
#: what the command may print into the event and the log
OUTPUT_LIMIT = 2000


@dataclass(frozen=True)
class Outcome:
    """What one run of the command did: the command line, its exit status (None: killed at the timeout)."""

    command: str
    status: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.status == 0


def run_type_number(name: str) -> int:
    """The run type's number in the common enum (``PHYSICS`` → 1); an unknown name is 0 (NULL)."""
    try:
        return apricot_pb2.RunType.Value(name.strip().upper())
    except ValueError:
        return 0


def flp_ids(hosts_json: str) -> list[str]:
    """The FLP ids of the hosts named ``alio2-cr1-flp<ID>`` in the JSON list ``hosts``."""
    try:
        hosts = json.loads(hosts_json or "[]")
    except ValueError:
        return []
    return [h[len(FLP_PREFIX) :] for h in hosts if isinstance(h, str) and h.startswith(FLP_PREFIX)]


def grp_arguments(stack: Mapping[str, str], run_number: int, server: str, *, refresh: bool) -> list[str]:
    """The arguments of ``o2-ecs-grp-create`` for ``run_number`` from a call's variables (§1.7).

    Raises ValueError naming the variable when no object can be made (an empty ``lhc_period``,
    ``pdp_n_hbf_per_tf`` not a number); a missing ``lhc_period`` is sent as ``Unknown``.
    """
    period = stack.get("lhc_period")
    if period is not None and not period.strip():
        raise ValueError("lhc_period is empty")
    try:
        hbf_per_tf = int(stack.get("pdp_n_hbf_per_tf", ""))
    except ValueError:
        raise ValueError(f"pdp_n_hbf_per_tf is not a number: {stack.get('pdp_n_hbf_per_tf', '')!r}") from None
    try:
        detectors = [str(d) for d in json.loads(stack.get("detectors", "") or "[]")]
    except ValueError:
        raise ValueError(f"detectors is not a JSON list: {stack.get('detectors', '')!r}") from None
    if stack.get("ctp_readout_enabled", "").strip().lower() == "true":
        detectors.append("TRG")
    start, end = stack.get("run_start_time_ms", ""), stack.get("run_end_completion_time_ms", "")
    override = stack.get("pdp_override_run_start_time", "").strip()
    if override:
        if start.isdigit() and end.isdigit():
            end = str(int(override) + int(end) - int(start))
        start = override
    args = ["-p", period if period is not None else "Unknown", "-r", str(run_number)]
    if refresh:
        args.append("--refresh")
    args += ["-n", str(hbf_per_tf), "-t", str(run_type_number(stack.get("run_type", "")))]
    args += ["-d", ",".join(detectors)]
    for flag, value in (
        ("-s", start),
        ("-e", end),
        ("--start-time-ctp", stack.get("trg_start_time_ms", "")),  # (emptied at each START: runvars)
        ("--end-time-ctp", stack.get("trg_end_time_ms", "")),
    ):
        if value:
            args += [flag, value]
    args += ["-f", ",".join(flp_ids(stack.get("hosts", "")))]
    if stack.get("original_run_number", "").strip():
        args += ["-o", stack["original_run_number"].strip()]
    return [*args, "--ccdb-server", server]


def run_command(command: str, timeout: float) -> Outcome:
    """``bash -c command`` in the temporary directory; its whole process group is killed at ``timeout``."""
    try:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=tempfile.gettempdir(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:  # no bash, no temporary directory: a failed upload like any other
        return Outcome(command, 127, f"cannot run bash: {exc.strerror}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return Outcome(command, None, output[-OUTPUT_LIMIT:])
    return Outcome(command, process.returncode, output[-OUTPUT_LIMIT:])


class CcdbCalls:
    """The functions of one call."""

    def __init__(self, plugin: CcdbPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    async def RunStart(self) -> str:
        run = self._plugin.run_of(self._call.var_stack)
        if run:
            self._plugin.remember(run, self._call.environment_id)
            await self._upload(run, refresh=True)
        return ""

    async def RunStop(self) -> str:
        stack = self._call.var_stack
        # once a run has ended (a START that failed ends in ERROR) its number is ``last_run_number``: the
        # DESTROY call still owes that run its final object
        run = self._plugin.run_of(stack) or self._plugin.run_of(stack, "last_run_number")
        if run and self._plugin.forget(run):
            await self._upload(run, refresh=False)
        return ""

    async def _upload(self, run: int, *, refresh: bool) -> None:
        call = self._call
        try:
            args = grp_arguments(call.var_stack, run, self._plugin.endpoint, refresh=refresh)
        except ValueError as exc:
            log.warning("ccdb: no GRP object for run %d: %s", run, exc)
            call_event(call, model.DONE_ERROR, error=f"no GRP object for run {run}: {exc}")
            return
        command = f"{self._plugin.command} {shlex.join(args)}"
        payload = {"runNumber": run, "command": command}
        call_event(call, model.STARTED, payload=payload)
        outcome = await offload(run_command, command, call_timeout(call, DEFAULT_TIMEOUT))
        if outcome.ok:
            call_event(call, model.DONE_OK, payload=payload)
            return
        status = "timed out" if outcome.status is None else f"exited with status {outcome.status}"
        error = f"GRP creation for run {run} {status}: {outcome.output.strip()}"
        log.warning("ccdb: %s (command: %s)", error, command)
        call_event(call, model.DONE_TIMEOUT if outcome.status is None else model.DONE_ERROR, error=error)


class CcdbPlugin(IntegrationPlugin):
    name = "ccdb"
    pretty_name = "CCDB (GRP objects)"
    endpoint_setting = "ccdbEndpoint"

    enabled_by_default = False

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint or DEFAULT_ENDPOINT)
        self._lock = threading.Lock()
        #: run -> its environment, while the run's final object is still to be made
        self._runs: dict[int, str] = {}

    @property
    def command(self) -> str:
        """The GRP-creation command the arguments are appended to (setting ``ccdbGrpCreateCommand``)."""
        return str(self.settings.get(COMMAND_SETTING) or DEFAULT_COMMAND)

    @staticmethod
    def run_of(stack: Mapping[str, str], key: str = "run_number") -> int:
        """The call's run number (``key``), 0 when it has none (no object is made for run 0)."""
        text = stack.get(key, "")
        return int(text) if text.isdigit() else 0

    def remember(self, run: int, environment_id: str) -> None:
        with self._lock:
            self._runs[run] = environment_id

    def forget(self, run: int) -> bool:
        """Whether ``run`` was remembered (its final object is still to be made); it is not any more."""
        with self._lock:
            return self._runs.pop(run, None) is not None

    def data(self) -> dict[str, str]:
        self._drop_orphans()
        with self._lock:
            runs = sorted(self._runs)
        return {"endpoint": self.endpoint, "command": self.command, "runsAwaitingFinalObject": json.dumps(runs)}

    def _drop_orphans(self) -> None:
        """Forget the runs whose environment is gone without a ``RunStop`` (its workflow has none at DESTROY):
        no call can make their final object any more, so they are not shown as owed forever."""
        if self.environments is None:
            return
        known = set(self.environments.environment_ids())
        with self._lock:
            orphans = {run: env for run, env in self._runs.items() if env not in known}
            for run in orphans:
                del self._runs[run]
        for run, env in orphans.items():
            log.warning(
                "ccdb: run %d gets no final GRP object: environment %s is gone without ccdb.RunStop()", run, env
            )

    def call_stack(self, call: Any) -> CcdbCalls:
        return CcdbCalls(self, call)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [CcdbPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.ccdb import MOCK

    return [MOCK]
