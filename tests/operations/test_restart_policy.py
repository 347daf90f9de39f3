"""Restart policies (issue 20): a non-critical task whose process ends by itself comes back, with a back-off and a
crash-loop guard, and an OCC task comes back to the environment's state with the current run's arguments.

Real core, real processes (coconut in-process against the embedded core, as tests/e2e).
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from ecs_engine.config import Configuration
from ecs_engine.errors import TemplateError
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from tests.e2e.conftest import remember
from tests.waiting import eventually

pytestmark = pytest.mark.slow

SLEEPER = """\
name: sleeper
control: {mode: basic}
command: {value: sleep, arguments: ["100000"]}
"""
FAILING = """\
name: failing
control: {mode: basic}
command: {value: "false"}
"""
PRODUCER = """\
name: producer
control: {mode: direct}
restart: {policy: on-failure, max: 3, window: 60s, backoff: 100ms}
bind:
  - {name: out, type: push}
command:
  stdout: stdout
  value: python3
  arguments: ["-m", "ecs_engine.examples.producer", "--rate=1"]
"""


def workflow(name: str, roles: str) -> str:
    return f"name: {name}\nroles:\n{roles}"


def task_of(coconut, class_name: str) -> dict | None:
    tasks = [t for t in remember(coconut) if t["className"].split("/")[-1].split("@")[0] == class_name]
    return tasks[0] if tasks else None


def restarted(coconut, class_name: str, count: int, *, state: str) -> dict:
    """The task of ``class_name`` once it is its role's ``count``-th restart, ACTIVE in ``state``."""

    def check():
        task = task_of(coconut, class_name)
        ok = task and task["restarts"] == count and task["status"] == "ACTIVE" and task["state"] == state
        return task if ok and task["pid"] else None

    return eventually(check, timeout=30, what=f"{class_name} restarted {count} time(s), {state}")


def running(coconut, repo, workflow_name: str) -> str:
    """Create an environment of ``workflow_name`` and START it; its id."""
    created = coconut("env", "create", "-w", workflow_name, "--repo", str(repo.root), "-o", "json").json()
    env_id = created["environment"]["id"]
    coconut("env", "control", env_id, "-e", "START")
    return env_id


def messages(coconut, environment_id: str) -> list[str]:
    entries = coconut("events", "query", "--env", environment_id, "-o", "json").json()
    return [str(e["event"].get("environmentEvent", {}).get("message", "")) for e in entries]


def test_a_monitor_killed_three_times_is_restarted_three_times_and_the_run_goes_on(coconut, repo):
    repo.task("sleeper", SLEEPER)
    repo.workflow(
        "monitored",
        workflow(
            "monitored",
            "  - name: monitor\n"
            "    task: {load: sleeper, critical: false, restart: {policy: on-failure, max: 5, backoff: 100ms}}\n",
        ),
    )
    env_id = running(coconut, repo, "monitored")
    assert coconut.state(env_id) == "RUNNING"
    task = restarted(coconut, "sleeper", 0, state="RUNNING")
    for count in (1, 2, 3):
        os.kill(int(task["pid"]), signal.SIGKILL)
        task = restarted(coconut, "sleeper", count, state="RUNNING")
        assert coconut.state(env_id) == "RUNNING"
    assert re.search(r"^task restarts:\s+3 ", coconut("env", "show", env_id).out, re.M)
    assert sum("restarted (restart" in m for m in messages(coconut, env_id)) == 3
    coconut("env", "control", env_id, "-e", "STOP")
    coconut("env", "destroy", env_id)


