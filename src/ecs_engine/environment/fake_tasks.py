"""An in-process ``TaskController``: tasks are records that follow the OCC state machine, no processes.

For unit tests and benchmarks of the engine. Everything a real executor can do to the engine can be
injected: transition failures, undeployable roles, hook results and durations, delays, and the
spontaneous task events (END_OF_STREAM, TASK_INTERNAL_ERROR, basic task exit, a lost task).
Patterns are shell-style globs over the task role path (``*readout*``).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from ecs_engine.ids import new_id
from ecs_engine.occ import states as occ
from ecs_engine.tasks.reports import ACTIVE, INACTIVE, Deployment, HookResult
from ecs_engine.template.taskrender import effective_constraints

from .taskport import (
    DeployRequest,
    KillReport,
    Task,
    TaskController,
    TaskEvent,
    TaskEventKind,
    TaskListener,
    TaskReply,
)


@dataclass
class _Failure:
    pattern: str
    event: str
    error: str
    state: str
    times: int | None


class InProcessDriver(TaskController):
    """Task records driven in memory; ``log`` records every operation in order."""

    def __init__(self) -> None:
        self._listener: TaskListener | None = None
        self.tasks: dict[str, Task] = {}  # alive tasks, across environments
        self.log: list[tuple[str, ...]] = []
        self._failures: list[_Failure] = []
        self._undeployable: dict[str, str] = {}
        self._hook_results: list[tuple[str, HookResult]] = []
        self._hook_delays: list[tuple[str, float]] = []
        self._delays: dict[str, float] = {}

    # -- injection -----------------------------------------------------------------------------------------

    def fail(self, pattern: str, event: str, error: str = "injected failure", *, state: str = occ.ERROR, times=None):
        """Tasks matching ``pattern`` end ``event`` in ``state`` with ``error`` (``times`` uses, None = always)."""
        self._failures.append(_Failure(pattern, event, error, state, times))

    def undeployable(self, pattern: str, reason: str = "no resources offered") -> None:
        self._undeployable[pattern] = reason

    def hook_result(self, pattern: str, result: HookResult) -> None:
        self._hook_results.insert(0, (pattern, result))

    def hook_delay(self, pattern: str, seconds: float) -> None:
        self._hook_delays.insert(0, (pattern, seconds))

    def delay(self, operation: str, seconds: float) -> None:
        """Make ``deploy``, ``release``, ``kill`` or a transition event (``START``...) take ``seconds``."""
        self._delays[operation] = seconds

    def clear(self) -> None:
        self._failures.clear()
        self._undeployable.clear()
        self._hook_results.clear()
        self._hook_delays.clear()
        self._delays.clear()

    # -- spontaneous task events ---------------------------------------------------------------------------

    def _emit(self, event: TaskEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    def end_of_stream(self, task: Task) -> None:
        self._emit(TaskEvent(task.id, TaskEventKind.END_OF_STREAM))

    def internal_error(self, task: Task, message: str = "device internal error") -> None:
        self._emit(TaskEvent(task.id, TaskEventKind.INTERNAL_ERROR, message=message))

    def basic_exit(self, task: Task, result: HookResult | None = None) -> None:
        """A basic task's process ends (by default successfully)."""
        self._emit(TaskEvent(task.id, TaskEventKind.TERMINATED, result=result or HookResult()))

    def process_exit(self, task: Task, result: HookResult) -> None:
        """A non-basic task's process ends by itself (its restart policy decides what follows)."""
        self.tasks.pop(task.id, None)
        self._emit(TaskEvent(task.id, TaskEventKind.EXITED, result=result))

    def set_state(self, task: Task, state: str) -> None:
        """The task changes state on its own (e.g. the device goes to ERROR)."""
        self._emit(TaskEvent(task.id, TaskEventKind.STATE, state=state))

    def lose(self, task: Task) -> None:
        """The task's process vanishes: INACTIVE and ERROR, as for a lost executor."""
        self.tasks.pop(task.id, None)
        self._emit(TaskEvent(task.id, TaskEventKind.STATUS, status=INACTIVE))
        self._emit(TaskEvent(task.id, TaskEventKind.STATE, state=occ.ERROR))

    # -- TaskController ------------------------------------------------------------------------------------

    def bind(self, listener: TaskListener) -> None:
        self._listener = listener

    async def _pause(self, operation: str) -> None:
        seconds = self._delays.get(operation, 0.0)
        if seconds:
            await asyncio.sleep(seconds)

    async def deploy(self, request: DeployRequest) -> Deployment[Task]:
        await self._pause("deploy")
        self.log.append(("deploy", *(r.path for r in request.roles)))
        out: Deployment[Task] = Deployment([])
        for role in request.roles:
            reason = next((why for pat, why in self._undeployable.items() if fnmatch.fnmatchcase(role.path, pat)), None)
            if reason is not None:
                out.undeployable[role.path] = reason
                continue
            cls = role.task_class
            constraints = dict(effective_constraints(role))
            task = Task(
                id=new_id(),
                role=role,
                environment_id=request.environment_id,
                class_name=cls.name if cls else role.load,
                hostname=constraints.get("machine_id", "localhost"),
            )
            self.tasks[task.id] = task
            out.tasks.append(task)
        return out

    def _failure(self, task: Task, event: str) -> _Failure | None:
        for failure in self._failures:
            if failure.event == event and fnmatch.fnmatchcase(task.path, failure.pattern):
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                return failure
        return None

    async def transition(self, tasks: list[Task], event: str, args: Mapping[str, str]) -> dict[str, TaskReply]:
        await self._pause(event)
        self.log.append(("transition", event, str(len(tasks))))
        replies = {}
        for task in tasks:
            failure = self._failure(task, event) if self._failures else None
            if failure is not None:
                replies[task.id] = TaskReply(failure.state, failure.error)
                continue
            reached = occ.next_state(task.state, event)
            if reached is None:
                replies[task.id] = TaskReply(task.state, f"event {event} is invalid in state {task.state}")
            else:
                replies[task.id] = TaskReply(reached)
        return replies

    async def trigger_hook(self, task: Task) -> HookResult:
        self.log.append(("hook", task.path))
        delay = next((s for pat, s in self._hook_delays if fnmatch.fnmatchcase(task.path, pat)), 0.0)
        if delay:
            await asyncio.sleep(delay)
        return next((r for pat, r in self._hook_results if fnmatch.fnmatchcase(task.path, pat)), HookResult())

    async def release(self, tasks: list[Task]) -> None:
        await self._pause("release")
        for task in tasks:
            task.locked = False

    async def kill(self, tasks: list[Task]) -> KillReport:
        await self._pause("kill")
        killed = []
        for task in tasks:
            if self.tasks.pop(task.id, None) is not None:
                killed.append(task.id)
        self.log.append(("kill", str(len(killed))))
        return KillReport(killed=killed)

    async def reattach(self, tasks: list[Task]) -> set[str]:
        alive = set()
        for task in tasks:
            known = self.tasks.get(task.id)
            if known is not None:
                task.state, task.status = known.state, ACTIVE
                self.tasks[task.id] = task
                alive.add(task.id)
        return alive
