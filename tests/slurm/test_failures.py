"""What the slurm resource manager says and does when things fail: an agent that cannot start, Slurm without its
configuration or its controller, a partition that does not exist, a core that is gone for good."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time

import pytest

from ecs_backends.resources import slurm
from ecs_backends.resources.slurm import CONTROLLER_HINT, SlurmResourceManager, SlurmSettings, _allocation_text, _hint
from ecs_engine.errors import HandledError
from ecs_engine.server.core import LOGFILE, read_pidfile
from ecs_engine.tasks.resources import PlacementError, Wants
from tests.slurm import cluster as slurm_cluster
from tests.slurm.conftest import SlurmCoconut
from tests.waiting import eventually

pytestmark = pytest.mark.slow

ONE_NODE = 'hosts=["flp002"]'
NO_CORE_PORT = 47931  # nothing listens there: the agent dials a core that is gone


def finish(runner: SlurmCoconut) -> None:
    """Stop the test's core; no agent job of it may be left (one its core could not cancel is cancelled here)."""
    if read_pidfile(runner.state_dir) is not None:
        runner("core", "stop", "--force", check=False)
    if jobs := runner.agent_jobs():
        runner.cluster.run("scancel", *jobs.values(), check=False)
    eventually(lambda: not runner.agent_jobs(), timeout=30, what="no agent job left")


@pytest.fixture
def coconut_with(cluster, tmp_path):
    """A coconut with more ``core.slurm`` settings, on the session's cluster."""
    made: list[SlurmCoconut] = []
    yield lambda **settings: made.append(SlurmCoconut(cluster, tmp_path, **settings)) or made[-1]
    for runner in made:
        finish(runner)


def core_log(coconut) -> str:
    path = coconut.state_dir / LOGFILE
    return path.read_text() if path.exists() else ""


def test_an_agent_that_cannot_start_fails_the_create_at_once_with_its_output(coconut_with):
    coconut = coconut_with(slurm={"agent_command": "/nonexistent/ecs-agent", "agent_timeout": 60})
    (coconut.state_dir / "slurm").mkdir(parents=True)  # the node's log, appended to by every agent job there
    (coconut.state_dir / "slurm" / "agent-flp002.log").write_text("an earlier agent job's last words\n")
    began = time.monotonic()
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False, timeout=50)
    assert failed.status != 0
    assert time.monotonic() - began < 45  # not the agent_timeout of 60 s
    assert re.search(r"the agent of node flp002 \(Slurm job \d+\) is lost: its job \d+ ended \(FAILED\)", failed.err)
    assert "/nonexistent/ecs-agent" in failed.err and "not found" in failed.err  # the end of its output
    assert "earlier agent job" not in failed.err  # and only its own
    assert re.search(r"\(see \S+/agent-flp002\.log; squeue -j \d+\)", failed.err)
    assert "Traceback" not in failed.err


def test_an_agent_share_no_node_has_is_named_not_the_tasks_wants(coconut_with):
    """memory_per_agent larger than a node: the create blamed each task's wants.cpu (0.1) and said to lower it."""
    coconut = coconut_with(slurm={"memory_per_agent": "4G"})
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        r"task role \S*producer cannot be placed: the agent's own share \(setting core\.slurm\.memory_per_agent: 4G\) "
        r"is more than any Slurm node with machine_id=flp002 has \(flp002: 1 CPU\(s\), 2000 MB",
        failed.err,
    ), failed.err
    assert "wants.cpu" not in failed.err
    assert not coconut.agent_jobs()


def test_an_agent_that_cannot_reach_the_core_names_the_address_it_dials_and_the_setting(coconut_with):
    """The likeliest mistake off one machine: agents given an address their node cannot reach (the default listen is
    loopback). The create said only 'it did not dial back within N s'."""
    coconut = coconut_with(slurm={"dial": f"127.0.0.1:{NO_CORE_PORT}", "agent_timeout": 4})
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        rf"the agent of node flp002 \(Slurm job (\d+)\) is lost: its job \1 runs but its agent did not dial in within "
        rf"4 s: agents dial 127\.0\.0\.1:{NO_CORE_PORT} \(setting core\.slurm\.dial, default core\.slurm\.listen\), "
        r"which its node must reach",
        failed.err,
    ), failed.err
    assert f"core 127.0.0.1:{NO_CORE_PORT} not reachable" in failed.err  # the agent's own words, from its output


