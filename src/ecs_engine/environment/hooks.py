"""Running the hooks of a moment: calls started at their trigger and collected at their await, task hooks.

Per moment (reference §2.3): the weights triggered now and the weights of calls pending await here, in
ascending order, the negative ones before the moment's built-in work and the others after it. At each
weight: start the calls triggered there (each registered under its await moment and weight, possibly in a
later transition), collect every call awaited there, then run the task hooks of the weight concurrently
(each within its role's timeout). A critical failure at a weight ends the moment: the remaining weights
are skipped and the step fails with the aggregated message. Non-critical failures become warnings.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ecs_engine.durations import format_duration
from ecs_engine.events import model
from ecs_engine.template.model import Role
from ecs_engine.template.triggers import Trigger

from .calls import Call, CallHost


class HookHost(CallHost, Protocol):
    """What the hooks of a moment need of their environment besides what calls need."""

    def warn(self, message: str) -> None: ...

    async def run_task_hook(self, role: Role) -> str:
        """Run the hook task of ``role`` to its end; "" or the error."""
        ...


#: the engine's own work inside a step, run between the negative and the non-negative weights
StepWork = Callable[[], Awaitable[None] | None]

#: a call must return within its timeout plus this margin (plugins honour ``__call_timeout`` themselves)
CALL_GRACE = 2.0
#: more critical failures than this at one weight are summarised
MAX_LISTED_FAILURES = 3


class HookError(Exception):
    """Critical hooks failed at one weight of a moment; ``message`` is the aggregated text."""

    def __init__(self, message: str, failures: list[str]):
        super().__init__(message)
        self.message = message
        self.failures = failures


def aggregate_failures(failures: list[str], trigger: Trigger) -> str:
    """1–3 messages joined by "; ", more summarised with the trigger they failed at."""
    if len(failures) <= MAX_LISTED_FAILURES:
        return "; ".join(failures)
    return f"{len(failures)} critical hooks failed at trigger {trigger} (see the environment's events for details)"


@dataclass
class _Pending:
    call: Call
    task: asyncio.Task[bool]


class HookScheduler:
    """The hooks of one environment: an index of triggers and the calls pending await."""

    def __init__(self, env: HookHost, roles: list[Role]):
        self.env = env
        self._by_moment: dict[str, list[tuple[int, Role]]] = defaultdict(list)  # moment -> (weight, role)
        for role in roles:
            traits = role.traits
            if traits is None or traits.trigger is None or role.kind not in ("task", "call"):
                continue
            self._by_moment[traits.trigger.moment].append((traits.trigger.weight, role))
        self._pending: dict[tuple[str, int], list[_Pending]] = defaultdict(list)

    # -- gathering -----------------------------------------------------------------------------------------

    def triggered(self, moment: str, generic: str | None = None) -> list[tuple[int, Role]]:
        """(weight, role) of the hooks triggered at ``moment`` (or its ``generic`` name)."""
        roles = list(self._by_moment.get(moment, ()))
        if generic:
            roles.extend(self._by_moment.get(generic, ()))
        return roles

    def has_work(self, moment: str, generic: str | None = None) -> bool:
        """Whether any hook is triggered, or any call awaited, at ``moment`` (or its ``generic`` name)."""
        return bool(self.triggered(moment, generic) or self._awaited_weights(moment, generic))

    def _awaited_weights(self, moment: str, generic: str | None) -> set[int]:
        return {w for (m, w), calls in self._pending.items() if calls and (m in (moment, generic))}

    @property
    def pending_calls(self) -> list[Call]:
        return [p.call for calls in self._pending.values() for p in calls]

    # -- running -------------------------------------------------------------------------------------------

    async def run_moment(
        self,
        moment: str,
        generic: str | None = None,
        work: StepWork | None = None,
    ) -> None:
        """Hooks with weight < 0, then ``work``, then hooks with weight >= 0; raises HookError."""
        by_weight: dict[int, list[Role]] = defaultdict(list)
        for weight, role in self.triggered(moment, generic):
            by_weight[weight].append(role)
        weights = sorted(set(by_weight) | self._awaited_weights(moment, generic))
        for weight in (w for w in weights if w < 0):
            await self._run_weight(moment, generic, weight, by_weight.get(weight, []))
        if work is not None:
            result = work()
            if result is not None:
                await result
        for weight in (w for w in weights if w >= 0):
            await self._run_weight(moment, generic, weight, by_weight.get(weight, []))

    async def _run_weight(self, moment: str, generic: str | None, weight: int, roles: list[Role]) -> None:
        hooks = []
        for role in roles:
            if role.kind == "call":
                call = Call(self.env, role)
                key = (call.await_.moment, call.await_.weight)
                self._pending[key].append(_Pending(call, asyncio.ensure_future(self._run_call(call))))
            else:
                hooks.append(role)
        awaited = self._pending.pop((moment, weight), [])
        if generic:
            awaited += self._pending.pop((generic, weight), [])
        critical: list[str] = []
        if awaited:
            await asyncio.wait([p.task for p in awaited])
            for pending in awaited:
                if not pending.task.result():
                    self._fail(pending.call.describe_error(), pending.call.critical, critical)
        if hooks:
            results = await asyncio.gather(*(self.env.run_task_hook(role) for role in hooks))
            for role, error in zip(hooks, results, strict=True):
                if error:
                    self._fail(error, role.critical, critical)
        if critical:
            raise HookError(aggregate_failures(critical, Trigger(moment, weight)), critical)

    def _fail(self, message: str, is_critical: bool, critical: list[str]) -> None:
        if is_critical:
            critical.append(message)
        else:
            self.env.warn(message)

    async def _run_call(self, call: Call) -> bool:
        limit = call.timeout + CALL_GRACE
        try:
            return await asyncio.wait_for(call.run(), limit)
        except TimeoutError:
            call.error = (
                f"did not return within its timeout {format_duration(call.timeout)} "
                f"(+{format_duration(CALL_GRACE)} grace; the role's 'timeout' trait sets it)"
            )
            self.env.publish(
                model.call_event(
                    self.env.id,
                    func=call.func,
                    path=call.path,
                    status=model.DONE_TIMEOUT,
                    call_traits=call.traits_message(),
                    error=call.error,
                )
            )
            return False

    async def run_calls_now(self, roles: list[Role]) -> list[str]:
        """Teardown: run calls to completion at once, ignoring their await; return their errors."""
        calls = [Call(self.env, role) for role in roles]
        results = await asyncio.gather(*(self._run_call(c) for c in calls))
        return [c.describe_error() for c, ok in zip(calls, results, strict=True) if not ok]

    async def cancel_pending(self) -> int:
        """Cancel every call still waiting for its await moment (teardown); return how many."""
        pending = [p for calls in self._pending.values() for p in calls]
        self._pending.clear()
        for p in pending:
            p.task.cancel()
        if pending:
            await asyncio.wait([p.task for p in pending])
        return len(pending)
