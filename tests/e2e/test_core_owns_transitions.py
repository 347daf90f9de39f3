"""A transition or create, once accepted, is the core's: a client that goes away does not cut it short.

Real core, real task processes, coconut in-process, or as a process of its own for a real Ctrl-C. The client
"goes away" by its own deadline (the setting ``timeout``, as ``COCONUT_TIMEOUT=1s`` does) or by SIGINT; both
cancel its call, as a dropped connection does. Also: ``destroy --force`` during a transition, and RECOVER after a critical task was killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from ecs_engine.errors import ExitStatus
from tests.waiting import eventually

from .conftest import alive, remember, write_example_tasks

pytestmark = pytest.mark.slow


@pytest.fixture
def slow(tmp_path):
    """A producer/consumer pair and two hooks that sleep at CONFIGURE and START for as long as asked."""
    root = tmp_path / "slow-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    write_example_tasks(root)
    (root / "tasks" / "sleeper.yaml").write_text(
        "name: sleeper\ncontrol:\n  mode: basic\ncommand:\n  shell: true\n  value: 'sleep {{ delay }}'\n"
    )
    (root / "workflows" / "slow.yaml").write_text(
        textwrap.dedent(
            """\
            name: slow
            defaults:
              configure_delay: "0"
              start_delay: "0"
            roles:
              - name: producer
                task: {load: producer}
              - name: consumer
                connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
                task: {load: consumer}
              - name: slow-configure
                vars: {delay: "{{ configure_delay }}"}
                task: {load: sleeper, trigger: before_CONFIGURE, timeout: 60s}
              - name: slow-start
                vars: {delay: "{{ start_delay }}"}
                task: {load: sleeper, trigger: before_START_ACTIVITY, timeout: 60s}
            """
        )
    )
    return root


def impatient(coconut, seconds: int) -> list[str]:
    """Global flags of a coconut that waits for the core at most ``seconds``, then gives up its call."""
    path = coconut.root / "config" / f"impatient-{seconds}.yaml"
    path.write_text(yaml.safe_dump({"timeout": f"{seconds}s", "core": {"nodes": ["flp001", "flp002"]}}))
    return ["--config", str(path)]


def shown(coconut, environment_id: str) -> dict:
    return coconut("env", "show", environment_id, "-o", "json").json()["environment"]


def test_a_start_whose_client_gives_up_still_reaches_running_with_the_run_number_it_allocated(coconut, slow):
    created = coconut("env", "create", "-w", "slow", "--repo", str(slow), "-e", "start_delay=3", "-o", "json")
    environment_id = created.json()["environment"]["id"]
    remember(coconut)

    gave_up = coconut(*impatient(coconut, 1), "env", "control", environment_id, "-e", "START", check=False)
    assert gave_up.status != 0 and "did not answer within 1 s" in gave_up.err
    during = shown(coconut, environment_id)
    assert during["currentTransition"] == "START_ACTIVITY" and during["currentRunNumber"] > 0
    run = during["currentRunNumber"]

    eventually(lambda: shown(coconut, environment_id)["state"] == "RUNNING", timeout=30, what="START finished")
    after = shown(coconut, environment_id)
    assert after["currentRunNumber"] == run
    assert after["lastTransition"] == "START_ACTIVITY" and not after.get("lastTransitionError")
    text = coconut("env", "show", environment_id).out
    assert re.search(r"last transition:\s+START_ACTIVITY succeeded", text)
    producer = next(t for t in remember(coconut) if t["className"].split("/")[-1].startswith("producer"))
    log = coconut("task", "logs", producer["taskId"], "-s", "stdout").out
    assert f"run {run}: started" in log
    coconut("env", "destroy", environment_id, "--allow-in-running-state")


def interrupted_coconut(coconut, *args: str) -> subprocess.Popen:
    """``coconut ARGS`` as a process of its own (with this test's directories), to be sent a real Ctrl-C."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from coconut.cli import main\n"
        "from coconut.context import CliContext\n"
        "root = Path(sys.argv[1])\n"
        "cli = CliContext(environ={}, config_dir=root / 'config', data_dir=root / 'data', state_dir=root / 'state',"
        " cwd=root / 'work')\n"
        "sys.exit(main(sys.argv[2:], cli=cli))\n"
    )
    argv = [sys.executable, "-c", code, str(coconut.root), "--endpoint", f"127.0.0.1:{coconut.port}", "--nospinner"]
    return subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_create_interrupted_with_ctrl_c_still_ends_configured_its_id_printed_at_once_and_what_to_do(coconut, slow):
    coconut("core", "start")
    create = interrupted_coconut(coconut, "env", "create", "-w", "slow", "--repo", str(slow), "-e", "configure_delay=4")
    try:
        line = create.stderr.readline()  # the first thing said, while CONFIGURE's hook still sleeps
        announced = re.search(r"environment (\S+) exists, deploying and configuring it", line)
        assert announced, line
        environment_id = announced.group(1)
        assert shown(coconut, environment_id)["state"] != "CONFIGURED"
        create.send_signal(signal.SIGINT)
        assert create.wait(timeout=30) == ExitStatus.INTERRUPTED
    finally:
        create.kill()
        _, told = create.communicate()
    # one line saying the create goes on, and how to see it and end it
    assert told.splitlines() == [
        f"coconut: interrupted: the core goes on deploying and configuring environment {environment_id}; "
        f"see 'coconut env show {environment_id}', end it with 'coconut env destroy {environment_id}'"
    ]
    remember(coconut)
    eventually(lambda: shown(coconut, environment_id)["state"] == "CONFIGURED", timeout=30, what="create finished")
    assert shown(coconut, environment_id)["lastTransition"] == "CONFIGURE"
    assert len(remember(coconut)) == 4
    coconut("env", "destroy", environment_id)


