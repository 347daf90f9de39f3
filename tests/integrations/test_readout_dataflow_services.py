"""Issue 14's acceptance: readout-dataflow of the corpus (v1.45.0) through a real core with DCS, the trigger,
Bookkeeping and the CCDB enabled, each service a mock in a process of its own.

Two FLPs on the local backend's virtual nodes: flp001 of TPC, flp002 of ITS. The corpus's workflows are read in
place; its tasks are stood in for by task templates of the same names (the O2 binaries do not exist here): the
OCC-controlled ones run the example OCC process, the hooks ``true``. create → START → STOP → START → STOP →
destroy; each mock's record must hold the requests of each run, with its run number, detectors and run type, in
the order of the calls' triggers.
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import CW_145, REPO_ROOT
from tests.e2e.conftest import Coconut, alive, read_pidfile, remember

from .mocks import COCONUT, MockProcess

pytestmark = [pytest.mark.shared, pytest.mark.slow]

OCC_PROCESS = REPO_ROOT / "examples" / "tasks" / "occ_dummy_process.py"
SITE = {
    "o2": {
        "runtime": {
            "aliecs": {"defaults": {"consul_endpoint": "localhost:8500", "modulepath": "", "infologger_mode": "stdout"}}
        },
        "hardware": {"detectors": {"TPC": {"flps": {"flp001": {}}}, "ITS": {"flps": {"flp002": {}}}}},
    }
}
VARIABLES = {
    "hosts": '["flp001","flp002"]',
    "dcs_enabled": "true",
    "trg_enabled": "true",
    "bookkeeping_enabled": "true",
    "ccdb_enabled": "true",
    "run_type": "PHYSICS",
    "lhc_period": "LHC26x",
}


def stand_in_repository(root: Path) -> Path:
    """The corpus's workflows and JIT files (links to them), and tasks of the corpus's names run by stand-ins."""
    root.mkdir()
    (root / "workflows").symlink_to(CW_145 / "workflows")
    (root / "jit").symlink_to(CW_145 / "jit")
    (root / "tasks").mkdir()
    for corpus_task in sorted((CW_145 / "tasks").glob("*.yaml")):
        real = yaml.safe_load(corpus_task.read_text())
        if real["control"]["mode"] == "basic":
            task = {"name": real["name"], "control": {"mode": "basic"}, "command": {"shell": True, "value": "true"}}
        else:
            command = {"shell": False, "stdout": "stdout", "stderr": "all", "value": sys.executable}
            task = {
                "name": real["name"],
                "control": {"mode": "direct"},
                "command": {**command, "arguments": [str(OCC_PROCESS)]},
            }
            binds = [{"name": b["name"], "type": b["type"]} for b in real.get("bind") or []]
            if binds:
                task["bind"] = binds
        (root / "tasks" / corpus_task.name).write_text(yaml.safe_dump(task))
    return root


def requests(mock: MockProcess, *operations: str) -> list[dict]:
    return [r for r in mock.records() if r["operation"] in operations]


def in_order(*groups: list[dict]) -> None:
    """Every record of each group came no later than every record of the next (the calls' trigger order)."""
    for earlier, later in itertools.pairwise(groups):
        assert earlier and later, f"an empty group among {[[r['operation'] for r in g] for g in groups]}"
        assert max(r["time_ms"] for r in earlier) <= min(r["time_ms"] for r in later), (
            [(r["operation"], r["time_ms"]) for r in earlier],
            [(r["operation"], r["time_ms"]) for r in later],
        )


def while_running(coconut: Coconut, environment_id: str) -> tuple[dict, dict]:
    """GetIntegratedServices by name, and the environment's ``integratedServicesData.trg``."""
    services = coconut("info", "-o", "json").json()["services"]["services"]
    shown = coconut("env", "show", environment_id, "-s", "-o", "json").json()["environment"]
    return services, json.loads(shown["integratedServicesData"]["trg"])


def test_readout_dataflow_runs_twice_through_dcs_trg_bookkeeping_and_ccdb(tmp_path):
    repo = stand_in_repository(tmp_path / "repo")
    grp_record = tmp_path / "ccdb-requests.jsonl"
    with (
        MockProcess("dcs", tmp_path) as dcs,
        MockProcess("trg", tmp_path) as trg,
        MockProcess("bookkeeping", tmp_path) as bk,
    ):
        core = {
            "nodes": ["flp001", "flp002"],
            "integrationPlugins": ["dcs", "trg", "bookkeeping", "ccdb", "testplugin"],
            "dcsServiceEndpoint": f"//{dcs.address}",
            "trgServiceEndpoint": f"//{trg.address}",
            "bookkeepingBaseUri": f"http://{bk.address}",
            "ccdbEndpoint": "http://ccdb.test:8080",
            "ccdbGrpCreateCommand": f"{shlex.quote(str(COCONUT))} mock ccdb --record {grp_record} --",
        }
        coconut = Coconut(tmp_path / "site", {"core": core})
        coconut.seen_pids = set()
        site = tmp_path / "site.yaml"
        site.write_text(yaml.safe_dump(SITE))
        try:
            coconut("config", "init", str(site))
            extra = [f"-e{key}={value}" for key, value in VARIABLES.items()]
            created = coconut("env", "create", "-w", "readout-dataflow", "--repo", str(repo), *extra, "-o", "json")
            environment_id = created.json()["environment"]["id"]
            remember(coconut)
            assert coconut.state(environment_id) == "CONFIGURED"
            for run in (1, 2):
                coconut("env", "control", environment_id, "-e", "START")
                assert coconut.state(environment_id) == "RUNNING"
                if run == 1:
                    services, ctp_view = while_running(coconut, environment_id)
                coconut("env", "control", environment_id, "-e", "STOP")
                assert coconut.state(environment_id) == "CONFIGURED"
            coconut("env", "destroy", environment_id)
        finally:
            if read_pidfile(coconut.state_dir) is not None:
                coconut("core", "stop", "--force")
        leftovers = [pid for pid in coconut.seen_pids if alive(pid)]
        assert not leftovers, f"task processes left behind: {leftovers}"
        grp = [yaml.safe_load(line) for line in grp_record.read_text().splitlines()]

    # what the core shows of its services, and of the environment's part of the CTP, while run 1 went on
    assert {services[name]["connectionState"] for name in ("dcs", "trg", "bookkeeping")} == {"READY"}
    assert services["ccdb"]["endpoint"] == "http://ccdb.test:8080"
    assert ctp_view["runStarted"] == ctp_view["runLoaded"] == 1  # (the CTP lists no run below 1000)

    # DCS: one PFR at CONFIGURE, then a SOR and an EOR per run, for both detectors
    pfr = requests(dcs, "PrepareForRun")
    sors, eors = requests(dcs, "StartOfRun"), requests(dcs, "EndOfRun")
    assert len(pfr) == 1 and [len(sors), len(eors)] == [2, 2]
    for request in (*pfr, *sors, *eors):
        assert sorted(d["detector"] for d in request["request"]["detectors"]) == ["ITS", "TPC"]
    assert [r["request"]["runNumber"] for r in sors] == [r["request"]["runNumber"] for r in eors] == [1, 2]
    assert pfr[0]["request"]["runType"] == sors[0]["request"]["runType"] == "PHYSICS"

    # TRG: a global run (two detectors): prepared (TPC is in), loaded, started, stopped, unloaded, twice
    ctp = [r for r in trg.records() if r["operation"] != "RunList"]
    assert [r["operation"] for r in ctp] == ["PrepareForRun", "RunLoad", "RunStart", "RunStop", "RunUnload"] * 2
    assert [r["request"].get("runn") for r in ctp] == [None, 1, 1, 1, 1, None, 2, 2, 2, 2]
    assert {r["request"]["detectors"] for r in ctp if "detectors" in r["request"]} == {"its tpc"}
    assert ctp[0]["request"]["runtype"] == "PHYSICS"

    # Bookkeeping (v1.45's legacy calls): the environment, then per run its creation, fill, start and stop
    runs_bk = requests(bk, "RunService.Create", "RunService.Get", "RunService.Update")
    assert [(r["operation"], r["request"]["runNumber"]) for r in runs_bk] == [
        *(("RunService.Create", 1), ("RunService.Get", 1), ("RunService.Update", 1), ("RunService.Update", 1)),
        *(("RunService.Create", 2), ("RunService.Get", 2), ("RunService.Update", 2), ("RunService.Update", 2)),
    ]
    created_runs = requests(bk, "RunService.Create")
    assert all(r["request"]["detectors"] == ["DETECTOR_ITS", "DETECTOR_TPC"] for r in created_runs)
    assert all(r["request"]["runType"] == "RUN_TYPE_PHYSICS" and r["request"]["dcs"] for r in created_runs)
    start_updates = [r for r in requests(bk, "RunService.Update") if "timeO2Start" in r["request"]]
    assert [r["request"]["triggerValue"] for r in start_updates] == ["CTP", "CTP"]
    envs = requests(bk, "EnvironmentService.Create", "EnvironmentService.Update")
    assert envs[0]["operation"] == "EnvironmentService.Create" and envs[0]["request"]["id"] == environment_id

    # CCDB: per run an object at START (refresh) and one at STOP, with the trigger's times
    assert [(r["request"]["run"], r["request"]["refresh"]) for r in grp] == [
        (1, True),
        (1, False),
        (2, True),
        (2, False),
    ]
    assert all(r["request"]["detectors"] == ["ITS", "TPC"] and r["request"]["run_type"] == 1 for r in grp)
    final = grp[1]["request"]
    assert (
        final["start_ctp"] == int(start_updates[0]["request"]["timeTrgStart"])
        and final["end_ctp"] >= final["start_ctp"]
    )

    # the moments: each run's calls in the order of their triggers
    for index, run in enumerate((1, 2)):
        in_order(
            [r for r in ctp if r["operation"] == "PrepareForRun"][index : index + 1],  # before_START-200
            [r for r in ctp if r["operation"] == "RunLoad" and r["request"]["runn"] == run]  # before_START+10
            + [r for r in requests(bk, "RunService.Create") if r["request"]["runNumber"] == run],
            [r for r in runs_bk if r["operation"] == "RunService.Get" and r["request"]["runNumber"] == run],  # +11
            [sors[index]],  # before_START+100 (with the CCDB's first object)
            [r for r in ctp if r["operation"] == "RunStart" and r["request"]["runn"] == run],  # after_START-10
            [start_updates[index]],  # after_START+100
            [r for r in ctp if r["operation"] == "RunStop" and r["request"]["runn"] == run],  # before_STOP
            [r for r in ctp if r["operation"] == "RunUnload" and r["request"]["runn"] == run],  # after_STOP-100
            [eors[index]],  # after_STOP-50
            [grp[2 * index + 1]],  # after_STOP
        )
