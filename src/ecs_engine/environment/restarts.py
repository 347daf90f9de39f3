"""Restarting a non-critical task whose process ended by itself, as its role's ``restart`` policy says
(``template/restart.py``), and bringing the new process back to the environment's state.

One ``TaskRestarts`` per environment. An end the core did not ask for is restarted if the policy wants it
(``on-failure``: not exit code 0; ``always``) and the role had fewer than ``max`` restarts within ``window``;
otherwise the task stays down and an environment event says why (a crash loop). The restart waits its back-off
outside the environment's transition slot, then holds the slot (named ``RESTART``) while it replaces the
process and walks the new one to the environment's state: DEPLOYED -> CONFIGURE -> START with the current run's
arguments, so no transition or teardown runs meanwhile. A relaunch that fails counts as another end.
Critical tasks and hooks are never restarted (a critical task's end still sends the environment to ERROR).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ecs_engine.durations import format_duration
from ecs_engine.errors import HandledError
from ecs_engine.fsm import Event, State
from ecs_engine.tasks.reports import ACTIVE, HookResult
from ecs_engine.template.model import Role
from ecs_engine.template.restart import RestartPolicy

from .taskport import TASK_EVENTS, Task

log = logging.getLogger(__name__)

#: the environment's state -> the events that bring a freshly deployed task (STANDBY) there
CATCH_UP = {
    State.CONFIGURED: (Event.CONFIGURE,),
    State.RUNNING: (Event.CONFIGURE, Event.START_ACTIVITY),
}
SLOT = "RESTART"
#: the severity of the events about a task that failed or stays down (docs/operations.md: an environment warning)
WARNING = "warning"
ERROR = "error"
#: why a task of an environment reloaded after a core restart is not restarted (its templates are not loaded)
RELOADED = "not restarted: the environment was reloaded after a core restart (restart policies do not survive it)"


class RestartHost(Protocol):
    """What ``TaskRestarts`` needs of its environment (``Environment`` is one)."""

    id: str
    state: State
    destroyed: bool

    @property
    def workflow(self) -> object | None:  # None: reloaded after a core restart, without its templates
        ...

    @property
    def busy(self) -> tuple[str, int] | None: ...

    def env_event(self, **fields: Any) -> None: ...

    def warn(self, message: str) -> None: ...

    def persist(self, *, destroyed: bool = False) -> None: ...

    async def wait_slot_free(self) -> bool: ...

    def slot(self, name: str) -> contextlib.AbstractContextManager[None]: ...

    async def forget_tasks(self, tasks: list[Task]) -> None: ...

    async def deploy_roles(self, roles: list[Role]) -> list[Task]: ...

    def task_arguments(self, event: str) -> dict[str, str]: ...

    async def transition_tasks(
        self, tasks: list[Task], occ_event: str, args: dict[str, str], *, ignore_errors: bool = False
    ) -> None: ...


def how_it_ended(result: HookResult | None) -> str:
    """``killed by signal 9``, ``exited with code 1``... (the executor's words); None: a relaunch that failed."""
    if result is None:
        return "did not start again"
    return result.how


class TaskRestarts:
    """The restart policy of one environment's tasks at work: back-off, crash-loop guard, catching up."""

    def __init__(self, host: RestartHost, spawn: Callable[[Coroutine[Any, Any, None]], object], deploy_timeout: float):
        self.host = host
        self._spawn = spawn
        self._deploy_timeout = deploy_timeout
        self._recent: dict[str, list[float]] = {}  # role path -> when its restarts within the window were decided
        self._pending: set[str] = set()  # ids of the ended tasks whose restart is under way

    def task_ended(self, task: Task, result: HookResult | None) -> bool:
        """``task``'s process ended by itself: restart it if its policy says so (True), else say why not. A
        task that is not restarted and failed is said in an event: its exit code, or signal, is otherwise only in
        its role's ``taskResult`` (a basic task that fails at once is done, as in AliECS, not an error)."""
        policy = task.role.restart_policy
        host = self.host
        if task.is_hook or task.id in self._pending:
            return False
        how = how_it_ended(result)
        if policy is None or task.critical:
            if result is not None and not result.ok and not host.destroyed:
                why = f": {RELOADED}" if host.workflow is None and not task.critical else ""
                # a critical task's end sends the environment to ERROR: the first sign of it is an error too
                severity = ERROR if task.critical else WARNING
                host.env_event(message=f"task {task.name} ({task.path}) {how}{why}", severity=severity)
            return False
        if host.destroyed or host.state in (State.ERROR, State.DONE):
            return False
        if not policy.restarts_after(result is None or not result.ok):
            host.env_event(message=f"task {task.name} ({task.path}) {how}: not restarted (restart policy on-failure)")
            return False
        now = time.monotonic()
        recent = [t for t in self._recent.get(task.path, []) if now - t < policy.window]
        self._recent[task.path] = recent
        if len(recent) >= policy.max:
            reason = (
                f"task {task.name} ({task.path}) {how}: not restarted, it stays down: crash loop "
                f"({len(recent)} restarts within {policy.window_text}, restart max {policy.max})"
            )
            host.warn(reason)
            host.env_event(message=reason, severity=WARNING)
            return False
        recent.append(now)
        self._pending.add(task.id)
        self._spawn(self._restart(task, policy, len(recent), how))
        return True

    async def _restart(self, task: Task, policy: RestartPolicy, attempt: int, how: str) -> None:
        host = self.host
        delay = policy.delay(attempt)
        host.env_event(
            message=f"task {task.name} ({task.path}) {how}: restarting in {format_duration(delay)} "
            f"(restart {attempt} of at most {policy.max} within {policy.window_text})",
            severity=WARNING,
        )
        relaunched = False
        try:
            await asyncio.sleep(delay)
            # the slot: no transition or teardown while the process is replaced
            if not await host.wait_slot_free() or host.state in (State.ERROR, State.DONE):
                return
            with host.slot(SLOT):
                relaunched = await self._relaunch(task)
                host.persist()
        except HandledError as exc:
            host.warn(f"restart of task {task.name} ({task.path}) failed: {exc.message}")
        finally:
            self._pending.discard(task.id)
        if not relaunched and not host.destroyed:
            task.restarts += 1  # the attempt counts; the next end of this role is decided as usual
            self.task_ended(task, None)

    async def _relaunch(self, task: Task) -> bool:
        """Replace ``task``'s process and walk the new one to the environment's state; False if it could not."""
        host = self.host
        await host.forget_tasks([task])
        try:
            async with asyncio.timeout(self._deploy_timeout):
                fresh = await host.deploy_roles([task.role])
        except TimeoutError:
            fresh = []
        if not fresh or fresh[0].status != ACTIVE:
            host.env_event(
                message=f"restart of task {task.name} ({task.path}): the new process did not start", severity=WARNING
            )
            return False
        new = fresh[0]
        new.restarts = task.restarts + 1
        try:
            for event in CATCH_UP.get(host.state, ()):
                await host.transition_tasks([new], TASK_EVENTS[event], host.task_arguments(event))
        except HandledError:  # (its CONFIGURE timed out...): let go, or it runs on beside the next attempt's
            await host.forget_tasks([new])
            raise
        host.env_event(
            message=f"task {task.path} restarted (restart {new.restarts}): {new.name} is {new.status} {new.state}"
        )
        log.info("environment %s: task %s restarted as %s (%s)", host.id, task.path, new.name, new.state)
        return True