def interrupt_during(coconut, process, environment_id: str, transition: str) -> list[str]:
    """Ctrl-C to ``process`` once the environment's ``transition`` has begun; the lines it wrote on stderr."""
    try:
        eventually(
            lambda: shown(coconut, environment_id)["currentTransition"] == transition, what=f"the {transition} began"
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == ExitStatus.INTERRUPTED
    finally:
        process.kill()
        _, told = process.communicate()
    return told.splitlines()


def test_a_start_interrupted_with_ctrl_c_goes_on_and_coconut_says_so(coconut, slow):
    created = coconut("env", "create", "-w", "slow", "--repo", str(slow), "-e", "start_delay=4", "-o", "json")
    environment_id = created.json()["environment"]["id"]
    start = interrupted_coconut(coconut, "env", "control", environment_id, "-e", "START")
    assert interrupt_during(coconut, start, environment_id, "START_ACTIVITY") == [
        f"coconut: interrupted: a START the core received goes on; see 'coconut env show {environment_id}'"
    ]
    eventually(lambda: shown(coconut, environment_id)["state"] == "RUNNING", timeout=30, what="the START ended")
    coconut("env", "destroy", environment_id, "--allow-in-running-state")


def test_a_destroy_interrupted_with_ctrl_c_goes_on_and_coconut_says_so(coconut, slow):
    (slow / "workflows" / "slow-stop.yaml").write_text(
        "name: slow-stop\nroles:\n  - name: producer\n    task: {load: producer}\n"
        "  - name: slow-stop\n    vars: {delay: '4'}\n"
        "    task: {load: sleeper, trigger: before_STOP_ACTIVITY, timeout: 60s}\n"
    )
    created = coconut("env", "create", "-w", "slow-stop", "--repo", str(slow), "-o", "json")
    environment_id = created.json()["environment"]["id"]
    coconut("env", "control", environment_id, "-e", "START")
    destroy = interrupted_coconut(coconut, "env", "destroy", environment_id, "-a")  # STOP first: 4 s
    assert interrupt_during(coconut, destroy, environment_id, "STOP_ACTIVITY") == [
        f"coconut: interrupted: a destroy the core received goes on; see 'coconut env show {environment_id}'"
    ]
    eventually(
        lambda: coconut("env", "show", environment_id, check=False).status == ExitStatus.FAILED,
        timeout=30,
        what="the destroy ended",
    )


def test_destroy_with_force_during_a_transition_cancels_it_and_tears_down(coconut, slow):
    created = coconut("env", "create", "-w", "slow", "--repo", str(slow), "-e", "start_delay=60", "-o", "json")
    environment_id = created.json()["environment"]["id"]
    coconut(*impatient(coconut, 1), "env", "control", environment_id, "-e", "START", check=False)
    assert shown(coconut, environment_id)["currentTransition"] == "START_ACTIVITY"
    # producer, consumer and the sleeping hook (launched as the START began; on a loaded machine, maybe after 1 s)
    pids = eventually(
        lambda: len(p := [int(t["pid"]) for t in remember(coconut) if t["pid"]]) == 3 and p, what="three running tasks"
    )

    began = time.monotonic()
    destroyed = coconut("env", "destroy", environment_id, "--force")
    assert time.monotonic() - began < 20
    assert f"teardown complete for environment {environment_id}" in destroyed.out
    assert not any(alive(pid) for pid in pids)
    assert coconut("env", "list").out.strip() == "no environments"


def test_recover_after_a_critical_task_was_killed_relaunches_it_and_the_next_run_has_data(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-e", "monitor_enabled=false", "-o", "json")
    environment_id = created.json()["environment"]["id"]
    coconut("env", "control", environment_id, "-e", "START")
    tasks = remember(coconut)
    (producer,) = [t for t in tasks if t["className"].split("/")[-1].startswith("demo-producer")]
    os.kill(int(producer["pid"]), signal.SIGKILL)
    eventually(lambda: shown(coconut, environment_id)["state"] == "ERROR", what="environment in ERROR")

    recovered = coconut("env", "control", environment_id, "-e", "RECOVER", "-o", "json").json()
    assert recovered["state"] == "DEPLOYED"
    now = remember(coconut)
    assert producer["taskId"] not in {t["taskId"] for t in now}
    critical = [t for t in now if t["critical"]]
    assert critical and all(t["status"] == "ACTIVE" and t["state"] == "STANDBY" for t in critical)
    assert all(alive(int(t["pid"])) for t in critical)

    coconut("env", "control", environment_id, "-e", "CONFIGURE")
    started = coconut("env", "control", environment_id, "-e", "START", "-o", "json").json()
    assert started["state"] == "RUNNING"
    run = started["currentRunNumber"]
    running = remember(coconut)
    assert all(t["state"] == "RUNNING" and alive(int(t["pid"])) for t in running if t["critical"])
    (consumer,) = [t for t in running if t["className"].split("/")[-1].startswith("demo-consumer")]
    eventually(
        lambda: re.search(
            rf"run {run}: received [1-9]\d* messages", coconut("task", "logs", consumer["taskId"], "-s", "stdout").out
        ),
        what="data flowing from the relaunched producer",
    )
    coconut("env", "destroy", environment_id, "--allow-in-running-state")
