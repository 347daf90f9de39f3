"""Slurm confines an agent's tasks to the agent job's allocation: its CPUs and its ``--mem``."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from tests.servers import in_ci
from tests.slurm.test_slurm import create

pytestmark = pytest.mark.slow

#: the hook at START: it writes the CPUs it may run on, its cgroups and its cpuset's CPUs (where any program looks
#: for them) to argv[1], then takes argv[2] MB of memory
PROBE = """\
import json, os, sys
cgroups = dict(line.split(":")[1:] for line in open("/proc/self/cgroup").read().splitlines())
seen = {
    "cpus": sorted(os.sched_getaffinity(0)),
    "cpuset": cgroups["cpuset"],
    "cpuset.cpus": open(f"/sys/fs/cgroup/cpuset{cgroups['cpuset']}/cpuset.cpus").read().strip(),
}
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
hog = bytearray(int(sys.argv[2]) * 2**20)
"""


@pytest.fixture(autouse=True)
def confined(cluster):
    if cluster.unconfined:
        reason = f"the Slurm test cluster does not confine jobs here: {cluster.unconfined}"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def limits(tmp_path):
    """A workflow on flp001: a task that holds 1 CPU and 300 MB (its agent job's size), and a probe hook at START."""
    root = tmp_path / "limits-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    (tmp_path / "probe.py").write_text(PROBE)
    (root / "tasks" / "holder.yaml").write_text(
        "name: holder\ncontrol: {mode: direct}\nwants: {cpu: 1, memory: 300}\nbind: [{name: out, type: push}]\n"
        "command: {stdout: stdout, stderr: all, value: python3, arguments: ['-m', 'ecs_engine.examples.producer']}\n"
    )
    (root / "tasks" / "probe.yaml").write_text(
        f"name: probe\ncontrol: {{mode: basic}}\n"
        f"command: {{value: python3, arguments: ['{tmp_path / 'probe.py'}', '{tmp_path / 'probe.json'}', "
        "'{{ hog_mb }}']}\n"
    )
    (root / "workflows" / "limits.yaml").write_text(
        textwrap.dedent(
            """\
            name: limits
            defaults:
              hog_mb: "0"
            roles:
              - name: node
                constraints: [{attribute: machine_id, value: flp001}]
                roles:
                  - name: holder
                    task: {load: holder}
                  - name: probe
                    task: {load: probe, trigger: before_START_ACTIVITY, timeout: 30s}
            """
        )
    )
    return root


def job_fields(coconut, job_id: str) -> dict[str, str]:
    shown = coconut.cluster.run("scontrol", "show", "job", "-d", "-o", job_id).stdout
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def cpu_list(text: str) -> set[int]:
    """``0-2,5`` -> {0, 1, 2, 5}"""
    cpus = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def oom_kills(cgroup: Path) -> int:
    """The processes the kernel killed in ``cgroup`` and below for want of memory (v1 ``memory.oom_control``)."""
    kills = 0
    for top, _, _ in os.walk(cgroup):
        control = dict(line.split() for line in (Path(top) / "memory.oom_control").read_text().splitlines())
        kills += int(control.get("oom_kill", 0))
    return kills


def test_a_task_sees_only_the_cpus_slurm_allocated_to_its_agent(coconut, limits, tmp_path):
    environment_id = create(coconut, "-w", "limits", "--repo", str(limits))
    job_id = coconut.agent_jobs()["flp001"]
    coconut("env", "control", environment_id, "-e", "START")
    seen = json.loads((tmp_path / "probe.json").read_text())
    fields = job_fields(coconut, job_id)
    assert fields["NumCPUs"] == "1"
    allocated = cpu_list(fields["CPU_IDs"])
    assert set(seen["cpus"]) == allocated == cpu_list(seen["cpuset.cpus"]), (seen, fields["CPU_IDs"], os.cpu_count())
    assert seen["cpuset"].startswith(f"/slurm_flp001/uid_0/job_{job_id}/")  # Slurm's cgroup of the agent's job
    coconut("env", "destroy", environment_id, "--allow-in-running-state")


def test_a_task_taking_more_memory_than_its_agents_job_is_killed_by_the_limit(coconut, limits, tmp_path):
    environment_id = create(coconut, "-w", "limits", "--repo", str(limits), "-e", "hog_mb=1000")
    job_id = coconut.agent_jobs()["flp001"]
    memory = coconut.cluster.job_cgroup("memory", "flp001", job_id)
    allocated = job_fields(coconut, job_id)["MinMemoryNode"]  # the holder's wants: 300M
    limit = int((memory / "memory.limit_in_bytes").read_text())
    assert limit == int(allocated.removesuffix("M")) * 2**20 < 1000 * 2**20  # Slurm's limit, below what it takes
    failed = coconut("env", "control", environment_id, "-e", "START", check=False)
    assert failed.status != 0 and "transition START failed" in failed.err
    # the agent saw the kernel's count rise: the error says why, not just that it was killed
    assert (
        "(limits.node.probe) failed: ended involuntarily (KILLED, out of memory at its Slurm job's limit (--mem))"
        in failed.err
    ), failed.err
    assert oom_kills(memory) >= 1  # the kernel killed it at the job's limit
    assert coconut.agent_jobs()["flp001"] == job_id  # the agent itself lives on
    coconut("env", "destroy", environment_id, "--force")
