"""The executor behind the engine's task port: engine tasks <-> the executor's task processes, same ids.

The engine (``ecs_engine.environment``) asks for deployments, transitions, hooks, releases and kills of
its ``Task`` records; the executor (``ecs_engine.tasks``) does them with real processes. What the executor
learns on its own (state changes, device events, exits) it tells this adapter as its ``ExecutorListener``,
which passes it on as ``TaskEvent``s. Executor records of live tasks are kept in the task registry, from
which a restarted core re-attaches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from ecs_engine.environment.taskport import (
    DeployRequest,
    KillReport,
    Task,
    TaskController,
    TaskEvent,
    TaskEventKind,
    TaskListener,
    TaskReply,
)
from ecs_engine.errors import HandledError
from ecs_engine.offload import offload
from ecs_engine.tasks.executor import Executor
from ecs_engine.tasks.model import BASIC, TaskProcess
from ecs_engine.tasks.reports import Deployment, HookResult
from ecs_engine.tasks.requests import task_request
from ecs_engine.template.model import Role

DEVICE_EVENTS = {"END_OF_STREAM": TaskEventKind.END_OF_STREAM, "TASK_INTERNAL_ERROR": TaskEventKind.INTERNAL_ERROR}


class ExecutorTaskController(TaskController):
    """A ``TaskController`` over an ``Executor``, and the executor's listener."""

    def __init__(self, executor: Executor):
        self.executor = executor
        executor.listener = self
        self._listener: TaskListener | None = None
        self._reported: dict[str, tuple[str, str]] = {}

    # -- what the executor reports (ExecutorListener) --------------------------------------------------------

    def _emit(self, event: TaskEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    def task_changed(self, task: TaskProcess) -> None:
        before = self._reported.get(task.id)
        self._reported[task.id] = (task.state, task.status)
        if before is None:
            return
        status = task.status if task.status != before[1] else ""
        if task.state != before[0]:  # a process's end changes both: one event (a task event and role events less)
            self._emit(TaskEvent(task.id, TaskEventKind.STATE, state=task.state, status=status))
        elif status:
            self._emit(TaskEvent(task.id, TaskEventKind.STATUS, status=status))

    def device_event(self, task: TaskProcess, event: str) -> None:
        kind = DEVICE_EVENTS.get(event)
        if kind is not None:
            self._emit(TaskEvent(task.id, kind, message=f"{event} from {task.request.role_path}"))

    def task_ended(self, task: TaskProcess, result: HookResult, expected: bool) -> None:
        if not expected:
            kind = TaskEventKind.TERMINATED if task.mode == BASIC else TaskEventKind.EXITED
            self._emit(TaskEvent(task.id, kind, result=result))

    # -- TaskController ---------------------------------------------------------------------------------------

    def bind(self, listener: TaskListener) -> None:
        self._listener = listener

    async def deploy(self, request: DeployRequest) -> Deployment[Task]:
        out: Deployment[Task] = Deployment([])
        if request.expander is None or request.workflow is None:
            for role in request.roles:
                out.undeployable[role.path] = (
                    "the environment was reloaded after a core restart: its templates are not loaded"
                )
            return out
        requests = []
        for role in request.roles:
            try:
                requests.append(task_request(request.expander, request.workflow, role, request.environment_id))
            except HandledError as exc:
                out.undeployable[role.path] = exc.render_plain()  # a reason every client reads: no coconut hint
        planned = []
        for role in request.planned if self.executor.resources.sizes_allocations else ():
            with contextlib.suppress(HandledError):  # its own deploy will say what is wrong with it
                planned.append(task_request(request.expander, request.workflow, role, request.environment_id))
        by_path = {r.path: r for r in request.roles}
        deployment = await self.executor.deploy(requests, planned)
        out.undeployable.update(deployment.undeployable)
        for task in deployment.tasks:
            out.tasks.append(self._engine_task(task, by_path[task.request.role_path]))
        return out

    def _engine_task(self, task: TaskProcess, role: Role) -> Task:
        self._reported[task.id] = (task.state, task.status)
        return Task(
            id=task.id,
            role=role,
            environment_id=task.environment_id,
            class_name=task.request.class_name,
            hostname=task.node.name,
            state=task.state,
            status=task.status,
            locked=task.locked,
            data={"pid": task.pid, "control_port": task.control_port},
        )

    def _executor_tasks(self, tasks: list[Task]) -> list[TaskProcess]:
        return [self.executor.tasks[t.id] for t in tasks if t.id in self.executor.tasks]

    async def transition(self, tasks: list[Task], event: str, args: Mapping[str, str]) -> dict[str, TaskReply]:
        mine = self._executor_tasks(tasks)
        errors = await self.executor.transition(mine, event, list(args.items()))
        replies = {}
        for task in tasks:
            own = self.executor.tasks.get(task.id)
            if own is None:
                replies[task.id] = TaskReply(task.state, "the task is gone")
                continue
            self._reported[own.id] = (own.state, own.status)
            task.data.update(pid=own.pid)
            replies[task.id] = TaskReply(own.state, errors.get(task.id, ""))
        return replies

    async def trigger_hook(self, task: Task) -> HookResult:
        own = self.executor.tasks.get(task.id)
        if own is None:
            return HookResult(exit_code=-1, voluntary=False, final_status="LOST", stderr="the hook task is gone")
        return await self.executor.trigger_hook(own, timeout=0)  # the engine's own time limit cancels us

    async def release(self, tasks: list[Task]) -> None:
        mine = self._executor_tasks(tasks)
        for own in mine:
            own.locked = False
        released = {own.id for own in mine}
        for task in tasks:  # (a search of ``tasks`` per task was O(N²): about 1 s of a 5,000-task destroy)
            if task.id in released:
                task.locked = False
        if self.executor.registry is not None:
            await offload(self.executor.registry.put_many, [t.record() for t in mine])

    async def kill(self, tasks: list[Task]) -> KillReport:
        mine = self._executor_tasks(tasks)
        killed = await self.executor.kill(mine)
        for task in killed:
            self._reported.pop(task.id, None)
        running = [t.id for t in mine if t.process is not None and t.process.alive()]
        still = set(running)
        return KillReport(killed=[t.id for t in killed if t.id not in still], running=running)

    async def reattach(self, tasks: list[Task]) -> set[str]:
        registry = self.executor.registry
        records = {r["id"]: r for r in await offload(registry.records)} if registry is not None else {}
        alive: set[str] = set()
        for task in tasks:
            own = self.executor.tasks.get(task.id)
            if own is None and task.id in records:
                with contextlib.suppress(HandledError):
                    own = await self.executor.reattach(records[task.id])
            if own is None:
                continue
            if own.request.is_occ:  # the process said where it is; others keep what the engine stored
                task.state = own.state
            else:
                own.state = task.state
            task.status = own.status
            self._reported[own.id] = (own.state, own.status)
            alive.add(task.id)
        return alive
