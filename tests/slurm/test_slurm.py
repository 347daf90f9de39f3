"""Environments on a real Slurm cluster: placement by node, agents as jobs, what a lost agent or task does."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecs_engine.examples import examples_dir
from ecs_engine.server.core import read_pidfile
from tests.e2e.conftest import alive, core_gone
from tests.servers import self_signed_certificate
from tests.slurm.conftest import SlurmCoconut
from tests.waiting import eventually

pytestmark = pytest.mark.slow

HOSTS = 'hosts=["flp001","flp002"]'


def create(coconut, *args: str) -> str:
    info = coconut("env", "create", *args, "-o", "json").json()["environment"]
    assert info["state"] == "CONFIGURED"
    return info["id"]


def by_role(tasks: list[dict], suffix: str) -> list[dict]:
    return [t for t in tasks if t["className"].split("/")[-1].startswith(suffix)]


def test_dataflow_demo_runs_across_two_slurm_nodes_and_destroy_leaves_nothing(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    tasks = coconut.tasks()
    assert {t["deploymentInfo"]["hostname"] for t in tasks} == {"flp001", "flp002"}
    jobs = coconut.agent_jobs()
    assert set(jobs) == {"flp001", "flp002"}  # one agent job per node
    # as Mesos named its executor, a running task names the agent job it runs in (an idle hook runs in none)
    running = [t for t in tasks if t.get("pid")]
    assert {(t["deploymentInfo"]["hostname"], t["deploymentInfo"]["executorId"]) for t in running} == {
        (node, f"slurm-job-{job}") for node, job in jobs.items()
    }
    started = coconut("env", "control", environment_id, "-e", "START")
    run = int(re.search(r"run number:\s+(\d+)", started.out).group(1))
    for consumer in by_role(coconut.tasks(), "demo-consumer"):
        eventually(
            lambda c=consumer: re.search(
                rf"run {run}: received [1-9]\d* messages so far",
                coconut("task", "logs", c["taskId"], "-s", "stdout").out,
            ),
            timeout=30,
            what=f"data flowing into the consumer on {consumer['deploymentInfo']['hostname']}",
        )
    assert coconut("env", "control", environment_id, "-e", "STOP", "-o", "json").json()["state"] == "CONFIGURED"
    pids = [int(t["pid"]) for t in coconut.tasks() if t.get("pid")]
    coconut("env", "destroy", environment_id)
    assert not [p for p in pids if alive(p)]
    eventually(lambda: not coconut.agent_jobs(), timeout=30, what="the agents cancelled once their tasks are gone")


def test_a_constraint_no_slurm_node_satisfies_fails_the_create_naming_it(coconut):
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", 'hosts=["epn999"]', check=False)
    assert failed.status != 0
    assert "no Slurm node has machine_id=epn999" in failed.err
    assert "flp001" in failed.err and "Traceback" not in failed.err
    assert not coconut.agent_jobs()


def test_a_crashed_critical_task_sends_the_environment_to_error(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    coconut("env", "control", environment_id, "-e", "START")
    producer = next(t for t in by_role(coconut.tasks(), "demo-producer") if t["deploymentInfo"]["hostname"] == "flp002")
    os.kill(int(producer["pid"]), signal.SIGKILL)
    eventually(lambda: coconut.state(environment_id) == "ERROR", timeout=30, what="the environment in ERROR")
    shown = coconut("env", "show", environment_id).out
    assert producer["taskId"] in shown
    coconut("env", "destroy", environment_id, "--force")


@pytest.mark.parametrize("how", ["agent killed", "scancel"])
def test_a_lost_agent_loses_its_tasks_and_sends_the_environment_to_error(coconut, how):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    coconut("env", "control", environment_id, "-e", "START")
    on_node = [int(t["pid"]) for t in coconut.tasks() if t["deploymentInfo"]["hostname"] == "flp001" and t["pid"]]
    assert on_node
    job = coconut.agent_jobs()["flp001"]
    if how == "scancel":
        coconut.cluster.run("scancel", job)
    else:
        os.kill(coconut.agent_pid("flp001"), signal.SIGKILL)
    eventually(lambda: coconut.state(environment_id) == "ERROR", timeout=30, what="the environment in ERROR")
    # why, in the environment's events: a scancel said only 'exited with code 143' (then the STOP's OCC errors), a
    # killed agent only 'ended (exit code unknown)'
    why = (
        re.escape(f"its Slurm job {job} was cancelled or ended (the agent got SIGTERM)")
        if how == "scancel"
        else r"ended \(exit code unknown\): the agent of node flp001 is lost: "
    )

    def said() -> bool:
        events = coconut("events", "query", "--env", environment_id, "--severity", "error").out
        return re.search(rf"task \S+ \(\S+\) .*{why}", events) is not None

    eventually(said, what=f"an error event saying {why}")
    eventually(lambda: not [p for p in on_node if alive(p)], timeout=15, what="the node's tasks gone with its agent")
    eventually(lambda: "flp001" not in coconut.agent_jobs(), timeout=15, what="its job ended (not COMPLETING)")
    coconut("env", "destroy", environment_id, "--force")


def test_a_restarted_core_reattaches_to_the_running_agents_and_their_tasks(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    coconut("env", "control", environment_id, "-e", "START")
    before = {t["taskId"]: t["pid"] for t in coconut.tasks()}
    jobs = coconut.agent_jobs()
    old_core = int(read_pidfile(coconut.state_dir)["pid"])
    os.kill(old_core, signal.SIGKILL)
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")
    listed = coconut("env", "list")
    assert re.search(rf"{environment_id}\s+dataflow-demo\s+.*RUNNING", listed.out)
    # the same processes, re-attached (a hook's ended process is known to have ended once its agent dialled back)
    eventually(lambda: {t["taskId"]: t["pid"] for t in coconut.tasks()} == before, what="the same task processes")
    assert coconut.agent_jobs() == jobs  # the same agents, dialled back
    assert coconut("env", "control", environment_id, "-e", "STOP", "-o", "json").json()["state"] == "CONFIGURED"
    coconut("env", "destroy", environment_id)


def test_an_agent_without_the_agents_token_is_refused(coconut, tmp_path):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp001"]')
    port = (coconut.state_dir / "slurm" / "agents.port").read_text().strip()
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")
    argv = [*coconut.cluster.enter(), sys.executable, "-m", "coconut", "agent", "--core", f"127.0.0.1:{port}"]
    argv += ["--token-file", str(wrong), "--node", "flp001"]
    rogue = subprocess.run(argv, env=coconut.env, capture_output=True, text=True, timeout=60)
    assert rogue.returncode == 5  # refused
    assert "refused this agent: this core admits only its own agents (token)" in rogue.stderr
    assert coconut.state(environment_id) == "CONFIGURED"  # its real agent serves on
    coconut("env", "destroy", environment_id)


def test_agents_dial_the_core_over_tls(cluster, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    coconut = SlurmCoconut(cluster, tmp_path / "core", {"tls_cert": cert, "tls_key": key, "tls_ca": cert})
    try:
        environment_id = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp002"]')
        assert {t["deploymentInfo"]["hostname"] for t in coconut.tasks()} == {"flp002"}
        coconut("env", "destroy", environment_id)
    finally:
        coconut("core", "stop", "--force", check=False)
    eventually(lambda: not coconut.agent_jobs(), timeout=30, what="no agent job left")


def examples_repo(tmp_path, **wants: dict) -> str:
    """The example templates as a repository of their own, with some task classes' wants changed."""
    src = tmp_path / "wants-repo"
    shutil.copytree(examples_dir(), src)
    for name, changed in wants.items():
        path = src / "tasks" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        data["wants"] = {**data.get("wants", {}), **changed}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    for args in (["init", "-q", "-b", "master"], ["add", "-A"], ["commit", "-q", "-m", "wants"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(src), *args], check=True)
    return str(src)


