"""Scale (issue 19): an environment of hundreds of tasks is created on default settings.

The tasks are the fast OCC peer's (ecs_engine/occ/multipeer.py: one hub process serves every control port), so
the core's own deployment is what is tested: launches, port allocation, readiness checks and their deadlines.
"""

from __future__ import annotations

import json

import pytest

from ecs_engine.occ.multipeer import host_names, running_hub, write_repo
from tests.waiting import eventually

from .conftest import Coconut, alive

pytestmark = pytest.mark.slow

TASKS = 300


def test_a_300_task_environment_is_created_on_default_settings(tmp_path):
    with running_hub(tmp_path / "hub.fifo") as fifo:
        repo = write_repo(tmp_path / "repo", fifo)
        hosts = host_names(TASKS)
        # default settings: no timeout raised, and the default port search (no core.ports range)
        coconut = Coconut(tmp_path / "cli", {"core": {"nodes": hosts, "ports": ""}})
        try:
            created = coconut(
                "env", "create", "-w", "scale", "--repo", str(repo), "-e", f"hosts={json.dumps(hosts)}", "-o", "json"
            ).json()["environment"]
            assert created["state"] == "CONFIGURED"
            tasks = coconut.tasks()
            assert len(tasks) == TASKS and {t["state"] for t in tasks} == {"CONFIGURED"}
            coconut("env", "destroy", created["id"])
            pids = [int(t["pid"]) for t in tasks]
            eventually(lambda: not any(alive(pid) for pid in pids), what="every task process gone")
        finally:
            coconut("core", "stop", "--force", check=False)
