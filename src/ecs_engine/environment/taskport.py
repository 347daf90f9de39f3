"""The task-control interface: how the engine has its tasks deployed, transitioned, triggered and killed.

The engine never starts a process. It asks a ``TaskController`` (the executor of the core: local
processes over OCC; the in-process ``InProcessDriver`` for tests and benchmarks) and listens to the
``TaskEvent``s the controller reports about tasks changing on their own (a process died, a device sent
END_OF_STREAM, a basic task ended). One controller serves every environment of a manager.

Contract, per method:

- ``deploy(request)``: start one task per role of ``request.roles`` (idle for hook roles) and return them
  as ``Task`` records (status ACTIVE, state STANDBY once controllable). Roles that cannot be placed go into
  ``Deployment.undeployable`` with the reason; the engine decides (critical role: DEPLOY fails).
- ``transition(tasks, event, args)``: send the OCC ``event`` (CONFIGURE, RESET, START, STOP, EXIT, RECOVER)
  with ``args`` (plus whatever per-task properties the executor builds, e.g. CONFIGURE's property map from
  ``task.role``) to every task at once; return one ``TaskReply`` per task id: the state reached and the
  error if the task did not reach the event's state. Basic tasks: START starts the process, STOP kills it,
  other events succeed without effect.
- ``trigger_hook(task)``: run the hook task's process once and return its ``HookResult`` when it ends. The
  engine applies the role's timeout by cancelling the call: a cancelled ``trigger_hook`` must stop the process.
- ``release(tasks)``: the environment lets go of the tasks (they stay alive, unlocked and claimable).
- ``kill(tasks)``: stop the processes for good; return the ids killed and the ids still running.
- ``reattach(tasks)``: after a restart of the core, find the tasks of a reloaded environment; return the
  ids found alive (their ``state``/``status`` updated in place). The others are marked lost.
- ``bind(listener)``: the manager registers the callback that receives every ``TaskEvent``.

What both sides of this port report, the executor included, is ``tasks.reports`` (task statuses,
``HookResult``, ``Deployment``): the executor cannot import ``environment``. The records here (``Task``,
``DeployRequest``, ``TaskReply``, ``KillReport``, ``TaskEvent``) are the engine's own.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_engine.occ.states import STANDBY
from ecs_engine.tasks.reports import ACTIVE, Deployment, HookResult
from ecs_engine.template.model import Role, Workflow

#: environment event -> the OCC event sent to the tasks at the end of leave_<state>
TASK_EVENTS = {
    "CONFIGURE": "CONFIGURE",
    "RESET": "RESET",
    "START_ACTIVITY": "START",
    "STOP_ACTIVITY": "STOP",
    "GO_ERROR": "STOP",
    "EXIT": "EXIT",
}


@dataclass(eq=False)
class Task:
    """One task of an environment, as the engine sees it; ``data`` is the executor's own (persisted)."""

    id: str
    role: Role
    environment_id: str
    class_name: str
    hostname: str = ""
    state: str = STANDBY
    status: str = ACTIVE
    locked: bool = True
    safe_to_stop: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0  # how many times its role's task was restarted (environment/restarts.py)

    @property
    def path(self) -> str:
        """The path of the task role that owns this task (``task_parent_role``)."""
        return self.role.path

    @property
    def name(self) -> str:
        return f"{self.class_name}#{self.id}"

    @property
    def is_hook(self) -> bool:
        return self.role.is_hook

    @property
    def is_basic(self) -> bool:
        cls = self.role.task_class
        return cls is not None and cls.is_basic

    @property
    def critical(self) -> bool:
        return self.role.critical


@dataclass
class DeployRequest:
    """What to deploy for one environment.

    ``expander`` (the template expander of the environment) builds the commands and stacks of these roles;
    it is None for an environment reloaded from the store, whose roles come from its snapshot. ``planned`` are
    roles the environment deploys next (a hook before DEPLOY is deployed before the rest): a controller may place
    them now, so that a batch system sizes each node's allocation for all of them (the executor does).
    """

    environment_id: str
    roles: list[Role]
    workflow: Workflow | None = None
    expander: Any = None
    planned: list[Role] = field(default_factory=list)


@dataclass(frozen=True)
class TaskReply:
    """Where one task is after a transition, and the error if that is not the event's state."""

    state: str
    error: str = ""


@dataclass(frozen=True)
class KillReport:
    """The ids of the tasks killed and of those whose process still runs."""

    killed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)


class TaskEventKind(enum.StrEnum):
    """What a ``TaskEvent`` reports, and which of its fields carries it."""

    STATE = "state"  # a new ``state`` (and ``status``, when it changed with it: one change, one task event)
    STATUS = "status"  # a new ``status`` (ACTIVE/INACTIVE)
    END_OF_STREAM = "end_of_stream"  # a device said its data ended
    INTERNAL_ERROR = "internal_error"  # a device said TASK_INTERNAL_ERROR (``message``)
    TERMINATED = "terminated"  # a basic task ended by itself (``result``)
    EXITED = "exited"  # another task's process ended by itself (``result``): its restart policy decides


@dataclass(frozen=True)
class TaskEvent:
    """Something a task did on its own, reported by the controller."""

    task_id: str
    kind: TaskEventKind
    state: str = ""
    status: str = ""
    message: str = ""
    result: HookResult | None = None


TaskListener = Callable[[TaskEvent], None]


class TaskController(abc.ABC):
    """Deploys and drives the tasks of every environment (see the module docstring for the contract)."""

    @abc.abstractmethod
    def bind(self, listener: TaskListener) -> None: ...

    @abc.abstractmethod
    async def deploy(self, request: DeployRequest) -> Deployment[Task]: ...

    @abc.abstractmethod
    async def transition(self, tasks: list[Task], event: str, args: Mapping[str, str]) -> dict[str, TaskReply]: ...

    @abc.abstractmethod
    async def trigger_hook(self, task: Task) -> HookResult: ...

    @abc.abstractmethod
    async def release(self, tasks: list[Task]) -> None: ...

    @abc.abstractmethod
    async def kill(self, tasks: list[Task]) -> KillReport: ...

    async def reattach(self, tasks: list[Task]) -> set[str]:
        """Tasks of a reloaded environment found alive; by default none (they are marked lost)."""
        return set()