def test_a_log_dir_the_nodes_cannot_write_is_named_in_the_create_error(coconut_with):
    """core.slurm.log_dir on a shared file system the nodes do not have: the error named a path, not the setting."""
    coconut = coconut_with(slurm={"log_dir": "/proc/no-such-share"})
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        r"on node flp002: task \S+: cannot open its output file /proc/no-such-share\S*: .* \(setting "
        r"core\.slurm\.log_dir: the nodes write the tasks' output under /proc/no-such-share\)",
        failed.err,
    ), failed.err


def test_without_slurm_conf_the_create_says_to_set_it(coconut_with):
    coconut = coconut_with()
    del coconut.env["SLURM_CONF"]
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    assert failed.status != 0
    assert "Could not establish a configuration source" in failed.err
    assert "SLURM_CONF" in failed.err and "environment of the shell that started it" in failed.err


def test_a_partition_that_does_not_exist_is_named_at_start_and_in_the_create_error(coconut_with):
    coconut = coconut_with(slurm={"partition": "nope"})
    failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    assert failed.status != 0
    assert "partition 'nope' does not exist (partitions: ecs)" in failed.err
    assert re.search(r"WARNING .*core\.slurm\.partition: partition 'nope' does not exist", core_log(coconut))


def test_without_munge_a_slurm_command_says_why_and_to_start_munged(cluster, tmp_path):
    """A real sinfo in the cluster's namespace whose munge socket is not there, as on a machine where munged does not
    run: Slurm's last line was all the error said ('Protocol authentication error')."""
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        re.sub(r"AuthInfo=socket=\S+", f"AuthInfo=socket={tmp_path / 'no-munge'}", cluster.conf.read_text())
    )
    said = (
        "import asyncio\nfrom ecs_backends.resources.slurm import slurm_command\n"
        "try:\n    asyncio.run(slurm_command('sinfo'))\nexcept Exception as exc:\n    print(exc.message)\n"
    )
    argv = [*cluster.enter(), sys.executable, "-c", said]
    message = subprocess.run(
        argv, env={**os.environ, "SLURM_CONF": str(conf)}, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    assert re.fullmatch(
        r"sinfo failed \(1\): slurm_load_partitions: Protocol authentication error \(Munge encode failed: Failed to "
        r"access \S+no-munge\S*: No such file or directory \(Did you start munged\?\)\); Slurm authenticates with "
        r"munge: start munged .*'munge -n \| unmunge'",
        message,
    ), message


def test_an_unreachable_controller_gets_a_hint_and_the_log_names_defaults_only_when_used():
    said = "sinfo: error: slurm_load_partitions: Unable to contact slurm controller (connect failure)"
    assert _hint(said) == f"; {CONTROLLER_HINT}" and "scontrol ping" in CONTROLLER_HINT
    assert _allocation_text(Wants(1, 300)) == "1 CPU(s), 300 MB"
    assert _allocation_text(Wants(1, 0)) == "1 CPU(s), 0 MB; 0: Slurm's default"


def test_nodes_in_states_that_take_no_job_are_named_with_what_to_do(tmp_path, monkeypatch):
    """inval, future and unknown nodes were taken as usable: an agent job sent there waited PENDING until
    agent_timeout. The test cluster cannot put a node in these states (scontrol sets none of them; this sinfo
    hides FUTURE nodes), so sinfo here prints what Slurm's prints for them."""
    lines = ["flp001|flp|10.0.0.1|inval|1|2000|none", "flp002|flp|10.0.0.2|unknown*|1|2000|none"]
    lines += ["flp003|flp|10.0.0.3|future|1|2000|none", "flp004|flp|10.0.0.4|idle|1|2000|none"]
    sinfo = tmp_path / "bin" / "sinfo"
    sinfo.parent.mkdir()
    sinfo.write_text("#!/bin/sh\nprintf '%s\\n' " + " ".join(f"'{line}'" for line in lines) + "\n")
    sinfo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{sinfo.parent}:{os.environ['PATH']}")
    manager = SlurmResourceManager(SlurmSettings(), tmp_path)
    asyncio.run(manager._read_nodes())
    assert [n.name for n in manager.nodes()] == ["flp004"]
    expected = {
        "flp001": ("inval", r"its slurmd reports less than its NodeName line in slurm\.conf says .*'slurmd -C'.*"),
        "flp002": ("unknown", r"slurmctld has not heard from its slurmd since it started: start slurmd on flp002"),
        "flp003": ("future", r".*State=FUTURE.*'scontrol update nodename=flp003 state=resume'"),
    }
    for node, (state, todo) in expected.items():
        with pytest.raises(PlacementError) as refused:
            manager.place([("machine_id", node)])
        assert refused.value.message == f"no usable Slurm node has machine_id={node}: {node} is {state}"
        assert re.match(todo, refused.value.hint), refused.value.hint
    assert manager.place([("machine_id", "flp004")]).name == "flp004"


def test_an_agent_without_its_core_ends_after_its_orphan_timeout(tmp_path):
    token = tmp_path / "token"
    token.write_text("t\n")
    argv = [sys.executable, "-m", "coconut", "agent", "--core", f"127.0.0.1:{NO_CORE_PORT}"]
    argv += ["--token-file", str(token), "--node", "flp001", "--work-dir", str(tmp_path), "--orphan-timeout", "1"]
    agent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = agent.communicate(timeout=30)
    finally:
        agent.kill()
    assert agent.returncode == 0
    assert f"no core at 127.0.0.1:{NO_CORE_PORT} for 1 s (--orphan-timeout): stopping this agent" in out


# -- with the controller down: a cluster of this module's own, whose slurmctld the tests stop and start ----------


@pytest.fixture(scope="module")
def own_cluster(cluster, tmp_path_factory):
    """A second cluster (the session's is shared: its controller stays up); ``cluster`` first checks for root and
    Slurm."""
    root = tmp_path_factory.mktemp("slurm-ctld")
    running = slurm_cluster.up(root, namespace=f"ecs-slurm-{os.getpid()}-ctld")
    yield running
    slurm_cluster.down(root)


@pytest.fixture
def controller(own_cluster):
    """Stop and start ``own_cluster``'s slurmctld; it is up again after the test."""
    yield own_cluster
    if not own_cluster.run("scontrol", "ping", check=False, timeout=30).stdout.count("is UP"):
        slurm_cluster.start_controller(own_cluster)


@pytest.fixture
def down_coconut(controller, tmp_path):
    runner = SlurmCoconut(controller, tmp_path, slurm={"agent_linger": 3})
    yield runner
    finish(runner)


def started_core(coconut) -> None:
    coconut("core", "start")
    eventually(lambda: "slurm: 2 node(s)" in core_log(coconut), what="the core's Slurm start-up")


def test_an_idle_agent_whose_cancel_failed_is_cancelled_once_the_controller_is_back(down_coconut, controller):
    environment_id = down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, "-o", "json").json()[
        "environment"
    ]["id"]
    (job,) = down_coconut.agent_jobs().values()
    down_coconut("env", "destroy", environment_id)
    slurm_cluster.stop_controller(controller)  # before the agent_linger of 3 s is over
    eventually(
        lambda: re.search(rf"WARNING .*cancelling agent job {job} failed \(tried again in", core_log(down_coconut)),
        what="the failed scancel logged",
    )
    slurm_cluster.start_controller(controller)
    eventually(lambda: not down_coconut.agent_jobs(), timeout=45, what="the agent job cancelled once Slurm is back")


