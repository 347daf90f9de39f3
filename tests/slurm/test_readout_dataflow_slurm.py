"""readout-dataflow V_min across the two FLP nodes of the real Slurm cluster, through DCS, the trigger, Bookkeeping
and the CCDB (issue 17): the run that tests/integrations/test_readout_dataflow_services.py does on the local backend,
with the same scenario and record checks (tests/integrations/readout_dataflow.py). The mocks serve inside the
cluster's network namespace, where the core and its agents are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import alive
from tests.integrations.readout_dataflow import FLPS, Services, check_records, create, run_twice, stand_in_repository
from tests.slurm.conftest import SlurmCoconut
from tests.waiting import eventually

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def role_paths(coconut: SlurmCoconut, environment_id: str) -> dict[str, str]:
    """Task id -> the full path of its role, from the environment's role tree."""
    paths: dict[str, str] = {}
    pending = [coconut("env", "show", environment_id, "-w", "-o", "json").json()["workflow"]]
    while pending:
        role = pending.pop()
        paths.update(dict.fromkeys(role.get("taskIds", []), role["fullPath"]))
        pending += role.get("roles", [])
    return paths


def parent_pid(pid: int) -> int | None:
    """The parent of a process, None once it has ended (a basic task's ``true`` may end between list and look)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def slurm_job_of(pid: int) -> str:
    """The Slurm job a process runs in (its SLURM_JOB_ID)."""
    variables = dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v)
    return variables.get("SLURM_JOB_ID", "")


def test_readout_dataflow_runs_on_two_slurm_flps_through_the_services_and_destroy_leaves_nothing(cluster, tmp_path):
    repo = stand_in_repository(tmp_path / "repo")
    with Services(tmp_path, prefix=cluster.enter()) as services:
        coconut = SlurmCoconut(cluster, tmp_path / "core", core=services.core_settings())
        try:
            environment_id = create(coconut, tmp_path, repo)

            # each FLP's roles (host-flp00N, constrained to machine_id=flp00N) run on that Slurm node, as children
            # of the node's agent, which runs in the agent job squeue lists for the node
            tasks = {t["taskId"]: t for t in coconut.tasks()}
            paths = role_paths(coconut, environment_id)
            assert set(paths) == set(tasks)
            jobs = coconut.agent_jobs()
            assert set(jobs) == set(FLPS)
            agents = {node: coconut.agent_pid(node) for node in FLPS}
            for node, agent in agents.items():
                assert slurm_job_of(agent) == jobs[node], f"the agent of {node} runs in its job {jobs[node]}"
            for task_id, task in tasks.items():
                node = task["deploymentInfo"]["hostname"]
                assert f".host-{node}." in paths[task_id], (paths[task_id], node)
                if task["pid"]:
                    assert parent_pid(int(task["pid"])) in (agents[node], None), (paths[task_id], node)
            for node in FLPS:
                assert f"readout-dataflow.host-{node}.readout" in {paths[i] for i, t in tasks.items() if t["pid"]}

            seen = run_twice(coconut, environment_id)
            coconut("env", "destroy", environment_id)
            assert not [pid for pid in coconut.seen_pids if alive(pid)], "task processes left after destroy"
            eventually(lambda: not coconut.agent_jobs(), timeout=30, what="the agent jobs ended after destroy")
            eventually(lambda: not [p for p in agents.values() if alive(p)], timeout=15, what="the agents gone")
        finally:
            coconut("core", "stop", "--force", check=False)
    check_records(services, environment_id, seen)
