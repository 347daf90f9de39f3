"""Durable before reply: a core SIGKILLed the moment it has answered START or STOP loses nothing it reported.

A new core on the same directories shows the state and run number the reply gave, its journal holds the
transition's end and every task's new state, and a run number handed out is never handed out again. The tasks
are the fast OCC peer's (ecs_engine/occ/multipeer.py), so the replies come as fast as the core can give them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_engine.occ.multipeer import host_names, running_hub, write_repo
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from tests.waiting import eventually

from ..e2e.conftest import Coconut, core_gone

pytestmark = pytest.mark.slow

TASKS = 20
#: how long the test holds the core's commits back (shorter than SQLite's busy timeout of the core, 5 s)
HOLD_SECONDS = 1.0
STEPS = (
    ("START", pb.ControlEnvironmentRequest.START_ACTIVITY, "RUNNING"),
    ("STOP", pb.ControlEnvironmentRequest.STOP_ACTIVITY, "CONFIGURED"),
    ("START", pb.ControlEnvironmentRequest.START_ACTIVITY, "RUNNING"),
)


@contextlib.contextmanager
def writes_held(paths: list[Path], seconds: float) -> Iterator[None]:
    """Another process's write lock on each SQLite file for ``seconds`` from now: the core's commits to them wait
    (its busy timeout is longer), so a reply that did not wait for them would come first."""
    held = [sqlite3.connect(path, isolation_level=None, check_same_thread=False) for path in paths]
    for db in held:
        db.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, lambda: [db.execute("ROLLBACK") for db in held])
    release.start()
    try:
        yield
    finally:
        release.join()
        for db in held:
            db.close()


def _killed_right_after(coconut: Coconut, environment_id: str, optype: int) -> pb.ControlEnvironmentReply:
    """``optype``'s reply, its commits held back a while; the core is SIGKILLed as soon as the reply arrived."""
    core_pid = coconut.core_pid()
    data = coconut.root / "data"
    with (
        CoreClient(f"127.0.0.1:{coconut.port}", timeout=60, token=read_token(coconut.state_dir)) as core,
        writes_held([data / "environments.sqlite", data / "events.sqlite"], HOLD_SECONDS),
    ):
        reply = core.call("ControlEnvironment", pb.ControlEnvironmentRequest(id=environment_id, type=optype))
        os.kill(core_pid, signal.SIGKILL)
        assert not core.last_error, core.last_error
    eventually(lambda: core_gone(coconut, core_pid), what="the core gone")
    coconut("core", "start")  # a new core on the same directories
    return reply


def _journal(coconut: Coconut, environment_id: str, kind: str) -> list[dict]:
    """The payloads of the journal's events of ``kind`` for the environment, oldest first."""
    events = coconut("events", "query", "--env", environment_id, "--kind", kind, "-o", "json").json()
    return [e["event"][kind] for e in events]


def test_a_core_killed_right_after_its_reply_lost_nothing_it_reported(tmp_path):
    with running_hub(tmp_path / "hub.fifo") as fifo:
        repo = write_repo(tmp_path / "repo", fifo)
        hosts = host_names(TASKS)
        coconut = Coconut(tmp_path / "cli", {"core": {"nodes": hosts}})
        try:
            created = coconut(
                "env", "create", "-w", "scale", "--repo", str(repo), "-e", f"hosts={json.dumps(hosts)}", "-o", "json"
            ).json()["environment"]
            environment_id = created["id"]
            runs: list[int] = []
            for name, optype, state in STEPS:
                reply = _killed_right_after(coconut, environment_id, optype)
                assert reply.state == state
                shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
                assert shown["state"] == state, name
                assert int(shown.get("currentRunNumber") or 0) == reply.currentRunNumber, name
                if name == "START":
                    assert reply.currentRunNumber and all(reply.currentRunNumber > run for run in runs), (reply, runs)
                    runs.append(reply.currentRunNumber)
                ends = [
                    e
                    for e in _journal(coconut, environment_id, "environmentEvent")
                    if not e.get("transitionStep") and e.get("transitionStatus") == "DONE_OK"
                ]
                assert ends and ends[-1]["transition"] == f"{name}_ACTIVITY", ends[-1:]
                last_state = {e["taskid"]: e["state"] for e in _journal(coconut, environment_id, "taskEvent")}
                assert len(last_state) == TASKS and set(last_state.values()) == {state}, name
            coconut("env", "destroy", environment_id, "--allow-in-running-state")
            assert coconut.tasks() == []
        finally:
            coconut("core", "stop", "--force", check=False)
