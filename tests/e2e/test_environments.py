"""Acceptance: real environments of real processes, created and driven with coconut through the core.

The core is the embedded default (started by the first command); tasks are the example producer and
consumer moving data over TCP on loopback, on two virtual nodes (flp001, flp002) of the local backend.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap

import pytest

from tests.waiting import eventually

from .conftest import alive, core_gone, remember

pytestmark = pytest.mark.slow

HOSTS = 'hosts=["flp001","flp002"]'


def create(coconut, *args: str) -> str:
    result = coconut("env", "create", *args, "-o", "json")
    info = result.json()["environment"]
    assert info["state"] == "CONFIGURED"
    return info["id"]


def logs(coconut, task_id: str) -> str:
    return coconut("task", "logs", task_id, "-s", "stdout").out


def by_role(tasks: list[dict], suffix: str) -> list[dict]:
    return [t for t in tasks if t["className"].split("/")[-1].startswith(suffix)]


def test_a_multi_host_environment_runs_two_runs_and_leaves_nothing_behind(coconut):
    first = coconut("env", "create", "-w", "dataflow-demo", "-e", HOSTS)
    assert "started the local core" in first.err
    assert "new environment created with 8 tasks" in first.out
    environment_id = re.search(r"environment id:\s+(\S+)", first.out).group(1)
    assert re.search(r"state:\s+CONFIGURED", first.out)
    tasks = remember(coconut)
    assert {t["deploymentInfo"]["hostname"] for t in tasks} == {"flp001", "flp002"}
    assert sorted(t["state"] for t in tasks if t["className"].split("/")[-1].startswith("demo-shell")) == [
        "STANDBY",
        "STANDBY",
    ]  # the hooks ran before DEPLOY and stay idle

    started = coconut("env", "control", environment_id, "-e", "START")
    run = int(re.search(r"run number:\s+(\d+)", started.out).group(1))
    assert "transition complete" in started.out and re.search(r"state:\s+RUNNING", started.out)
    consumers = by_role(remember(coconut), "demo-consumer")
    assert len(consumers) == 2
    for consumer in consumers:
        eventually(
            lambda c=consumer: re.search(rf"run {run}: received [1-9]\d* messages so far", logs(coconut, c["taskId"])),
            what="data flowing",
        )
    coconut("env", "control", environment_id, "-e", "STOP")
    producers = {p["deploymentInfo"]["hostname"]: p for p in by_role(remember(coconut), "demo-producer")}
    for consumer in consumers:  # per host, the consumer got every message its producer sent
        received = re.search(rf"run {run}: received (\d+) messages, \d+ bytes", logs(coconut, consumer["taskId"]))
        producer = producers[consumer["deploymentInfo"]["hostname"]]
        sent = re.search(rf"run {run}: sent (\d+) messages", logs(coconut, producer["taskId"]))
        assert received and sent and int(received.group(1)) == int(sent.group(1)) > 0

    again = coconut("env", "control", environment_id, "-e", "START_ACTIVITY", "-o", "json").json()
    assert (again["state"], again["currentRunNumber"]) == ("RUNNING", run + 1)
    coconut("env", "control", environment_id, "-e", "STOP")
    reset = coconut("env", "control", environment_id, "-e", "RESET", "-o", "json").json()
    assert reset["state"] == "DEPLOYED"
    pids = [int(t["pid"]) for t in remember(coconut) if t["pid"]]
    assert len(pids) == 4  # producers and consumers; the monitors run only while RUNNING

    destroyed = coconut("env", "destroy", environment_id)
    assert f"teardown complete for environment {environment_id}" in destroyed.out
    assert not any(alive(pid) for pid in pids)
    assert coconut("env", "list").out.strip() == "no environments"
    assert coconut("task", "list").out.strip() == "no tasks running"
    for consumer in consumers:  # a destroyed environment's tasks are still found by id, with their output
        shown = coconut("task", "show", consumer["taskId"], "-o", "json").json()["task"]["shortInfo"]
        assert (shown["status"], shown["state"]) == ("INACTIVE", "DONE")
        assert re.search(rf"run {run + 1}: received \d+ messages", logs(coconut, consumer["taskId"]))


def test_running_state_is_refused_to_destroy_and_bad_requests_are_one_clear_error(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo")
    remember(coconut)
    coconut("env", "control", environment_id, "-e", "START")
    refused = coconut("env", "destroy", environment_id, check=False)
    assert refused.status == 5 and "is RUNNING: stop it first" in refused.err
    assert "-a/--allow-in-running-state" in refused.err and "-f/--force" in refused.err
    wrong = coconut("env", "control", environment_id, "-e", "CONFIGURE", check=False)
    assert wrong.status == 5 and "CONFIGURE is not allowed there (allowed: STOP)" in wrong.err
    unknown = coconut("env", "show", "nosuchenv", check=False)
    assert unknown.status == 1 and "coconut: error: no environment with id nosuchenv\n" in unknown.err
    assert unknown.err.endswith("  hint: 'coconut env list' lists them\n")
    typo = environment_id[:-1] + ("x" if environment_id[-1] != "x" else "y")  # one character wrong: its id hinted
    for command in (("show", typo), ("control", typo, "-e", "STOP"), ("destroy", typo, "-a")):
        mistyped = coconut("env", *command, check=False)
        assert mistyped.status == 1, mistyped.err
        assert mistyped.err.splitlines() == [
            f"coconut: error: no environment with id {typo}",
            f"  hint: did you mean {environment_id}? ('coconut env list' lists them)",
        ]
    missing = coconut("env", "create", "-w", "no-such-workflow", check=False)
    assert missing.status == 1 and "workflow 'no-such-workflow'" in missing.err
    assert "Traceback" not in refused.err + wrong.err + unknown.err + missing.err
    coconut("env", "destroy", environment_id, "--allow-in-running-state")
    assert coconut("env", "list").out.strip() == "no environments"


@pytest.fixture
def pairs(tmp_path):
    """A template directory: a critical and a non-critical producer/consumer pair, and a hook at START."""
    root = tmp_path / "pairs-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    for name, module in (("producer", "producer"), ("consumer", "consumer")):
        (root / "tasks" / f"{name}.yaml").write_text(
            textwrap.dedent(
                f"""\
                name: {name}
                control:
                  mode: direct
                {"bind: [{name: out, type: push}]" if name == "producer" else ""}
                command:
                  stdout: stdout
                  stderr: all
                  value: python3
                  arguments: ["-m", "ecs_engine.examples.{module}"]
                """
            )
        )
    (root / "tasks" / "check.yaml").write_text(
        "name: check\ncontrol:\n  mode: basic\ncommand:\n  shell: true\n  value: '{{ check_command }}'\n"
    )
    (root / "workflows" / "pairs.yaml").write_text(
        textwrap.dedent(
            """\
            name: pairs
            defaults:
              check_command: "true"
            roles:
              - name: main
                roles:
                  - name: producer
                    task: {load: producer}
                  - name: consumer
                    connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
                    task: {load: consumer}
              - name: extra
                roles:
                  - name: producer
                    task: {load: producer, critical: false}
                  - name: consumer
                    connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
                    task: {load: consumer, critical: false}
              - name: check
                task: {load: check, trigger: before_START_ACTIVITY, timeout: 5s}
            """
        )
    )
    return root


def test_a_non_critical_crash_is_tolerated_and_a_critical_one_sends_the_environment_to_error(coconut, pairs):
    environment_id = create(coconut, "-w", "pairs", "--repo", str(pairs))
    coconut("env", "control", environment_id, "-e", "START")
    tasks = remember(coconut)
    (extra,) = [t for t in tasks if t["taskId"] in _task_ids(coconut, environment_id, "pairs.extra.consumer")]
    (main,) = [t for t in tasks if t["taskId"] in _task_ids(coconut, environment_id, "pairs.main.consumer")]

    os.kill(int(extra["pid"]), signal.SIGKILL)
    eventually(
        lambda: next(t for t in coconut.tasks() if t["taskId"] == extra["taskId"])["state"] == "ERROR",
        what="the executor saw the non-critical crash",
    )
    assert coconut.state(environment_id) == "RUNNING"

    os.kill(int(main["pid"]), signal.SIGKILL)
    eventually(lambda: coconut.state(environment_id) == "ERROR", what="environment in ERROR")
    shown = coconut("env", "show", environment_id)
    assert re.search(rf"error:\s+critical task '\S+#{main['taskId']}' on host '\S+' transitioned to ERROR", shown.out)
    coconut("env", "destroy", environment_id)


def test_a_failing_critical_hook_fails_the_transition_with_its_exit_code_and_stderr(coconut, pairs):
    environment_id = create(
        coconut, "-w", "pairs", "--repo", str(pairs), "-e", "check_command=echo disk full >&2; exit 3"
    )
    remember(coconut)
    failed = coconut("env", "control", environment_id, "-e", "START", check=False)
    assert failed.status == 1
    assert "transition START failed" in failed.err and "pairs.check" in failed.err
    assert "exit code 3: disk full" in failed.err and "the environment is now ERROR" in failed.err
    assert coconut.state(environment_id) == "ERROR"
    recovered = coconut("env", "control", environment_id, "-e", "RECOVER", "-o", "json").json()
    assert recovered["state"] == "DEPLOYED"
    coconut("env", "destroy", environment_id)


def test_after_the_core_is_killed_a_new_core_finds_the_environment_and_its_tasks(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo")
    coconut("env", "control", environment_id, "-e", "START")
    before = {t["taskId"]: t["pid"] for t in remember(coconut)}
    old_core = coconut.core_pid()
    os.kill(old_core, signal.SIGKILL)
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")

    listed = coconut("env", "list")
    assert "started the local core" in listed.err
    assert re.search(rf"{environment_id}\s+dataflow-demo\s+.*RUNNING", listed.out)
    assert coconut.core_pid() != old_core
    after = {t["taskId"]: t["pid"] for t in coconut.tasks()}
    assert after == before  # the same processes, re-attached
    stopped = coconut("env", "control", environment_id, "-e", "STOP", "-o", "json").json()
    assert stopped["state"] == "CONFIGURED"
    coconut("env", "destroy", environment_id)
    assert not any(alive(int(pid)) for pid in before.values() if pid)


def test_after_the_core_is_killed_env_show_still_says_how_the_last_transition_ended(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo")
    coconut("env", "control", environment_id, "-e", "START")
    coconut("env", "control", environment_id, "-e", "STOP")
    remember(coconut)
    keys = ("lastTransition", "lastTransitionError", "lastTransitionEnd")
    shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
    before = {key: shown.get(key) for key in keys}
    assert before["lastTransition"] == "STOP_ACTIVITY"
    old_core = coconut.core_pid()
    os.kill(old_core, signal.SIGKILL)
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")

    restarted = coconut("env", "show", environment_id, "-o", "json")
    assert "started the local core" in restarted.err
    assert {key: restarted.json()["environment"].get(key) for key in keys} == before
    coconut("env", "destroy", environment_id)


def test_after_core_stop_env_show_lists_every_task_it_counts(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo")
    remember(coconut)
    coconut("core", "stop")  # kills the tasks: the new core finds them lost

    restarted = coconut("env", "show", environment_id, "-t", "-o", "json")
    assert "started the local core" in restarted.err
    shown = restarted.json()["environment"]
    listed = shown.get("tasks", [])
    assert len(listed) == shown["numberOfTasks"] > 0
    assert [t["status"] for t in listed] == ["INACTIVE"] * shown["numberOfInactiveTasks"]
    table = coconut("env", "show", environment_id, "-t").out
    assert all(t["taskId"] in table for t in listed)
    coconut("env", "destroy", environment_id)


def _task_ids(coconut, environment_id: str, path: str) -> list[str]:
    roles = coconut("role", "query", environment_id, path, "-o", "json").json()["roles"]
    return [i for r in roles for i in r.get("taskIds", [])]


def test_kept_tasks_stay_unlocked_until_cleaned(coconut):
    environment_id = create(coconut, "-w", "dataflow-demo")
    tasks = remember(coconut)
    refused = coconut("task", "clean", tasks[0]["taskId"], check=False)
    assert refused.status == 5 and "belong to an environment" in refused.err
    coconut("env", "destroy", environment_id, "-k")
    kept = coconut.tasks()
    assert {t["taskId"] for t in kept} == {t["taskId"] for t in tasks}
    assert not any(t.get("locked") for t in kept)
    assert all(alive(int(t["pid"])) for t in kept if t["pid"])
    cleaned = coconut("task", "clean")
    assert "killed tasks:" in cleaned.out and "0 tasks running" in cleaned.out
    assert coconut("task", "list").out.strip() == "no tasks running"


def test_create_from_a_configuration_file_and_asynchronously(coconut):
    (coconut.root / "work" / "demo.json").write_text(
        '{"workflow": "dataflow-demo", "variables": {"monitor_enabled": false, "rate_hz": 50}}'
    )
    info = coconut("env", "create", "-c", "demo.json", "-o", "json").json()["environment"]
    assert info["numberOfTasks"] == 3 and info["userVars"]["rate_hz"] == "50"  # non-string JSON values re-serialised
    started = coconut("env", "create", "-w", "dataflow-demo", "-y")
    pending = re.search(r"environment (\S+) is being created", started.out).group(1)
    eventually(lambda: coconut.state(pending) == "CONFIGURED", what="asynchronous creation done")
    remember(coconut)
    for environment_id in (info["id"], pending):
        coconut("env", "destroy", environment_id)
