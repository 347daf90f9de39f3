"""Acceptance of the dcs plugin: environments of real processes (the example producer and consumer over OCC, on two
virtual nodes) driven through a real core with coconut, the DCS mock a process of its own, and the DCS calls of
readout-dataflow (same functions, triggers, awaits and criticality) in a workflow of the test's own."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from ecs_engine.server.core import read_pidfile
from tests.e2e.conftest import Coconut, alive, core_gone, remember, write_example_tasks
from tests.waiting import eventually

from .mocks import MockProcess, reserved_port

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: dcs-run
defaults:
  detectors: '["TPC","ITS"]'
  run_type: PHYSICS
  dcs_enabled: "true"
  dcs_pfr_timeout: 10s
  dcs_pfr_grace_period: 0s
  dcs_sor_timeout: 10s
  dcs_sor_grace_period: 0s
  dcs_eor_timeout: 10s
  dcs_cleanup_timeout: 10s
roles:
  - name: producer
    constraints: [{attribute: machine_id, value: flp001}]
    task: {load: producer}
  - name: consumer
    constraints: [{attribute: machine_id, value: flp002}]
    connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
    task: {load: consumer}
  - name: dcs
    enabled: "{{dcs_enabled == 'true'}}"
    defaults:
      dcs_detectors: "{{ detectors }}"
      dcs_sor_parameters: "{}"
      dcs_eor_parameters: "{}"
    roles:
      - name: pfr
        call: {func: dcs.PrepareForRun(), trigger: before_CONFIGURE, await: after_CONFIGURE-1,
               timeout: "{{ dcs_pfr_timeout }}", critical: false}
      - name: sor
        call: {func: dcs.StartOfRun(), trigger: before_START_ACTIVITY+100, timeout: "{{ dcs_sor_timeout }}",
               critical: true}
      - name: eor
        call: {func: dcs.EndOfRun(), trigger: after_STOP_ACTIVITY-50, timeout: "{{ dcs_eor_timeout }}",
               critical: true}
      - name: error-cleanup
        call: {func: dcs.Cleanup(), trigger: after_GO_ERROR-1, timeout: "{{ dcs_cleanup_timeout }}",
               critical: false}
      - name: destroy-cleanup
        call: {func: dcs.Cleanup(), trigger: DESTROY, timeout: "{{ dcs_cleanup_timeout }}", critical: false}
"""


@pytest.fixture
def dcs_repo(tmp_path: Path) -> Path:
    root = tmp_path / "dcs-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    write_example_tasks(root)
    (root / "workflows" / "dcs-run.yaml").write_text(WORKFLOW)
    return root


class Site:
    """A core whose settings enable the dcs plugin against ``mock``, and the DCS mock itself."""

    def __init__(self, tmp_path: Path, mock: MockProcess, *, in_store: bool = False):
        plugin_settings = {"integrationPlugins": ["dcs"], "dcsServiceEndpoint": f"//{mock.address}"}
        core = {"nodes": ["flp001", "flp002"], **({} if in_store else plugin_settings)}
        self.coconut = Coconut(tmp_path / "site", {"core": core})
        self.coconut.seen_pids = set()
        if in_store:  # as upstream: the core settings of the configuration store
            settings = tmp_path / "aliecs-settings.yaml"
            settings.write_text("".join(f"{key}: {value}\n" for key, value in plugin_settings.items()))
            self.coconut("config", "import", "-n", "aliecs/ANY/any/settings", str(settings))
        self.mock = mock

    def create(self, repo: Path, *variables: str, check: bool = True) -> str:
        args = [f"-e{v}" for v in variables]
        result = self.coconut("env", "create", "-w", "dcs-run", "--repo", str(repo), *args, "-o", "json", check=check)
        environment_id = result.json()["environment"]["id"]
        remember(self.coconut)
        return environment_id

    def close(self) -> None:
        if read_pidfile(self.coconut.state_dir) is not None:
            self.coconut("core", "stop", "--force")
        leftovers = [pid for pid in self.coconut.seen_pids if alive(pid)]
        assert not leftovers, f"task processes left behind: {leftovers}"

    def sent(self, operation: str) -> list[dict]:
        return [r["request"] for r in self.mock.records() if r["operation"] == operation]


