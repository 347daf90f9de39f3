"""A destroyed environment's tasks are found by id after the core restarts: 'task show' and 'task logs' as before."""

from __future__ import annotations

import os
import re
import signal

import pytest

from tests.e2e.conftest import core_gone, remember
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def test_a_destroyed_environments_tasks_are_found_by_id_after_the_core_is_killed(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-e", "monitor_enabled=false", "-o", "json").json()
    environment_id = created["environment"]["id"]
    coconut("env", "control", environment_id, "-e", "START")
    (consumer,) = [t for t in remember(coconut) if "consumer" in t["className"]]
    received = re.compile(r"run \d+: received [1-9]\d* messages")

    def logs() -> str:
        return coconut("task", "logs", consumer["taskId"], "-s", "stdout").out

    eventually(lambda: received.search(logs()), what="the consumer receiving")
    coconut("env", "destroy", environment_id, "-a")
    before = coconut("task", "show", consumer["taskId"], "-o", "json").json()["task"]
    old_core = coconut.core_pid()
    os.kill(old_core, signal.SIGKILL)  # what the destroy answered is on disk: nothing after it is needed
    eventually(lambda: core_gone(coconut, old_core), what="the core gone")

    shown = coconut("task", "show", consumer["taskId"], "-o", "json")
    assert "started the local core" in shown.err
    after = shown.json()["task"]
    assert after == before and (after["shortInfo"]["status"], after["shortInfo"]["state"]) == ("INACTIVE", "DONE")
    assert after["envId"] == environment_id and after["shortInfo"]["environmentId"] == environment_id
    assert received.search(logs())  # its output file, where it was
    assert coconut("task", "list").out.strip() == "no tasks running"  # found by id, not listed
