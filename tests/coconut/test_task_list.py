"""``task list`` says which environment each task belongs to, fits 80 columns, and filters by environment."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from coconut.cli import main
from coconut.context import CliContext
from ecs_engine.ids import new_id
from ecs_engine.protocols import o2control_pb2, o2control_pb2_grpc

from ..e2e.conftest import coconut as real_coconut  # noqa: F401  (a real core of its own, coconut in-process)
from .conftest import loopback_service

ENVIRONMENTS = [new_id() for _ in range(3)]


def _task(environment: str, name: str, **fields) -> o2control_pb2.ShortTaskInfo:
    usual = dict(status="ACTIVE", state="RUNNING", pid="4194303", critical=True)
    return o2control_pb2.ShortTaskInfo(
        taskId=new_id(),
        environmentId=environment,
        locked=bool(environment),
        className=f"github.com/AliceO2Group/ControlWorkflows/tasks/{name}@master",
        deploymentInfo=o2control_pb2.TaskDeploymentInfo(hostname="alio2-cr1-flp146"),
        **{**usual, **fields},
    )


class Control(o2control_pb2_grpc.ControlServicer):
    """Three environments' tasks, one of them restarted and not critical, and a released one."""

    tasks = [
        *(_task(env, "readout") for env in ENVIRONMENTS),
        _task(ENVIRONMENTS[1], "stfbuilder", critical=False, restarts=2),
        _task("", "stfsender", state="STANDBY", claimable=True),
    ]

    def GetTasks(self, request, context):
        return o2control_pb2.GetTasksReply(tasks=self.tasks)


def test_task_list_says_each_tasks_environment_in_80_columns(tmp_path):
    out = io.StringIO()
    cli = CliContext(stdout=out, stderr=io.StringIO(), environ={}, config_dir=tmp_path, state_dir=tmp_path)
    cli.__dict__["console"] = Console(file=out, force_terminal=True, no_color=True, width=80)
    with loopback_service(Control(), o2control_pb2_grpc.add_ControlServicer_to_server) as endpoint:
        assert main(["--endpoint", endpoint, "task", "list"], cli=cli) == 0

    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # the header's style
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert next(line for line in lines if "task id" in line).split() == [
        "task",
        "id",
        "environment",
        "class",
        "host",
        "state",
    ]
    for task in Control.tasks:  # one line each: its id, then its environment's (none: released)
        (row,) = [line.split() for line in lines if task.taskId in line]
        assert row[:2] == [task.taskId, task.environmentId] if task.environmentId else row[1] == "stfsender"
    assert "non-critical" in text and "restarts:2" in text and "claimable" in text  # the state cell says it


@pytest.mark.slow
def test_task_list_filters_by_environment_and_says_none_for_released_tasks(real_coconut):  # noqa: F811
    coconut = real_coconut
    ids = []
    for _ in range(2):
        created = coconut("env", "create", "-w", "dataflow-demo", "-e", "monitor_enabled=false", "-o", "json")
        ids.append(created.json()["environment"]["id"])
    kept, released = ids
    coconut("env", "destroy", released, "-k")  # its tasks stay, unlocked: in no environment

    tasks = coconut.tasks()
    assert {t["environmentId"] for t in tasks} == {kept, ""}
    assert all(t["locked"] == bool(t["environmentId"]) for t in tasks)
    mine = coconut("task", "list", "--env", kept, "-o", "json").json()["tasks"]
    assert mine and mine == [t for t in tasks if t["environmentId"] == kept]
    text = coconut("task", "list", "--env", kept).out
    assert {re.split(r"\s+", line.strip())[1] for line in text.splitlines()[3:] if line.strip()} == {kept}

    unknown = coconut("task", "list", "--env", released, check=False)
    assert unknown.status == 1 and f"error: no environment with id {released}" in unknown.err
    coconut("task", "clean")
    coconut("env", "destroy", kept)