def test_a_crash_loop_stops_after_max_restarts_with_an_event_saying_why(coconut, repo):
    repo.task("failing", FAILING)
    repo.task("sleeper", SLEEPER)
    repo.workflow(
        "looping",
        workflow(
            "looping",
            "  - name: broken\n"
            "    task: {load: failing, critical: false, restart: {policy: always, max: 2, backoff: 50ms}}\n"
            "  - name: steady\n"
            "    task: {load: sleeper, critical: false}\n",
        ),
    )
    env_id = running(coconut, repo, "looping")
    loop = eventually(
        lambda: [m for m in messages(coconut, env_id) if "crash loop" in m], timeout=30, what="the crash-loop event"
    )
    assert "(2 restarts within 60s, restart max 2)" in loop[0]
    assert sum("restarted (restart" in m for m in messages(coconut, env_id)) == 2
    broken = task_of(coconut, "failing")
    assert broken is not None and broken["restarts"] == 2  # and no third
    assert coconut.state(env_id) == "RUNNING"
    coconut("env", "control", env_id, "-e", "STOP")
    coconut("env", "destroy", env_id)


def test_on_failure_leaves_a_task_that_exited_with_code_0_down(coconut, repo):
    repo.task("done", FAILING.replace("failing", "done").replace('"false"', '"true"'))
    repo.task("sleeper", SLEEPER)
    repo.workflow(
        "finishing",
        workflow(
            "finishing",
            "  - name: once\n"
            "    task: {load: done, critical: false, restart: {policy: on-failure, backoff: 50ms}}\n"
            "  - name: steady\n"
            "    task: {load: sleeper, critical: false}\n",
        ),
    )
    env_id = running(coconut, repo, "finishing")
    said = eventually(
        lambda: [m for m in messages(coconut, env_id) if "not restarted" in m], timeout=30, what="the event"
    )
    assert said[0].endswith("exited with code 0: not restarted (restart policy on-failure)")
    assert task_of(coconut, "done")["restarts"] == 0
    coconut("env", "control", env_id, "-e", "STOP")
    coconut("env", "destroy", env_id)


def test_a_restarted_occ_task_is_running_with_the_current_run_number(coconut, repo):
    repo.task("producer", PRODUCER)
    repo.workflow("occ", workflow("occ", "  - name: producer\n    task: {load: producer, critical: false}\n"))
    env_id = running(coconut, repo, "occ")
    run = coconut("env", "show", env_id, "-o", "json").json()["environment"]["currentRunNumber"]
    assert run
    first = restarted(coconut, "producer", 0, state="RUNNING")
    os.kill(int(first["pid"]), signal.SIGKILL)
    again = restarted(coconut, "producer", 1, state="RUNNING")
    assert again["taskId"] != first["taskId"]
    eventually(
        lambda: f"run {run}: started" in coconut("task", "logs", again["taskId"], "-s", "stdout").out,
        what=f"the new process started with run {run}",
    )
    assert coconut.state(env_id) == "RUNNING"
    coconut("env", "control", env_id, "-e", "STOP")
    coconut("env", "destroy", env_id)


def test_the_role_restart_policy_beats_the_task_template_one(repo):
    repo.task("producer", PRODUCER)
    repo.workflow(
        "both",
        workflow(
            "both",
            "  - name: own\n    task: {load: producer, critical: false, restart: {policy: always, max: 7}}\n"
            "  - name: inherited\n    task: {load: producer, critical: false}\n",
        ),
    )
    expander = make_expander(
        DirectorySource(repo.root), plugins=plugin_manager(), config=Configuration.from_tree({}), offline=True
    )
    roles = {r.name: r for r in expander.expand("both").task_roles()}
    assert (roles["own"].restart_policy.policy, roles["own"].restart_policy.max) == ("always", 7)
    assert (roles["inherited"].restart_policy.policy, roles["inherited"].restart_policy.max) == ("on-failure", 3)


def test_a_bad_restart_policy_is_one_error_naming_the_field(repo):
    repo.task("sleeper", SLEEPER)
    repo.workflow("bad", workflow("bad", "  - name: m\n    task: {load: sleeper, restart: {policy: sometimes}}\n"))
    expander = make_expander(
        DirectorySource(repo.root), plugins=plugin_manager(), config=Configuration.from_tree({}), offline=True
    )
    with pytest.raises(TemplateError) as caught:
        expander.expand("bad")
    assert caught.value.field == "task.restart.policy" and "on-failure or always" in caught.value.message
