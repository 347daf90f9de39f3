"""The example ``integrated-demo`` through a real core, as docs/integrations.md ("The integrated demo") runs it: every
service a mock in a process of its own (the CCDB's command the ccdb mock, the LHC a runtime entry), create →
START → STOP → destroy, and each mock saw its calls with the run's number."""

from __future__ import annotations

import shlex

import pytest
import yaml

from tests.e2e.conftest import Coconut, alive, read_pidfile, remember

from .mocks import COCONUT, MockProcess

pytestmark = pytest.mark.slow

SERVICES = ("dcs", "trg", "bookkeeping", "odc", "ddsched")


def test_the_integrated_demo_runs_against_the_mocks(tmp_path):
    grp_record = tmp_path / "ccdb-requests.jsonl"
    mocks = {name: MockProcess(name, tmp_path) for name in SERVICES}
    try:
        for mock in mocks.values():
            mock.start()
        settings = {
            "integrationPlugins": ["dcs", "trg", "bookkeeping", "ccdb", "odc", "ddsched", "lhc"],
            "dcsServiceEndpoint": f"//{mocks['dcs'].address}",
            "trgServiceEndpoint": f"//{mocks['trg'].address}",
            "bookkeepingBaseUri": f"http://{mocks['bookkeeping'].address}",
            "odcEndpoint": mocks["odc"].address,
            "ddSchedulerEndpoint": mocks["ddsched"].address,
            "ccdbGrpCreateCommand": f"{shlex.quote(str(COCONUT))} mock ccdb --record {grp_record} --",
            "lhcEndpoint": "runtime://lhc/beam_mode",
        }
        coconut = Coconut(tmp_path / "site", {"core": settings})
        coconut.seen_pids = set()
        try:
            coconut("config", "runtime", "set", "lhc", "beam_mode", "STABLE_BEAMS")
            created = coconut("env", "create", "-w", "integrated-demo", "-o", "json").json()["environment"]
            environment_id = created["id"]
            remember(coconut)
            assert coconut.state(environment_id) == "CONFIGURED"
            coconut("env", "control", environment_id, "-e", "START")
            assert coconut.state(environment_id) == "RUNNING"
            shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
            run = int(shown["currentRunNumber"])
            variables = str(shown)
            coconut("env", "control", environment_id, "-e", "STOP")
            assert coconut.state(environment_id) == "CONFIGURED"
            coconut("env", "destroy", environment_id)
        finally:
            if read_pidfile(coconut.state_dir) is not None:
                coconut("core", "stop", "--force")
        assert not [pid for pid in coconut.seen_pids if alive(pid)]
    finally:
        for mock in mocks.values():
            mock.stop()
    seen = {name: mock.operations() for name, mock in mocks.items()}
    assert {"PrepareForRun", "StartOfRun", "EndOfRun"} <= set(seen["dcs"])
    assert [op for op in seen["trg"] if op != "RunList"] == ["RunLoad", "RunStart", "RunStop", "RunUnload"]
    assert {"PartitionInitialize", "PartitionTerminate"} <= set(seen["ddsched"])
    assert {"Run", "Configure", "Start", "Stop", "Reset", "Terminate", "Shutdown"} <= set(seen["odc"])
    assert len(seen["bookkeeping"]) >= 5  # environment created and updated, run created, started and ended
    runs = [r["request"].get("runNumber") or r["request"].get("runn") for r in mocks["dcs"].records()]
    assert run in runs
    objects = [yaml.safe_load(line)["request"] for line in grp_record.read_text().splitlines()]
    assert [(o["run"], o["refresh"]) for o in objects] == [(run, True), (run, False)]
    assert "STABLE_BEAMS" in variables  # fill_info_beam_mode: lhc.UpdateFillInfo() read the runtime entry