def test_core_stop_with_the_controller_down_is_bounded_and_names_the_jobs_left(down_coconut, controller):
    """The jobs left are named, with the command that cancels them, to whoever ran 'coconut core stop' (they were
    only in core.log), and in core.log."""
    down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE)
    (job,) = down_coconut.agent_jobs().values()
    slurm_cluster.stop_controller(controller)
    began = time.monotonic()
    stopped = down_coconut("core", "stop", "--force")
    assert time.monotonic() - began < 9  # scancel alone would wait ~9 s for the controller
    assert re.search(rf"WARNING .*agent job\(s\) {job} not cancelled: .*'scancel {job}'", core_log(down_coconut))
    assert re.fullmatch(
        rf"coconut: warning: slurm: agent job\(s\) {job} not cancelled: .*; they keep their allocation until "
        rf"'scancel {job}', or until their agents give up on this core \(core\.slurm\.agent_orphan_timeout, .*\)\n",
        stopped.err,
    ), stopped.err


async def test_a_close_whose_scancel_fails_returns_one_warning_naming_the_jobs_and_their_scancel(tmp_path, monkeypatch):
    """What the core's stop hands to 'coconut core stop' (the test above, through the CLI, with a real controller)."""

    async def failing(*job_ids: str, timeout: float | None = None) -> None:
        raise HandledError("scancel: error: Unable to contact slurm controller (connect failure)")

    monkeypatch.setattr(slurm, "_scancel", failing)
    manager = SlurmResourceManager(SlurmSettings(agent_orphan_timeout=60), tmp_path)
    manager._boot = asyncio.get_running_loop().create_task(asyncio.sleep(0))
    await manager._boot
    manager._link("flp002", "12")
    manager._link("flp001", "9")
    assert await manager.close() == [
        "slurm: agent job(s) 9 12 not cancelled: scancel: error: Unable to contact slurm controller (connect "
        "failure); they keep their allocation until 'scancel 9 12', or until their agents give up on this core "
        "(core.slurm.agent_orphan_timeout, 60 s)"
    ]