@pytest.fixture
def site_factory(tmp_path: Path):
    sites: list[Site] = []
    mocks: list[MockProcess] = []

    def make(script: dict | None = None, *, in_store: bool = False, port: int = 0) -> Site:
        mock = MockProcess("dcs", tmp_path, script=script, port=port).start()
        mocks.append(mock)
        site = Site(tmp_path, mock, in_store=in_store)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.close()
    for mock in mocks:
        mock.stop()


def in_error(coconut: Coconut, environment_id: str) -> bool:
    """In ERROR and done with GO_ERROR (its after_GO_ERROR calls included): what destroy waits for."""
    shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
    return shown["state"] == "ERROR" and not shown.get("currentTransition")


def detectors(request: dict) -> list[str]:
    return [d["detector"] for d in request["detectors"]]


def test_two_runs_tell_dcs_pfr_sor_and_eor_and_a_detector_not_ready_for_pfr_is_only_left_out(dcs_repo, site_factory):
    site = site_factory({"detectors": {"ITS": {"pfr": "PFR_UNAVAILABLE"}}}, in_store=True)
    coconut = site.coconut
    environment_id = site.create(dcs_repo)
    assert coconut.state(environment_id) == "CONFIGURED"  # PFR is not critical, and it did TPC
    (pfr,) = site.sent("PrepareForRun")
    assert detectors(pfr) == ["TPC"] and pfr["partitionId"] == environment_id and pfr["runType"] == "PHYSICS"
    runs = []
    for _ in range(2):
        coconut("env", "control", environment_id, "-e", "START")
        run = int(coconut("env", "show", environment_id, "-o", "json").json()["environment"]["currentRunNumber"])
        runs.append(run)
        assert site.sent("StartOfRun")[-1]["runNumber"] == run  # before RUNNING: the call is at before_START
        shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
        assert json.loads(shown["integratedServicesData"]["dcs"])["SorSuccessful"] is True
        coconut("env", "control", environment_id, "-e", "STOP")
        assert site.sent("EndOfRun")[-1]["runNumber"] == run
    services = coconut("info", "-o", "json").json()["services"]["services"]
    assert services["dcs"]["connectionState"] == "READY"
    coconut("env", "destroy", environment_id)
    assert site.mock.operations() == [
        "Subscribe",
        "PrepareForRun",
        "StartOfRun",
        "EndOfRun",
        "StartOfRun",
        "EndOfRun",
    ]  # nothing owed at DESTROY
    sor = site.sent("StartOfRun")
    assert [detectors(r) for r in sor] == [["ITS", "TPC"], ["ITS", "TPC"]]  # SOR does ITS
    assert [r["runNumber"] for r in sor] == runs and runs[1] > runs[0]
    # what the GUI keeps of DCS events: those of the role readout-dataflow.dcs.sor with a dcsEvent
    journal = coconut("events", "query", "--env", environment_id, "--kind", "integratedService", "-o", "json").out
    events = [entry["event"]["integratedServiceEvent"] for entry in json.loads(journal)]
    sor_events = [e for e in events if e["name"] == "dcs-run.dcs.sor" and "dcsEvent" in e.get("payload", "")]
    assert {e["operationName"] for e in sor_events} == {"dcs.StartOfRun()"}
    assert {json.loads(e["payload"])["detector"] for e in sor_events} == {"ITS", "TPC"}


def test_a_failed_sor_fails_start_and_the_owed_eor_is_sent_at_go_error(dcs_repo, site_factory):
    site = site_factory({"detectors": {"TPC": {"StartOfRun": "50:SOR_PROGRESSING,50:SOR_FAILURE"}}})
    environment_id = site.create(dcs_repo)
    start = site.coconut("env", "control", environment_id, "-e", "START", check=False)
    assert start.status != 0
    assert "TPC (SOR_FAILURE)" in start.err
    eventually(lambda: in_error(site.coconut, environment_id), what="environment in ERROR, its transition over")
    (sor,) = site.sent("StartOfRun")
    eor = site.mock.wait_for(lambda r: r["operation"] == "EndOfRun")["request"]  # the error cleanup sent it
    assert eor["runNumber"] == sor["runNumber"] and detectors(eor) == ["ITS", "TPC"]
    site.coconut("env", "destroy", environment_id)
    assert len(site.sent("EndOfRun")) == 1  # once and only once


