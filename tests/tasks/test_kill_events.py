"""A killed task's end is one change, DONE and INACTIVE together: one task event, not two (a destroy of N
tasks published 2N task events and their role events for them)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ecs_engine.environment.taskport import TaskEvent, TaskEventKind
from ecs_engine.server.executor_port import ExecutorTaskController
from ecs_engine.tasks.executor import Executor

from .conftest import DUMMY, PY, request

pytestmark = pytest.mark.slow


async def test_a_killed_occ_task_is_reported_done_and_inactive_at_once(executor, recorder):
    (task,) = (await executor.deploy([request("demo.dummy", [PY, str(DUMMY)])])).tasks
    await executor.transition([task], "CONFIGURE")
    recorder.changes.clear()
    await executor.kill([task])
    assert (task.id, "DONE", "ACTIVE") not in recorder.changes  # the walk's DONE is not reported on its own
    assert recorder.changes and set(recorder.changes) == {(task.id, "DONE", "INACTIVE")}


def test_a_state_and_status_changed_together_are_one_task_event(resources):
    controller = ExecutorTaskController(Executor(resources))
    events: list[TaskEvent] = []
    controller.bind(events.append)
    task = SimpleNamespace(id="t1", state="STANDBY", status="ACTIVE")
    controller.task_changed(task)  # what the engine was last told
    task.state, task.status = "DONE", "INACTIVE"
    controller.task_changed(task)
    task.status = "ACTIVE"
    controller.task_changed(task)
    assert events == [
        TaskEvent("t1", TaskEventKind.STATE, state="DONE", status="INACTIVE"),
        TaskEvent("t1", TaskEventKind.STATUS, status="ACTIVE"),
    ]