def class_wants(class_name: str) -> tuple[float, float]:
    """(cpu, memory MB) that an example task class wants, from its template."""
    name = class_name.split("/")[-1].split("@")[0]
    wants = yaml.safe_load((examples_dir() / "tasks" / f"{name}.yaml").read_text()).get("wants", {})
    return float(wants.get("cpu", 0)), float(wants.get("memory", 0))


def test_a_task_wanting_more_cpus_than_any_node_has_is_refused_naming_it(coconut, tmp_path):
    coconut("repo", "add", examples_repo(tmp_path, **{"demo-producer": {"cpu": 4}}))
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", 'hosts=["flp001"]', check=False)
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        r"task role \S*producer wants 4 CPU\(s\) \(wants\.cpu\): no Slurm node with machine_id=flp001", failed.err
    )
    assert "flp001: 1 CPU(s), 2000 MB" in failed.err  # what the node has, from sinfo
    eventually(lambda: not coconut.agent_jobs(), timeout=30, what="no agent job left by the refused create")


def test_an_agent_job_is_sized_by_the_wants_of_the_tasks_on_its_node(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo", "-e", HOSTS)
    jobs = coconut.agent_jobs()
    for node in ("flp001", "flp002"):
        wants = [class_wants(t["className"]) for t in coconut.tasks() if t["deploymentInfo"]["hostname"] == node]
        shown = coconut.cluster.run("scontrol", "show", "job", "-o", jobs[node]).stdout
        fields = dict(f.split("=", 1) for f in shown.split() if "=" in f)
        assert fields["MinMemoryNode"] == f"{math.ceil(sum(m for _, m in wants))}M", shown
        assert fields["NumCPUs"] == str(math.ceil(sum(c for c, _ in wants))), shown
    coconut("env", "destroy", environment_id)


def test_tasks_whose_wants_together_exceed_their_node_are_refused(coconut, tmp_path):
    # flp001 has 1 CPU: a producer and a consumer wanting 0.6 each do not both fit
    coconut(
        "repo", "add", examples_repo(tmp_path, **{name: {"cpu": 0.6} for name in ("demo-producer", "demo-consumer")})
    )
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", 'hosts=["flp001"]', check=False)
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(r"task role \S*(producer|consumer) wants 0.6 CPU\(s\) \(wants\.cpu\)", failed.err)
    # what is taken: the agent job of the first (submitted for the hook, sized for what follows) holds the whole CPU
    assert re.search(r"flp001: 1 CPU\(s\), 2000 MB, of which 1 CPU\(s\), \d+ MB taken", failed.err)
    eventually(lambda: not coconut.agent_jobs(), timeout=30, what="no agent job left by the refused create")


def test_agents_run_with_the_ecs_agent_entry_point(cluster, tmp_path):
    entry_point = shutil.which("ecs-agent", path=os.path.dirname(sys.executable))
    assert entry_point, "the ecs-agent entry point is installed next to the interpreter"
    coconut = SlurmCoconut(cluster, tmp_path / "core", {"agent_command": entry_point})
    try:
        environment_id = create(coconut, "-w", "dataflow-demo", "-e", 'hosts=["flp001"]')
        assert {t["deploymentInfo"]["hostname"] for t in coconut.tasks()} == {"flp001"}
        assert running_with(entry_point, str(coconut.state_dir / "slurm")), "the agent is the ecs-agent command"
        coconut("env", "destroy", environment_id)
    finally:
        coconut("core", "stop", "--force", check=False)
    eventually(lambda: not coconut.agent_jobs(), timeout=30, what="no agent job left")


def running_with(*words: str) -> list[int]:
    """The pids of the processes whose command line holds all of ``words``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if all(word in argv for word in words):
            pids.append(int(entry.name))
    return pids