def test_a_sor_with_a_detector_not_ready_fails_start_without_asking_dcs(dcs_repo, site_factory):
    site = site_factory({"detectors": {"TPC": {"sor": "SOR_UNAVAILABLE"}}})
    environment_id = site.create(dcs_repo, "dcs_sor_grace_period=1s")
    start = site.coconut("env", "control", environment_id, "-e", "START", check=False)
    assert start.status != 0
    assert "detectors not ready for SOR: TPC (SOR_UNAVAILABLE)" in start.err
    eventually(lambda: in_error(site.coconut, environment_id), what="environment in ERROR, its transition over")
    site.coconut("env", "destroy", environment_id)
    assert site.sent("StartOfRun") == [] and site.sent("EndOfRun") == []


def test_a_failed_eor_fails_stop_and_the_environment_goes_to_error(dcs_repo, site_factory):
    site = site_factory({"operations": {"EndOfRun": {"fail": "INTERNAL: EOR refused by the mock"}}})
    environment_id = site.create(dcs_repo)
    site.coconut("env", "control", environment_id, "-e", "START")
    stop = site.coconut("env", "control", environment_id, "-e", "STOP", check=False)
    assert stop.status != 0
    assert "EOR refused by the mock" in stop.err
    eventually(lambda: in_error(site.coconut, environment_id), what="environment in ERROR, its transition over")
    site.coconut("env", "destroy", environment_id)
    assert len(site.sent("EndOfRun")) == 1  # DCS had it: the cleanups do not send it again


def test_a_dcs_that_dies_mid_run_shows_in_the_core_and_is_used_again_once_back(dcs_repo, tmp_path, site_factory):
    site = site_factory(port=reserved_port())  # it comes back on the same port
    environment_id = site.create(dcs_repo)
    site.coconut("env", "control", environment_id, "-e", "START")

    def dcs_state() -> str:
        return site.coconut("info", "-o", "json").json()["services"]["services"]["dcs"]["connectionState"]

    site.mock.kill()
    eventually(lambda: dcs_state() != "READY", what="the core saw DCS go")
    (tmp_path / "back").mkdir()
    with MockProcess("dcs", tmp_path / "back", port=site.mock.port) as back:
        back.wait_for(lambda r: r["operation"] == "Subscribe", timeout=30.0)  # subscribed again by itself
        eventually(lambda: dcs_state() == "READY", what="the core connected again")
        site.coconut("env", "control", environment_id, "-e", "STOP")
        assert back.operations() == ["Subscribe", "EndOfRun"]
        site.coconut("env", "destroy", environment_id)


def test_an_eor_owed_when_the_core_dies_is_sent_by_the_next_core(dcs_repo, site_factory):
    site = site_factory()
    coconut = site.coconut
    environment_id = site.create(dcs_repo)
    coconut("env", "control", environment_id, "-e", "START")
    (sor,) = site.sent("StartOfRun")
    old_core = coconut.core_pid()
    os.kill(old_core, signal.SIGKILL)  # the EOR is owed, and only the plugin's state directory knows it
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")
    tasks = remember(coconut)  # a new core, which re-attaches the tasks
    assert coconut.core_pid() != old_core
    (producer,) = [t for t in tasks if t["className"].split("/")[-1].startswith("producer")]
    os.kill(int(producer["pid"]), signal.SIGKILL)  # a critical task dies: GO_ERROR, whose cleanup owes DCS an EOR
    eor = site.mock.wait_for(lambda r: r["operation"] == "EndOfRun", timeout=30.0)["request"]
    assert eor["runNumber"] == sor["runNumber"]
    eventually(lambda: in_error(coconut, environment_id), what="environment in ERROR, its transition over")
    coconut("env", "destroy", environment_id)
    assert len(site.sent("EndOfRun")) == 1
