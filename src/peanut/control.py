"""What peanut does to a process, shared by its command line and its TUI.

Three modes: ``direct`` (OCC protobuf, one Transition per OCC event), ``fmq`` (OCClite, each OCC event driven
as its FairMQ sequence, states shown as OCC states) and ``fmq-step`` (OCClite, one FairMQ step at a time,
raw FairMQ states).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from ecs_engine.errors import DeadlineError, HandledError, RefusedError, UsageError
from ecs_engine.occ import fairmq, states
from ecs_engine.occ.client import OccClient, TransitionResult
from ecs_engine.occ.errors import DIRECT, FMQ

FMQ_STEP = "fmq-step"
MODES = (DIRECT, FMQ, FMQ_STEP)


def transport(mode: str) -> str:
    return DIRECT if mode == DIRECT else FMQ


@dataclass(frozen=True)
class StateView:
    raw: str  # what the process reports
    shown: str  # what peanut shows: the OCC state, or the raw FairMQ state in fmq-step mode
    stable: bool  # False for FairMQ states between two OCC states
    pid: int


@dataclass
class Step:
    source: str
    event: str
    state: str
    ok: bool
    trigger: str


@dataclass
class Outcome:
    """The result of one OCC transition or FairMQ step as peanut reports it."""

    event: str
    state: str  # shown state afterwards
    raw_state: str
    ok: bool  # the target state was really reached
    trigger: str
    steps: list[Step] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """The process tried and went to ERROR (exit 1), rather than refusing without trying (exit 5; OCClib's
        trigger is DEVICE_ERROR for any answer in ERROR, so it is the move into ERROR that counts)."""
        return any(step.trigger and step.source != states.ERROR == step.state for step in self.steps)

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "failed" if self.failed else "refused"

    def as_dict(self) -> dict:
        return {**asdict(self), "result": self.verdict}


class StepRefused(RefusedError):
    """A Transition refused without an answer (state mismatch, unknown event, OCClite's CANCELLED); ``outcome``
    says where the process is now, so that the refusal has a result line like an ``ok=false`` answer."""

    def __init__(self, exc: RefusedError, outcome: Outcome):
        super().__init__(exc.message, hint=exc.hint)
        self.outcome = outcome


Progress = Callable[[str, str, TransitionResult | None], None]
Say = Callable[[str], None]


class ProcessControl:
    """One process at ``address``, seen through ``mode``; clients per transport are made on demand."""

    def __init__(self, address: str, mode: str, *, timeout: float):
        if mode not in MODES:
            raise UsageError(f"-mode {mode!r}: expected one of {', '.join(MODES)}")
        self.address = address
        self.mode = mode
        self.timeout = timeout
        self._clients: dict[str, OccClient] = {}

    def client(self, kind: str | None = None) -> OccClient:
        kind = kind or transport(self.mode)
        if kind not in self._clients:
            self._clients[kind] = OccClient(self.address, kind, timeout=self.timeout)
        return self._clients[kind]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    def view(self, raw: str, pid: int = 0) -> StateView:
        if self.mode == DIRECT:
            return StateView(raw, raw, True, pid)
        shown = fairmq.occ_state(raw) if self.mode == FMQ else raw
        return StateView(raw, shown, fairmq.is_stable(raw), pid)

    async def state(self, *, timeout: float | None = None) -> StateView:
        info = await self.client().get_state(timeout=timeout)
        return self.view(info.state, info.pid)

    async def occ_transition(
        self,
        source: str,
        event: str,
        arguments: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        say: Say | None = None,
    ) -> Outcome:
        """OCC ``event`` from OCC state ``source``: one Transition (direct) or its FairMQ sequence (fmq)."""
        target = states.EXPECTED_FINAL_STATE.get(event)
        if target is None:
            raise UsageError(f"{event!r} is not an OCC event: expected one of {', '.join(states.REQUESTABLE_EVENTS)}")
        if self.mode == DIRECT:
            return await self.direct_step(source, event, arguments, progress=progress)
        fmq_source = fairmq.FROM_OCC.get(source, source)
        steps = fairmq.steps_for(event, fmq_source)
        if steps is None:
            raise UsageError(f"no FairMQ sequence for {event} from {source} ({fmq_source})")
        done: list[Step] = []
        try:
            for step in steps:
                outcome = await self.fmq_step(
                    step.source, step.event, arguments if step.with_arguments else None, progress=progress
                )
                done.extend(outcome.steps)
                if not outcome.ok:
                    break
        except StepRefused as exc:
            done.extend(exc.outcome.steps)
            done.extend(await self._roll_back(event, done, exc.message, progress, say))
            exc.outcome = self._outcome(event, done, ok=False)
            raise
        except HandledError as exc:
            await self._roll_back(event, done, exc.message, progress, say)
            raise
        last = done[-1]
        ok = last.ok and last.state == fairmq.FROM_OCC[target]
        if not ok:
            why = f"{last.event} left the device in {last.state} (ok={str(last.ok).lower()}, trigger {last.trigger})"
            done.extend(await self._roll_back(event, done, why, progress, say))
        return self._outcome(event, done, ok=ok)

    def _outcome(self, event: str, steps: list[Step], *, ok: bool) -> Outcome:
        last = steps[-1]
        return Outcome(event, self.view(last.state).shown, last.state, ok, last.trigger, steps)

    async def _roll_back(
        self, event: str, taken: list[Step], why: str, progress: Progress | None, say: Say | None
    ) -> list[Step]:
        """A configure stuck between IDLE and READY goes back to IDLE, as the executor does; only when it took
        a step (a refused first step changed nothing). ``say`` hears why before the rollback's progress."""
        if event != states.CONFIGURE or not any(step.ok for step in taken):
            return []
        try:
            state = (await self.client(FMQ).get_state()).state
            if state not in fairmq.ROLLBACK_FROM:
                return []
            if say:
                say(f"{why}; rolling back with {fairmq.RESET_DEVICE}")
            return (await self.fmq_step(state, fairmq.RESET_DEVICE, None, progress=progress)).steps
        except HandledError:
            return []

    async def direct_step(
        self, source: str, event: str, arguments: Mapping[str, str] | None = None, progress: Progress | None = None
    ) -> Outcome:
        """One OCC protobuf Transition, whatever the mode."""
        if progress:
            progress(source, event, None)
        result = await self._transition(DIRECT, source, event, arguments)
        if progress:
            progress(source, event, result)
        target = states.EXPECTED_FINAL_STATE.get(event, result.state)
        ok = result.reached(target) and result.event == event
        step = Step(source, event, result.state, ok, result.trigger)
        return Outcome(event, result.state, result.state, ok, result.trigger, [step])

    async def fmq_step(
        self, source: str, event: str, arguments: Mapping[str, str] | None = None, progress: Progress | None = None
    ) -> Outcome:
        """One OCClite Transition with a FairMQ event, whatever the mode."""
        if progress:
            progress(source, event, None)
        result = await self._transition(FMQ, source, event, arguments)
        if progress:
            progress(source, event, result)
        target = fairmq.EXPECTED_FINAL_STATE.get(event)
        ok = result.ok and result.state == target and result.trigger == states.EXECUTOR
        step = Step(source, event, result.state, ok, result.trigger)
        return Outcome(event, self.view(result.state).shown, result.state, ok, result.trigger, [step])

    async def _transition(
        self, kind: str, source: str, event: str, arguments: Mapping[str, str] | None
    ) -> TransitionResult:
        """One Transition; a refusal says where the process is (OCClite gives no reason, and a script wants a
        result line for it); a timeout, that it may have happened anyway."""
        client = self.client(kind)
        try:
            return await client.transition(source, event, arguments)
        except DeadlineError as exc:  # only the answer is missing: the process may have done it
            exc.message += "; the transition may still have happened (check with get-state)"
            raise
        except RefusedError as exc:
            try:
                raw = (await client.get_state()).state
            except HandledError:
                raise exc from None
            view = self.view(raw)
            where = f"the device is in {raw} ({fairmq.occ_state(raw)})" if kind == FMQ else f"the process is in {raw}"
            exc.message += f"; {where}"
            step = Step(source, event, raw, False, "")
            raise StepRefused(exc, Outcome(event, view.shown, raw, False, "", [step])) from None
