"""readout-dataflow of the corpus (v1.45.0) run twice through DCS, the trigger, Bookkeeping and the CCDB: the parts
that the local backend's test (test_readout_dataflow_services.py) and the Slurm one
(tests/slurm/test_readout_dataflow_slurm.py) share, so both run the same workflow and check the same records.

Two FLPs: flp001 of TPC, flp002 of ITS. The corpus's workflows are read in place; its tasks are stood in for by task
templates of the same names (the O2 binaries do not exist here): the OCC-controlled ones run the example OCC
process, the hooks ``true``. Each mock's record must hold the requests of each run, with its run number, detectors
and run type, in the order of the calls' triggers.
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from tests.conftest import CW_145, REPO_ROOT
from tests.e2e.conftest import Result, remember

from .mocks import COCONUT, MockProcess

OCC_PROCESS = REPO_ROOT / "examples" / "tasks" / "occ_dummy_process.py"
FLPS = {"flp001": "TPC", "flp002": "ITS"}
SITE = {
    "o2": {
        "runtime": {
            "aliecs": {"defaults": {"consul_endpoint": "localhost:8500", "modulepath": "", "infologger_mode": "stdout"}}
        },
        "hardware": {"detectors": {detector: {"flps": {flp: {}}} for flp, detector in FLPS.items()}},
    }
}
VARIABLES = {
    "hosts": json.dumps(list(FLPS), separators=(",", ":")),
    "dcs_enabled": "true",
    "trg_enabled": "true",
    "bookkeeping_enabled": "true",
    "ccdb_enabled": "true",
    "run_type": "PHYSICS",
    "lhc_period": "LHC26x",
}
RUNS = (1, 2)


class Runner(Protocol):
    """What the scenario needs of a coconut runner: tests/e2e's ``Coconut`` (local) or tests/slurm's ``SlurmCoconut``."""

    seen_pids: set[int]

    def __call__(self, *args: str, check: bool = True) -> Result: ...

    def tasks(self) -> list[dict]: ...

    def state(self, environment_id: str) -> str: ...


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


class Services:
    """The DCS, trigger and Bookkeeping mocks as processes (run under ``prefix``, e.g. ``nsenter --net=...`` to
    serve inside a network namespace) and where the CCDB's command mock records; a context manager."""

    def __init__(self, directory: Path, prefix: Sequence[str] = ()):
        self.dcs = MockProcess("dcs", directory, prefix=prefix)
        self.trg = MockProcess("trg", directory, prefix=prefix)
        self.bookkeeping = MockProcess("bookkeeping", directory, prefix=prefix)
        self.grp_record = directory / "ccdb-requests.jsonl"

    def core_settings(self) -> dict[str, Any]:
        """The core's ``core`` settings that enable the four services at the mocks' addresses."""
        return {
            "integrationPlugins": ["dcs", "trg", "bookkeeping", "ccdb", "testplugin"],
            "dcsServiceEndpoint": f"//{self.dcs.address}",
            "trgServiceEndpoint": f"//{self.trg.address}",
            "bookkeepingBaseUri": f"http://{self.bookkeeping.address}",
            "ccdbEndpoint": "http://ccdb.test:8080",
            "ccdbGrpCreateCommand": f"{shlex.quote(str(COCONUT))} mock ccdb --record {self.grp_record} --",
        }

    def grp_objects(self) -> list[dict[str, Any]]:
        """The GRP objects the CCDB's command mock was asked to create, in order."""
        return [yaml.safe_load(line) for line in self.grp_record.read_text().splitlines()]

    def __enter__(self) -> Services:
        started: list[MockProcess] = []
        try:
            for mock in (self.dcs, self.trg, self.bookkeeping):
                started.append(mock.start())
        except BaseException:
            for mock in started:
                mock.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for mock in (self.dcs, self.trg, self.bookkeeping):
            mock.stop()


@dataclass
class SeenWhileRunning:
    """What the core showed during run 1: GetIntegratedServices by name, the environment's ``integratedServicesData.trg``."""

    services: dict[str, Any]
    ctp_view: dict[str, Any]


def create(coconut: Runner, directory: Path, repo: Path) -> str:
    """``coconut config init`` with SITE, then readout-dataflow created with VARIABLES; its id (CONFIGURED)."""
    site = directory / "site.yaml"
    site.write_text(yaml.safe_dump(SITE))
    coconut("config", "init", str(site))
    extra = [f"-e{key}={value}" for key, value in VARIABLES.items()]
    created = coconut("env", "create", "-w", "readout-dataflow", "--repo", str(repo), *extra, "-o", "json")
    environment_id = created.json()["environment"]["id"]
    remember(coconut)
    assert coconut.state(environment_id) == "CONFIGURED"
    return environment_id


def run_twice(coconut: Runner, environment_id: str) -> SeenWhileRunning:
    """START → STOP twice, each transition checked; what the core showed of its services during run 1."""
    seen = None
    for _ in RUNS:
        coconut("env", "control", environment_id, "-e", "START")
        assert coconut.state(environment_id) == "RUNNING"
        if seen is None:
            services = coconut("info", "-o", "json").json()["services"]["services"]
            shown = coconut("env", "show", environment_id, "-s", "-o", "json").json()["environment"]
            seen = SeenWhileRunning(services, json.loads(shown["integratedServicesData"]["trg"]))
        coconut("env", "control", environment_id, "-e", "STOP")
        assert coconut.state(environment_id) == "CONFIGURED"
    assert seen is not None
    return seen


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


def check_records(mocks: Services, environment_id: str, seen: SeenWhileRunning) -> None:
    """The services' records of the two runs of ``environment_id``, and what the core showed during run 1."""
    dcs, trg, bk, grp = mocks.dcs, mocks.trg, mocks.bookkeeping, mocks.grp_objects()

    # what the core shows of its services, and of the environment's part of the CTP, while run 1 went on
    assert {seen.services[name]["connectionState"] for name in ("dcs", "trg", "bookkeeping")} == {"READY"}
    assert seen.services["ccdb"]["endpoint"] == "http://ccdb.test:8080"
    assert seen.ctp_view["runStarted"] == seen.ctp_view["runLoaded"] == 1  # (the CTP lists no run below 1000)

    # DCS: one PFR at CONFIGURE, then a SOR and an EOR per run, for both detectors
    pfr = requests(dcs, "PrepareForRun")
    sors, eors = requests(dcs, "StartOfRun"), requests(dcs, "EndOfRun")
    assert len(pfr) == 1 and [len(sors), len(eors)] == [2, 2]
    for request in (*pfr, *sors, *eors):
        assert sorted(d["detector"] for d in request["request"]["detectors"]) == ["ITS", "TPC"]
    assert [r["request"]["runNumber"] for r in sors] == [r["request"]["runNumber"] for r in eors] == list(RUNS)
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
    for index, run in enumerate(RUNS):
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