def test_a_node_drained_after_the_core_started_is_named_with_how_to_resume_it_and_used_once_resumed(
    down_coconut, controller
):
    """The nodes were read once, when the core started: a drained node's agent job waited, and the create failed after
    agent_timeout saying only that the agent did not dial back; a node resumed since was not used."""
    started_core(down_coconut)
    controller.run("scontrol", "update", "nodename=flp002", "state=drain", "reason=disk_full")
    try:
        began = time.monotonic()
        failed = down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
        assert time.monotonic() - began < 20  # not agent_timeout (30 s)
        assert failed.status != 0 and "Traceback" not in failed.err
        # (draining while an agent job of a test before still ends there)
        assert re.search(
            r"no usable Slurm node has machine_id=flp002: flp002 is drain(ed|ing) \(disk_full\)", failed.err
        )
        assert "'scontrol update nodename=flp002 state=resume'" in failed.err
        assert not down_coconut.agent_jobs()
    finally:
        controller.run("scontrol", "update", "nodename=flp002", "state=resume")
    environment_id = down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, "-o", "json").json()[
        "environment"
    ]["id"]
    down_coconut("env", "destroy", environment_id)


def test_an_agent_job_slurm_keeps_pending_fails_the_create_with_slurms_reason(controller, tmp_path):
    """A partition that is down takes jobs and keeps them PENDING: the create said only that the agent did not
    connect within agent_timeout."""
    coconut = SlurmCoconut(controller, tmp_path, slurm={"agent_timeout": 3})
    controller.run("scontrol", "update", "partitionname=ecs", "state=down")
    try:
        failed = coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    finally:
        controller.run("scontrol", "update", "partitionname=ecs", "state=up")
        finish(coconut)  # the pending job cancelled
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        r"the agent of node flp002 \(Slurm job (\d+)\) is lost: its job \1 did not start within 3 s: Slurm keeps it "
        r"PENDING \(PartitionDown\)",
        failed.err,
    ), failed.err


def test_a_partition_with_a_time_limit_fails_the_create_at_once_saying_it_needs_maxtime_infinite(
    down_coconut, controller
):
    """docs/slurm.md: agents run with --time=0. A partition with a MaxTime kept the job PENDING (PartitionTimeLimit)
    and the create failed after agent_timeout (30 s), saying only that the agent did not connect."""
    controller.run("scontrol", "update", "partitionname=ecs", "maxtime=60")
    try:
        began = time.monotonic()
        failed = down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
        assert time.monotonic() - began < 20
    finally:
        controller.run("scontrol", "update", "partitionname=ecs", "maxtime=INFINITE")
    assert failed.status != 0 and "Traceback" not in failed.err
    assert re.search(
        r"the agent of node flp002 \(Slurm job (\d+)\) is lost: its job \1 cannot start: Slurm keeps it PENDING "
        r"\(PartitionTimeLimit\): an agent job runs without a time limit \(--time=0\), so its partition needs "
        r"MaxTime=INFINITE in slurm.conf",
        failed.err,
    ), failed.err
    eventually(lambda: not down_coconut.agent_jobs(), timeout=30, what="the pending job cancelled")


def test_core_stop_without_agent_jobs_does_not_ask_slurm(down_coconut, controller):
    started_core(down_coconut)
    slurm_cluster.stop_controller(controller)
    began = time.monotonic()
    down_coconut("core", "stop")
    assert time.monotonic() - began < 5  # a Slurm command would wait ~9 s for the controller
    assert "not cancelled" not in core_log(down_coconut)


def test_with_the_controller_down_a_create_fails_within_seconds_saying_slurmctld_does_not_answer(
    down_coconut, controller
):
    """The nodes are read again at each deployment: with slurmctld down, sinfo waited ~9 s for it, then sbatch as
    long again, before the create failed."""
    started_core(down_coconut)
    slurm_cluster.stop_controller(controller)
    began = time.monotonic()
    failed = down_coconut("env", "create", "-w", "dataflow-demo", "-e", ONE_NODE, check=False)
    took = time.monotonic() - began
    assert failed.status != 0 and "Traceback" not in failed.err
    assert took < 7, took
    assert re.search(
        r"^coconut: error: cannot create new environment: no agent job can be submitted for node flp002: sinfo did "
        r"not finish within 3 s; the Slurm controller \(slurmctld\) does not answer; check it with 'scontrol ping'$",
        failed.err,
        re.MULTILINE,
    ), failed.err
