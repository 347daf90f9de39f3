"""Agent jobs' allocations on a real Slurm cluster: one job per node for a create with a hook before DEPLOY, what
a restarted core counts as taken, and a second agent job on a node for a second environment's tasks."""

from __future__ import annotations

import json
import math
import os
import re
import signal
from pathlib import Path

import pytest

from ecs_engine.server.core import LOGFILE, read_pidfile
from tests.e2e.conftest import core_gone
from tests.slurm.conftest import _core_prefix
from tests.slurm.test_slurm import HOSTS, class_wants, create, examples_repo
from tests.waiting import eventually

pytestmark = pytest.mark.slow

EXAMPLE_CLASSES = ("demo-producer", "demo-consumer", "demo-monitor", "demo-shell")


def submitted(coconut) -> list[tuple[str, str]]:
    """(node, job id) of every agent job this core submitted, from its log."""
    text = (coconut.state_dir / LOGFILE).read_text()
    return re.findall(r"submitted an agent of node (\S+) as job (\d+)", text)


def agent_jobs(coconut) -> dict[str, str]:
    """Every live agent job of this core: job id -> node (several jobs may share a node)."""
    data = json.loads(coconut.cluster.run("squeue", "--json").stdout)
    prefix = _core_prefix(coconut)
    return {
        str(j["job_id"]): j["name"][len(prefix) :]
        for j in data["jobs"]
        if j["name"].startswith(prefix) and j["job_state"] not in ("COMPLETED", "CANCELLED", "FAILED")
    }


def job_fields(coconut, job_id: str) -> dict[str, str]:
    shown = coconut.cluster.run("scontrol", "show", "job", "-o", job_id).stdout
    return dict(f.split("=", 1) for f in shown.split() if "=" in f)


def slurm_job_of(pid: int) -> str:
    """The Slurm job a process runs in (its agent's SLURM_JOB_ID, which the agent's children inherit)."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in entries if b"=" in e).get("SLURM_JOB_ID", "")


def restart_core(coconut) -> None:
    """SIGKILL the core, then start it again (any command does) and wait until it re-attached its tasks."""
    before = {t["taskId"]: t["pid"] for t in coconut.tasks()}
    old_core = int(read_pidfile(coconut.state_dir)["pid"])
    os.kill(old_core, signal.SIGKILL)
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")
    eventually(
        lambda: {t["taskId"]: t["pid"] for t in coconut.tasks()} == before,
        what=f"the same task processes as before the restart ({before})",
    )


def test_a_create_with_a_before_deploy_hook_submits_one_agent_job_per_node(coconut):
    # dataflow-demo's shm-cleanup hook runs before DEPLOY, before the other tasks are deployed
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    jobs = submitted(coconut)
    assert sorted(node for node, _ in jobs) == ["flp001", "flp002"], jobs
    assert {node: job for node, job in jobs} == coconut.agent_jobs()  # the very jobs that serve the environment
    for node, job in jobs:  # sized for everything on its node, the hook included
        wants = [class_wants(t["className"]) for t in coconut.tasks() if t["deploymentInfo"]["hostname"] == node]
        assert job_fields(coconut, job)["MinMemoryNode"] == f"{math.ceil(sum(m for _, m in wants))}M"
    coconut("env", "destroy", environment_id)


def test_a_restarted_core_refuses_what_the_first_one_refused(coconut, tmp_path):
    # flp001 has 2000 MB: a second dataflow-demo whose producer wants 1200 MB does not fit beside the first
    coconut("repo", "add", examples_repo(tmp_path, **{"demo-producer": {"memory": 1200}}))
    first = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp001"]')

    def refusal() -> str:
        failed = coconut("env", "create", "-w", "dataflow-demo", "-e", 'hosts=["flp001"]', check=False)
        assert failed.status != 0 and "Traceback" not in failed.err
        return re.search(r"wants \d+ MB of memory \(wants\.memory\): no Slurm node .*? taken\)", failed.err).group(0)

    before = refusal()
    assert "flp001: 1 CPU(s), 2000 MB, of which" in before
    # (the refused create's other tasks were launched in an agent job of their own, then killed: it is let go)
    eventually(lambda: len(agent_jobs(coconut)) == 1, what="only the first environment's agent job left")
    restart_core(coconut)
    assert refusal() == before  # the same wants counted on flp001: its running tasks' and its agent job's
    coconut("env", "destroy", first)


def test_a_second_environment_on_a_node_gets_an_agent_job_of_its_own_sized_by_its_wants(coconut, tmp_path):
    # no CPU wants: each node has 1 CPU, which one agent job asking for CPUs would hold whole
    coconut("repo", "add", examples_repo(tmp_path, **{name: {"cpu": 0} for name in EXAMPLE_CLASSES}))
    first = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp001"]')
    (first_job,) = coconut.agent_jobs().values()
    first_tasks = {t["taskId"]: t for t in coconut.tasks()}
    second = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp001"]')
    jobs = agent_jobs(coconut)
    assert sorted(jobs.values()) == ["flp001", "flp001"], jobs
    (second_job,) = set(jobs) - {first_job}
    second_tasks = [t for t in coconut.tasks() if t["taskId"] not in first_tasks]
    wants = [class_wants(t["className"]) for t in second_tasks]
    assert job_fields(coconut, second_job)["MinMemoryNode"] == f"{math.ceil(sum(m for _, m in wants))}M"
    # the second environment's tasks run in its job (its hook, run before, found room in the first's)
    second_pids = [int(t["pid"]) for t in second_tasks if t.get("pid")]
    assert second_pids and {slurm_job_of(p) for p in second_pids} == {second_job}
    assert {slurm_job_of(int(t["pid"])) for t in first_tasks.values() if t.get("pid")} == {first_job}
    restart_core(coconut)  # both jobs are found again
    for environment_id in (first, second):
        assert coconut("env", "control", environment_id, "-e", "START", "-o", "json").json()["state"] == "RUNNING"
    assert set(agent_jobs(coconut)) == {first_job, second_job}
    for environment_id in (first, second):
        coconut("env", "destroy", environment_id, "--allow-in-running-state")
    eventually(lambda: not agent_jobs(coconut), timeout=30, what="both agent jobs cancelled")
