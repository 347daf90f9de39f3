"""One environment: its role tree, tasks, state machine, run, and the work of each transition step.

A transition runs four steps (reference §2.1): ``before_EVENT``, ``leave_SRC`` (the tasks' work at its
end), ``enter_DST`` and ``after_EVENT``, each with hooks of negative weight, then its own variable work,
then hooks of non-negative weight. A failure in before/leave keeps the state, one in enter/after keeps the
new state; either way the environment then goes to ERROR through GO_ERROR. One transition at a time: a
second request is refused at once. The manager (``manager.py``) creates these, finds them and forgets
them once torn down; an environment reaches the engine around it only through ``EnvironmentServices``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_engine import fsm
from ecs_engine.durations import format_duration, parse_duration
from ecs_engine.errors import DeadlineError, HandledError, RefusedError, UsageError
from ecs_engine.events import model
from ecs_engine.fsm import Event, State
from ecs_engine.occ import states as occ
from ecs_engine.protocols import common_pb2, events_pb2
from ecs_engine.tasks.reports import ACTIVE, INACTIVE
from ecs_engine.template.model import EnvVars, Role, Workflow
from ecs_engine.template.timeline import HookEntry, destroy_timeline

from . import runvars
from .aggregation import ERROR, INVARIANT, UNDEPLOYABLE, RoleStates
from .calls import Call
from .hooks import HookError, HookScheduler, StepWork
from .integrations import Integrations
from .restarts import TaskRestarts
from .taskport import TASK_EVENTS, DeployRequest, HookResult, KillReport, Task, TaskController, TaskEvent, TaskEventKind

log = logging.getLogger(__name__)

#: what a teardown says it is doing (a transition of its own: no event of the state machine)
DESTROY = "DESTROY"
#: what the core's graceful stop says it is doing to a RUNNING environment, whose tasks it kills: ending its run
CORE_STOP = "CORE_STOP"
#: at most this many task errors are listed in a transition error
MAX_LISTED_TASK_ERRORS = 5
#: root role statuses that end the wait of DEPLOY (INVARIANT: no critical task at all)
DEPLOYED_STATUSES = (ACTIVE, INVARIANT)
#: seconds a task's state change may wait while the tasks of a transition reply (``Environment.on_task_event``)
TASK_CHANGES_BATCH = 0.01
#: changes that make a batch at once: the replies' last burst leaves no more than these to apply after the last one
TASK_CHANGES_AT_MOST = 16
#: the task events that may wait for their batch; any other kind applies the waiting ones first
BATCHED_TASK_EVENTS = (TaskEventKind.STATE, TaskEventKind.STATUS)


def by_reason(reasons: Mapping[str, str]) -> str:
    """``a, b (why); c (why not)``: each reason said once after what it holds for (the roles of a host no node
    has all fail alike), at most MAX_LISTED_TASK_ERRORS of them named, then how many more."""
    shown: dict[str, list[str]] = {}
    for name in list(reasons)[:MAX_LISTED_TASK_ERRORS]:
        shown.setdefault(reasons[name], []).append(name)
    listed = "; ".join(f"{', '.join(names)} ({reason})" for reason, names in shown.items())
    more = len(reasons) - MAX_LISTED_TASK_ERRORS
    return listed + (f"; and {more} more" if more > 0 else "")


@dataclass
class EngineSettings:
    """Timeouts of the engine's own waits (each named in the error its expiry gives)."""

    deploy_timeout: float = 90.0
    configure_timeout: float = 120.0
    transition_timeout: float = 90.0
    error_watch_delay: float = 0.5


@dataclass(frozen=True)
class EnvironmentServices:
    """What an environment needs from the engine around it, and nothing more (no way back to the manager).

    One instance, made by the manager, serves all its environments.
    """

    controller: TaskController
    integrations: Integrations
    settings: EngineSettings
    #: an event onto the bus (journal, subscribers)
    publish: Callable[[model.Event], None]
    #: commit the environment's record and the events published so far (``destroyed``: its last record)
    persist: Callable[[Environment, bool], None]
    #: wait until every record and event persisted so far is on disk (commits run off the event loop)
    committed: Callable[[], Awaitable[None]]
    #: a new run number, recorded as started by the environment of the given id
    allocate_run: Callable[[str], Awaitable[int]]
    #: the run of this number ended at this time (ms)
    end_run: Callable[[int, int], None]
    #: run a coroutine in the background (the manager cancels what is left when it closes)
    spawn: Callable[[Coroutine[Any, Any, None]], object]
    #: task id -> its environment, for the task events the controller reports
    task_index: dict[str, Environment] = field(default_factory=dict)


@dataclass
class TeardownReport:
    environment_id: str
    killed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


#: the tasks' part of a step, awaited after its hooks
TaskWork = Callable[[], Awaitable[None]]


class TransitionFailure(Exception):
    """A step of a transition failed (internal: the caller turns it into GO_ERROR and a TransitionError)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransitionError(HandledError):
    """A transition failed; the environment went to ``state`` (ERROR unless GO_ERROR itself failed)."""

    def __init__(self, environment_id: str, event: str, reason: str, state: str):
        super().__init__(f"environment {environment_id}: {event} failed: {reason}; the environment is now {state}")
        self.environment_id = environment_id
        self.event = event
        self.reason = reason
        self.state = state


class Environment:
    """A running instance of a workflow; every method is called on the manager's event loop."""

    def __init__(
        self,
        services: EnvironmentServices,
        *,
        environment_id: str,
        root: Role,
        env_vars: EnvVars,
        template: dict[str, Any],
        request_vars: dict[str, str],
        created_ms: int,
        detectors: list[str],
        public: bool,
        auto: bool = False,
        workflow: Workflow | None = None,
        expander: Any = None,
    ):
        self.services = services
        self.id = environment_id
        self.root = root
        self.env_vars = env_vars
        self.template = template  # name, ref, description, public
        self.request_vars = request_vars
        self.created_ms = created_ms
        self.detectors = detectors
        self.public = public
        self.auto = auto
        self.workflow = workflow
        self.expander = expander
        self.state: State = State.STANDBY
        self.current_run = 0
        self.last_run = 0
        self.current_transition = ""
        self.last_request_user: common_pb2.User | None = None
        self.tasks: dict[str, Task] = {}
        self.tasks_by_role: dict[str, Task] = {}
        self.undeployable: dict[str, str] = {}  # critical role path -> why it has no task
        self.warnings: list[str] = []
        self.roles = RoleStates(root, on_change=self._role_changed)
        self.hooks = HookScheduler(self, list(root.walk()))
        self._busy: tuple[str, int] | None = None
        self._busy_task: asyncio.Task | None = None  # the task holding the slot: destroy --force cancels it
        self._cancel_why = ""  # who cancelled the transition in progress (``_cancel_transition``), for its end
        #: the last transition run to its end: (event, "" or why it failed, end in Unix ms)
        self.last_transition: tuple[str, str, int] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._state_changed = asyncio.Event()
        self._root_active = asyncio.Event()
        self._task_changed = asyncio.Event()  # a task's state or status changed
        self._auto_stop: asyncio.TimerHandle | None = None
        self._watch_armed = False
        self._watch_task: asyncio.Task | None = None
        self._run_started = False
        self._run_end_sent = False  # the run event that ends the run (STOP or GO_ERROR, done or failed) is out
        self.destroyed = False
        #: why the create failed, for an environment kept (in ERROR, torn down) so it can be inspected
        self.failure = ""
        self.restarts = TaskRestarts(self, services.spawn, services.settings.deploy_timeout)
        self._traits_messages: dict[str, events_pb2.Traits] = {}  # role path -> its task events' traits
        self._replying: set[str] = set()  # ids of the tasks a transition waits for (their changes are batched)
        self._batched: list[TaskEvent] = []
        self._batch_due: asyncio.TimerHandle | None = None

    # -- plumbing ------------------------------------------------------------------------------------------

    @property
    def controller(self) -> TaskController:
        return self.services.controller

    def publish(self, event: model.Event) -> None:
        self.services.publish(event)

    def call_objects(self, call: Call) -> Mapping[str, Any]:
        return self.services.integrations.call_objects(call)

    def persist(self, *, destroyed: bool = False) -> None:
        """Commit this environment's record and the events so far (before anything is reported done)."""
        self.services.persist(self, destroyed)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("environment %s: %s", self.id, message)

    def env_event(self, **fields: Any) -> None:
        fields.setdefault("state", self.state)
        fields.setdefault("run_number", self.current_run)
        fields.setdefault("request_user", self.last_request_user)
        self.publish(model.environment_event(self.id, **fields))

    def run_event(self, transition: str, status: model.OpStatus, error: str = "", *, at: str = "") -> None:
        """``at``: the run variable (Unix ms text) the event is stamped with: SOR and EOR are stamped with
        the run's start and end time (integrations.md §2.2), which consumers take as the run's times."""
        event = model.run_event(
            self.id,
            run_number=self.current_run,
            state=self.state,
            transition=transition,
            status=status,
            error=error,
            request_user=self.last_request_user,
        )
        if at and self.root.user_vars.get(at, "").isdigit():
            event.timestamp = int(self.root.user_vars[at])
        self.publish(event)

    def stack(self) -> dict[str, str]:
        """The consolidated variables of the root role (what ``GetEnvironment`` shows)."""
        return self.root.stack()

    @property
    def busy(self) -> tuple[str, int] | None:
        """(transition, start in Unix ms) while a transition or teardown runs, else None."""
        return self._busy

    async def wait_slot_free(self) -> bool:
        """Wait until no transition or teardown holds the slot; False once the environment is torn down (a failed
        create's is, still listed until destroyed). Work that takes the slot first is waited for too; the caller
        takes it with no await after True, so it is not refused."""
        while self._busy is not None and not self.destroyed:
            await self._idle.wait()
        return not self.destroyed

    async def wait_state_change(self) -> str:
        self._state_changed.clear()
        await self._state_changed.wait()
        return self.state

    # -- admission -----------------------------------------------------------------------------------------

    def refuse_if_busy(self) -> None:
        if self._busy is not None:
            name, since = self._busy
            when = datetime.datetime.fromtimestamp(since / 1000).astimezone().isoformat(timespec="milliseconds")
            raise RefusedError(f"environment {self.id}: transition {name} in progress since {when}")

    def check_event(self, event: str) -> None:
        """Refuse, with the reason, an event that cannot run now; the state is left unchanged."""
        self.refuse_if_busy()
        if self.failure:
            raise RefusedError(f"environment {self.id} was not created ({self.failure}): destroy it")
        if event not in fsm.TRANSITIONS:
            raise UsageError(f"unknown event '{event}': expected one of {', '.join(fsm.EVENTS)}")
        if fsm.destination(event, self.state) is None:
            allowed = [e for e in fsm.allowed_events(self.state) if e != Event.GO_ERROR]  # the core's, not a user's
            raise RefusedError(
                f"environment {self.id} is {self.state}: {event} is not allowed there "
                f"(allowed: {', '.join(allowed) if allowed else 'none, destroy it'})"
            )

    @contextlib.contextmanager
    def slot(self, name: str) -> Iterator[None]:
        """Hold the environment's one transition slot (refused at once if taken)."""
        self.refuse_if_busy()
        self._busy = (name, model.now_ms())
        self._busy_task = asyncio.current_task()
        self._idle.clear()
        try:
            yield
        finally:
            self._busy = None
            self._busy_task = None
            self._idle.set()

    def _label(self, name: str) -> None:
        if self._busy is not None:
            self._busy = (name, self._busy[1])

    # -- transitions ---------------------------------------------------------------------------------------

    async def control(self, event: str, *, user: common_pb2.User | None = None) -> None:
        """Run ``event``; an event not allowed now is refused (state unchanged); a failure ends in ERROR."""
        self.check_event(event)
        if event == Event.RECOVER and self.workflow is None and self.dead_critical_tasks():
            raise RefusedError(
                f"environment {self.id}: cannot RECOVER: critical tasks are dead ({self._dead_list()}) and cannot be "
                "relaunched (the environment was reloaded without its templates): destroy it"
            )
        with self.slot(event):
            self.last_request_user = user or self.last_request_user
            await self.run(event)

    def spawn_automatic(self, event: str, reason: str, *, user: common_pb2.User | None = None) -> None:
        """Run an automatic transition in the background; failure sends the environment to ERROR. One that finds
        the slot taken (a task's restart, a STOP by hand) waits for it, then runs if it still can in the same run:
        skipped, an auto-stop due during a restart was lost and the run went on."""
        run_number = self.current_run

        async def run() -> None:
            if (
                not await self.wait_slot_free()
                or self.current_run != run_number
                or fsm.destination(event, self.state) is None
            ):
                return
            self.env_event(message=f"automatic {event}: {reason}")
            try:
                await self.control(event, user=user)
            except HandledError as exc:
                self.warn(f"automatic {event} failed: {exc.message}")

        self.services.spawn(run())

    async def run(self, event: str) -> None:
        """Run ``event`` (slot held by the caller); on failure go to ERROR and raise TransitionError."""
        self._label(event)
        try:
            await self._transition(event)
            self.last_transition = (event, "", model.now_ms())
        except TransitionFailure as failure:
            if event == Event.GO_ERROR:
                self._force_state(State.ERROR, failure.message)
            else:
                await self.go_error(failure.message)
            self.last_transition = (event, failure.message, model.now_ms())
            raise TransitionError(self.id, event, failure.message, self.state) from None
        except asyncio.CancelledError:
            reason = f"cancelled: {self._cancel_why}" if self._cancel_why else "cancelled"
            self._cancel_why = ""
            if not self.current_run:  # its end (a consumer saw it start); one of a run ends with the run: the
                # restart fails it (``end_interrupted``) or the destroy ends the run (TEARDOWN), each saying so once
                self.env_event(transition=event, status=model.DONE_ERROR, error=reason, message="transition cancelled")
            self.last_transition = (event, reason, model.now_ms())
            raise
        finally:
            self.persist()  # with how it ended (``env show`` says it after a restart too)

    async def go_error(self, reason: str) -> None:
        """Announce and run GO_ERROR after a failure; force ERROR if GO_ERROR itself fails."""
        self.env_event(error=reason, message="a critical error occurred, GO_ERROR transition imminent")
        if fsm.destination(Event.GO_ERROR, self.state) is None:
            log.info("environment %s: GO_ERROR not possible in %s: %s", self.id, self.state, reason)
            return
        self._label(Event.GO_ERROR)
        try:
            await self._transition(Event.GO_ERROR)
        except TransitionFailure as failure:
            self._force_state(State.ERROR, failure.message)

    async def end_interrupted(self, event: str) -> None:
        """After a core restart: the core stopped during ``event`` of this environment's run, a START once its run
        number was taken, a STOP or GO_ERROR once the run's end was stamped, or the teardown of a RUNNING environment
        (DESTROY, forced) once it ended the run (``snapshot.interrupted``). That transition failed, as one its tasks
        refuse does, and GO_ERROR ends the run (if the teardown did not) and stops the tasks still RUNNING: on record,
        in the journal and in ``env show``'s last transition. A RUNNING environment whose tasks a graceful stop of the
        core killed (CORE_STOP, ``end_run_at_core_stop``) has its run end with the end stamped then. (A GO_ERROR cut
        short in its own enter/after hooks left the environment in ERROR already, where no GO_ERROR runs: its run
        ends here.)"""
        run = self.current_run or self.last_run
        during = f"run {run}" if event == CORE_STOP else f"{event} of run {run}"
        reason = f"the core stopped during {during}"
        with self.slot(Event.GO_ERROR):
            # a START cut short once it had reported its run started (the time is emptied when a run's number is
            # taken) does not report that START failed as well
            self._run_started = bool(self.root.user_vars.get("run_start_completion_time_ms"))
            self._failed(event, reason)
            await self.go_error(reason)
            self._forget_run()
            self.last_transition = (event, reason, model.now_ms())
            self.persist()

    async def end_run_at_core_stop(self) -> None:
        """The core stops gracefully and is about to kill this environment's tasks. A transition in progress is
        cancelled where it is (a teardown finishes); a run going on ends now, not at the restart: RUNNING and idle (the
        record then says CORE_STOP), or in a START past its run number, a STOP or a GO_ERROR (the record says that
        transition). The end is stamped and committed with the EOR as a GO_ERROR's is, so the restarted core ends the
        run through GO_ERROR with that end (``snapshot.interrupted``, ``end_interrupted``)."""
        interrupted = await self._cancel_transition("the core stops")
        if self.busy is not None or not self.current_run or (not interrupted and self.state != State.RUNNING):
            return
        if interrupted:
            self.current_transition = interrupted  # (its record said so; the cancel cleared it)
        else:
            self.current_transition = CORE_STOP
            self.env_event(
                transition=CORE_STOP, status=model.STARTED, message="the core stops: the run ends, tasks killed"
            )
        await self._stamp_run_end(Event.GO_ERROR)
        self.persist()  # (a STOP or GO_ERROR had stamped the end already: the record says it was cut short)
        await self.services.committed()

    def _force_state(self, state: State, reason: str) -> None:
        self._set_state(state)
        self.current_transition = ""
        self.env_event(error=reason, message=f"state forced to {state}")

    def _set_state(self, state: State) -> None:
        self.state = state
        self._state_changed.set()

    async def _transition(self, event: str) -> None:
        source = self.state
        destination = fsm.destination(event, source)
        assert destination is not None, (event, source)
        self.current_transition = event
        self.env_event(transition=event, status=model.STARTED, message="transition starting")
        try:
            await self._step(event, f"before_{event}", "before_event", self._before_work(event))
            await self._step(event, f"leave_{source}", "leave_state", self._leave_work(source), self._task_work(event))
            if destination in (State.CONFIGURED, State.RUNNING) and self.dead_critical_tasks():
                raise TransitionFailure(f"critical tasks are dead: {self._dead_list()}")
            self._set_state(destination)
            if self.hooks.has_work(f"enter_{destination}", "enter_state") or self.hooks.has_work(
                f"after_{event}", "after_event"
            ):
                self.persist()  # hooks follow (they may take long): the new state is durable first
                await self.services.committed()
            await self._step(event, f"enter_{destination}", "enter_state", self._enter_work)
            await self._step(event, f"after_{event}", "after_event", self._after_work(event), self._after_end(event))
        except (HookError, TransitionFailure, HandledError) as exc:
            self._failed(event, exc.message)
            raise TransitionFailure(exc.message) from None
        finally:
            self.current_transition = ""
        self.env_event(transition=event, status=model.DONE_OK, message="transition completed successfully")

    def _failed(self, event: str, message: str) -> None:
        """The events of a transition that failed (of a START that had its run number, or a STOP that had sent its
        EOR: the run's end too, DONE_ERROR, and the GO_ERROR that follows sends no run event: integrations.md §2.2)."""
        if event == Event.START_ACTIVITY and self.current_run and not self._run_started:
            self.run_event(Event.START_ACTIVITY, model.DONE_ERROR, message)
        ending = self.current_run and self.root.user_vars.get("run_end_time_ms") and not self._run_end_sent
        if event == Event.STOP_ACTIVITY and ending:
            self.run_event(Event.STOP_ACTIVITY, model.DONE_ERROR, message)
            self._run_end_sent = True
        self.env_event(transition=event, status=model.DONE_ERROR, error=message, message="transition error")

    async def _step(
        self, event: str, moment: str, generic: str, work: StepWork | None = None, tail: TaskWork | None = None
    ) -> None:
        self.env_event(transition=event, step=moment, status=model.STARTED, message="transition step starting")
        try:
            await self.hooks.run_moment(moment, generic, work)
            if tail is not None:
                await tail()
        except (HookError, TransitionFailure, HandledError) as exc:
            self.env_event(transition=event, step=moment, status=model.DONE_ERROR, error=exc.message)
            raise
        self.env_event(transition=event, step=moment, status=model.DONE_OK, message="transition step finished")

    # -- built-in work of each step (reference §2.4) -------------------------------------------------------

    def _before_work(self, event: str) -> StepWork | None:
        if event == Event.START_ACTIVITY:
            return self._allocate_run
        if event in (Event.STOP_ACTIVITY, Event.GO_ERROR) and self.current_run:
            return functools.partial(self._stamp_run_end, event)
        return None

    async def _stamp_run_end(self, event: str) -> None:
        """The run's end, stamped (``run_end_time_ms``) by a STOP or GO_ERROR (or the core's stop) unless stamped
        already, and its EOR."""
        ending = self.root.user_vars.get("run_end_time_ms") == ""
        if ending:
            self.root.user_vars["run_end_time_ms"] = runvars.now_ms_text()
        if event == Event.STOP_ACTIVITY or ending:  # GO_ERROR: only if the run was not ending already
            self.run_event(event, model.STARTED, at="run_end_time_ms")
        if ending:
            # the run's end and its EOR durable before the hooks and tasks end it, as its start is
            # (``_allocate_run``): a core that stops from here on leaves a run that the restart ends
            # (``end_interrupted``), not one on record as going on, or an environment RUNNING whose tasks stopped
            self.persist()
            await self.services.committed()

    async def _allocate_run(self) -> None:
        self._run_started = self._run_end_sent = False
        for task in self.tasks.values():  # a new run: no task is done in it yet (basic tasks start again)
            task.safe_to_stop = False
        number = await self.services.allocate_run(self.id)
        self.current_run = number
        self.root.vars["run_number"] = self.root.vars["runNumber"] = str(number)
        self.root.user_vars["run_start_time_ms"] = runvars.now_ms_text()
        for key in runvars.RUN_TIME_KEYS:
            self.root.user_vars[key] = ""
        for key in runvars.TRIGGER_TIME_KEYS:
            self.root.user_vars.pop(key, None)
        for key in runvars.COPIED_AT_START:
            value = self.env_vars.vars.get(key, self.env_vars.defaults.get(key))
            if value is not None:
                self.root.vars[key] = value
        self.run_event(Event.START_ACTIVITY, model.STARTED, at="run_start_time_ms")
        # the run and its SOR durable before the hooks and tasks start it: a core that stops from here on leaves it
        # on record, ended at the restart (``end_interrupted_start``), not a run number gone without a trace
        self.persist()
        await self.services.committed()

    def _leave_work(self, source: str) -> StepWork | None:
        if source != State.RUNNING:
            return None

        def leaving_running() -> None:
            if not self.root.user_vars.get("run_end_time_ms"):
                self.root.user_vars["run_end_time_ms"] = runvars.now_ms_text()

        return leaving_running

    def _enter_work(self) -> None:
        self.env_vars.user["enter_state_time_ms"] = runvars.now_ms_text()

    def _after_work(self, event: str) -> StepWork | None:
        if event == Event.START_ACTIVITY:

            def run_started() -> None:
                count = int(self.env_vars.vars.get("__fmq_cleanup_count", "0") or 0)
                self.env_vars.vars["__fmq_cleanup_count"] = str(count + 1)
                self._arm_auto_stop()
                self.root.user_vars["run_start_completion_time_ms"] = runvars.now_ms_text()
                self._run_started = True
                self.run_event(Event.START_ACTIVITY, model.DONE_OK)
                if any(t.safe_to_stop for t in self.tasks.values()):  # done while the START went on
                    self._stop_if_all_done()

            return run_started
        if event in (Event.STOP_ACTIVITY, Event.GO_ERROR):

            def run_stopped() -> None:
                value = self.root.user_vars.get("run_end_completion_time_ms")
                ending = event == Event.STOP_ACTIVITY or value == ""
                if ending:
                    self.root.user_vars["run_end_completion_time_ms"] = runvars.now_ms_text()
                if self.current_run and ending and not self._run_end_sent:
                    self.run_event(event, model.DONE_OK)
                    self._run_end_sent = True
                self._cancel_auto_stop()

            return run_stopped
        if event == Event.CONFIGURE:
            return lambda: self.arm_error_watch(True)
        return None

    def _after_end(self, event: str) -> TaskWork | None:
        if event not in (Event.STOP_ACTIVITY, Event.GO_ERROR):
            return None

        async def forget_run() -> None:
            self._forget_run()

        return forget_run

    def _forget_run(self) -> None:
        """The run is over and the environment has none (its number no longer among the variables)."""
        self._end_run()
        self.root.vars.pop("run_number", None)
        self.root.vars.pop("runNumber", None)

    def _end_run(self) -> None:
        """The current run is over: recorded as ended, at the end its STOP, GO_ERROR or the core's stop stamped (the
        restart that ends a run cut short may come hours later), and remembered as the last run."""
        if self.current_run:
            stamped = self.root.user_vars.get("run_end_time_ms", "")
            self.services.end_run(self.current_run, int(stamped) if stamped.isdigit() else model.now_ms())
            self.root.vars["last_run_number"] = str(self.current_run)
            self.last_run, self.current_run = self.current_run, 0

    # -- the tasks' work (end of leave_<state>) ------------------------------------------------------------

    def _task_work(self, event: str) -> TaskWork:
        if event == Event.DEPLOY:
            return self._deploy
        if event == Event.GO_ERROR:
            return self._stop_for_error
        if event == Event.RECOVER:
            return self._recover_tasks

        async def work() -> None:
            await self.transition_tasks(self.controlled_tasks(), TASK_EVENTS[event], self.task_arguments(event))

        return work

    def task_arguments(self, event: str) -> dict[str, str]:
        """The arguments the tasks get with ``event``'s OCC transition (START: the current run's)."""
        if event == Event.START_ACTIVITY:
            return runvars.start_arguments(self.stack(), self.current_run)
        if event == Event.STOP_ACTIVITY:
            return runvars.stop_arguments(self.stack())
        if event == Event.CONFIGURE:
            return {"environment_id": self.id}
        return {}

    def controlled_tasks(self, *states: str) -> list[Task]:
        """Active, non-hook tasks (in one of ``states`` if given): the ones transitions address."""
        return [
            t for t in self.tasks.values() if t.status == ACTIVE and not t.is_hook and (not states or t.state in states)
        ]

    async def transition_tasks(
        self, tasks: list[Task], occ_event: str, args: dict[str, str], *, ignore_errors: bool = False
    ) -> None:
        if not tasks:
            return
        settings = self.services.settings
        timeout, setting = (
            (settings.configure_timeout, "configure_timeout")
            if occ_event == "CONFIGURE"
            else (settings.transition_timeout, "transition_timeout")
        )
        self._replying.update(t.id for t in tasks)
        try:
            replies = await asyncio.wait_for(self.controller.transition(tasks, occ_event, args), timeout)
        except TimeoutError:
            message = (
                f"{occ_event} of {len(tasks)} tasks did not complete within {format_duration(timeout)} "
                f"(engine setting {setting})"
            )
            if ignore_errors:
                self.warn(message)
                return
            raise DeadlineError(message) from None
        finally:
            self._replying.difference_update(t.id for t in tasks)
            self._apply_batched()
        critical: list[str] = []
        other: list[str] = []
        for task in tasks:
            reply = replies.get(task.id)
            if reply is None:
                error, state = "no reply from the task", task.state
            else:
                error, state = reply.error, reply.state
            self.set_task_state(task, state)
            if error:
                (critical if task.critical else other).append(
                    f"task {task.name} ({task.path}) on {task.hostname}: {error}"
                )
        for message in other:
            self.warn(f"{occ_event}: {message}")
        if critical and not ignore_errors:
            listed = "; ".join(critical[:MAX_LISTED_TASK_ERRORS])
            if len(critical) > MAX_LISTED_TASK_ERRORS:
                listed += f"; and {len(critical) - MAX_LISTED_TASK_ERRORS} more"
            raise TransitionFailure(f"{occ_event} could not complete for critical tasks, errors: {listed}")

    async def _stop_for_error(self) -> None:
        for task in self.tasks.values():
            task.safe_to_stop = True
        stack = self.stack()
        await self.transition_tasks(
            self.controlled_tasks(occ.RUNNING),
            occ.STOP,
            runvars.stop_arguments(stack, camel_too=False),
            ignore_errors=True,
        )

    async def _recover_tasks(self) -> None:
        await self.transition_tasks(self.controlled_tasks(occ.RUNNING), occ.STOP, {})
        await self.transition_tasks(self.controlled_tasks(occ.ERROR), occ.RECOVER, {})
        await self.transition_tasks(self.controlled_tasks(occ.CONFIGURED), occ.RESET, {})
        await self._relaunch_dead()

    def dead_critical_tasks(self) -> list[Task]:
        """Critical tasks whose process is gone (not ACTIVE): no transition may end as if they worked."""
        return [t for t in self.tasks.values() if t.critical and not t.is_hook and t.status != ACTIVE]

    def _dead_list(self) -> str:
        dead = self.dead_critical_tasks()
        listed = ", ".join(f"{t.name} ({t.path})" for t in dead[:MAX_LISTED_TASK_ERRORS])
        return listed + (
            f" and {len(dead) - MAX_LISTED_TASK_ERRORS} more" if len(dead) > MAX_LISTED_TASK_ERRORS else ""
        )

    async def _relaunch_dead(self) -> None:
        """RECOVER's promise: every critical task alive in STANDBY. The dead are forgotten and deployed anew."""
        dead = self.dead_critical_tasks()
        if not dead:
            return
        self.warn(f"RECOVER: relaunching dead critical tasks: {self._dead_list()}")
        await self.forget_tasks(dead)
        timeout = self.services.settings.deploy_timeout
        try:
            async with asyncio.timeout(timeout):
                fresh = await self.deploy_roles([t.role for t in dead])
                if len(fresh) < len(dead):
                    missing = sorted({t.path for t in dead} - {t.path for t in fresh})
                    raise TransitionFailure(f"RECOVER: dead critical tasks cannot be relaunched: {', '.join(missing)}")
                while any(t.status != ACTIVE for t in fresh):
                    self._task_changed.clear()
                    await self._task_changed.wait()
        except TimeoutError:
            raise DeadlineError(
                f"RECOVER: relaunched tasks not active after {format_duration(timeout)} (engine setting deploy_timeout)"
            ) from None

    async def forget_tasks(self, tasks: list[Task]) -> None:
        """Let go of dead tasks before their roles are deployed anew (the executor forgets their records too)."""
        await self.controller.kill(tasks)
        for task in tasks:
            self.tasks.pop(task.id, None)
            if self.tasks_by_role.get(task.path) is task:
                del self.tasks_by_role[task.path]
            self.services.task_index.pop(task.id, None)

    async def _deploy(self) -> None:
        settings = self.services.settings
        stack = self.stack()
        timeout, setting = settings.deploy_timeout, "engine setting deploy_timeout"
        if stack.get("deploy_timeout"):
            try:
                timeout, setting = parse_duration(stack["deploy_timeout"]), "variable deploy_timeout"
            except ValueError as exc:
                raise TransitionFailure(f"variable deploy_timeout: {exc}") from None
        roles = [r for r in self.root.walk() if r.kind == "task" and r.path not in self.tasks_by_role]
        try:
            async with asyncio.timeout(timeout):
                await self.deploy_roles(roles)
                for role in self.root.walk():
                    if role.kind == "call":
                        self.roles.set(role, status=ACTIVE)
                self._check_deployment()
                while self.roles.status[self.root.path] not in DEPLOYED_STATUSES:
                    self._root_active.clear()
                    await self._root_active.wait()
                    self._check_deployment()
        except TimeoutError:
            raise DeadlineError(
                f"workflow deployment timed out after {format_duration(timeout)} "
                f"(root role {self.roles.status[self.root.path]}; {setting})"
            ) from None

    async def deploy_roles(self, roles: list[Role], planned: list[Role] | None = None) -> list[Task]:
        if not roles:
            return []
        request = DeployRequest(self.id, roles, self.workflow, self.expander, planned or [])
        deployment = await self.controller.deploy(request)
        for task in deployment.tasks:
            self.add_task(task)
        by_path = {r.path: r for r in roles}
        for path, reason in deployment.undeployable.items():
            role = by_path[path]
            if role.critical:
                self.undeployable[path] = reason
                self.roles.set(role, status=UNDEPLOYABLE)
                self.warn(f"critical role {path} cannot be deployed: {reason}")
            else:
                self.warn(f"non-critical role {path} left without a task: {reason}")
                self.roles.set(role, status=INACTIVE)
        return deployment.tasks

    def _check_deployment(self) -> None:
        status, state = self.roles.status[self.root.path], self.roles.state[self.root.path]
        if status == UNDEPLOYABLE:
            bad = {
                p: self.undeployable[p]
                for p, s in self.roles.status.items()
                if s == UNDEPLOYABLE and p in self.undeployable
            }
            raise TransitionFailure(f"workflow deployment failed: undeployable critical roles: {by_reason(bad)}")
        if state == ERROR:
            raise TransitionFailure("workflow deployment failed: the workflow is in ERROR")

    def add_task(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.tasks_by_role[task.path] = task
        self.services.task_index[task.id] = self
        self.roles.set(task.role, status=task.status, state=task.state)
        self._publish_task(task)

    def _publish_task(self, task: Task) -> None:
        self.publish(
            model.task_event(
                self.id,
                name=task.name,
                task_id=task.id,
                state=task.state,
                status=task.status,
                hostname=task.hostname,
                class_name=task.class_name,
                path=task.path,
                task_traits=self._task_traits(task.role),
            )
        )

    def _task_traits(self, role: Role) -> events_pb2.Traits | None:
        """The traits message of ``role``'s task events, made once per role (a task event per task per transition)."""
        if role.traits is None:
            return None
        made = self._traits_messages.get(role.path)
        if made is None:
            traits = role.traits
            made = self._traits_messages[role.path] = model.traits(
                str(traits.trigger or ""), str(traits.await_ or ""), traits.timeout_text, traits.critical
            )
        return made

    def set_task_state(self, task: Task, state: str | None = None, status: str | None = None) -> None:
        changed = False
        if state is not None and state != task.state:
            task.state, changed = state, True
        if status is not None and status != task.status:
            task.status, changed = status, True
        if changed:
            self.roles.set(task.role, status=task.status, state=task.state)
            self._publish_task(task)
            self._task_changed.set()

    def _role_changed(self, role: Role, status: str, state: str) -> None:
        if role is self.root:
            self._root_active.set()
        self.publish(model.role_event(self.id, name=role.name, path=role.path, status=status, state=state))

    # -- task hooks ----------------------------------------------------------------------------------------

    async def run_task_hook(self, role: Role) -> str:
        """Trigger the hook task of ``role`` and wait for it within the role's timeout; "" or the error."""
        task = self.tasks_by_role.get(role.path)
        if task is None:  # hooks that fire before DEPLOY (e.g. before_DEPLOY) are deployed on demand
            # during DEPLOY, with the task roles it deploys next planned: a node's allocation is sized for all
            planned = (
                [r for r in self.root.walk() if r.kind == "task" and r is not role and r.path not in self.tasks_by_role]
                if self.current_transition == Event.DEPLOY
                else []
            )
            tasks = await self.deploy_roles([role], planned)
            if not tasks:
                return f"hook task {role.path} could not be deployed"
            task = tasks[0]
        if task.status != ACTIVE:
            return f"hook task {task.name} ({role.path}) is {task.status}"
        traits = role.traits
        assert traits is not None, role.path  # a hook role has a trigger, hence traits
        try:
            if traits.timeout > 0:
                result = await asyncio.wait_for(self.controller.trigger_hook(task), traits.timeout)
            else:
                result = await self.controller.trigger_hook(task)
        except TimeoutError:
            self.record_task_result(role, HookResult(exit_code=-1, voluntary=False, final_status="TIMEOUT"))
            return f"hook task {task.name} ({role.path}) timed out after {traits.timeout_text}"
        self.record_task_result(role, result)
        if result.ok:
            return ""
        cause = f", {result.end_reason}" if result.end_reason else ""
        how = (
            f"exit code {result.exit_code}"
            if result.voluntary
            else f"ended involuntarily ({result.final_status}{cause})"
        )
        detail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
        return f"hook task {task.name} ({role.path}) failed: {how}" + (f": {detail[0]}" if detail else "")

    def record_task_result(self, role: Role, result: HookResult) -> None:
        role.user_vars.update(
            {
                "taskResult.exitCode": str(result.exit_code),
                "taskResult.stdout": result.stdout,
                "taskResult.stderr": result.stderr,
                "taskResult.finalStatus": result.final_status,
                "taskResult.timestamp": runvars.now_ms_text(),
            }
        )

    # -- events from tasks and automatic transitions (reference §1.5, §1.6) ---------------------------------

    def on_task_event(self, event: TaskEvent) -> None:
        """Apply what a task reports. While a transition waits for the tasks' replies, their state changes are
        applied in batches, of ``TASK_CHANGES_AT_MOST`` or every ``TASK_CHANGES_BATCH`` s, and when the replies are
        in: one at a time, between the replies' processing, a change cost the loop about three times as much (100
        tasks: 10-12 ms of a START of ~45 ms); batches by time alone left up to 10 ms of replies to apply after the
        last one (2.3-2.7 ms of a START of 100, against 0.6-0.9 with batches of 16). The order of everything a task
        reports is kept (another kind applies the batch first).
        """
        if event.kind in BATCHED_TASK_EVENTS and event.task_id in self._replying:
            self._batched.append(event)
            if len(self._batched) >= TASK_CHANGES_AT_MOST:
                self._apply_batched()
            elif self._batch_due is None:
                self._batch_due = asyncio.get_running_loop().call_later(TASK_CHANGES_BATCH, self._apply_batched)
            return
        self._apply_batched()
        self._apply(event)

    def _apply_batched(self) -> None:
        if self._batch_due is not None:
            self._batch_due.cancel()
            self._batch_due = None
        batch, self._batched = self._batched, []
        for event in batch:
            self._apply(event)

    def _apply(self, event: TaskEvent) -> None:
        task = self.tasks.get(event.task_id)
        if task is None:
            return
        if event.kind == TaskEventKind.STATE:
            self.set_task_state(task, state=event.state, status=event.status or None)
            if event.state == ERROR and task.critical and not task.is_hook:
                self.watch_error(task)
        elif event.kind == TaskEventKind.STATUS:
            self.set_task_state(task, status=event.status)
        elif event.kind == TaskEventKind.END_OF_STREAM:
            self._mark_safe(task)
        elif event.kind == TaskEventKind.TERMINATED:
            if event.result is not None:
                self.record_task_result(task.role, event.result)
            if task.is_hook or self.restarts.task_ended(task, event.result):
                return
            if task.critical and event.result is not None and not event.result.ok:
                # a critical basic task that failed (an exit code, a signal, its memory limit) is in ERROR, which
                # sends the environment to ERROR as an OCC task's crash does; one that finished is done
                self.set_task_state(task, state=ERROR)
                self.watch_error(task)
            else:
                self._mark_safe(task)
        elif event.kind == TaskEventKind.EXITED:
            self.restarts.task_ended(task, event.result)
        elif event.kind == TaskEventKind.INTERNAL_ERROR and self.state == State.RUNNING:
            self.set_task_state(task, state=ERROR)
            self.spawn_automatic(Event.STOP_ACTIVITY, f"task {task.name} reported TASK_INTERNAL_ERROR")

    def _mark_safe(self, task: Task) -> None:
        """A task is done with the run. One done while the run's START still goes on counts too (a basic task that
        ends before the others are RUNNING): the START's end looks again (``_stop_if_all_done``)."""
        if self.state != State.RUNNING and self.current_transition != Event.START_ACTIVITY:
            return
        task.safe_to_stop = True
        self._stop_if_all_done()

    def _stop_if_all_done(self) -> None:
        controlled = self.controlled_tasks()
        if self.state == State.RUNNING and all(
            (t.safe_to_stop if t.is_basic else t.state == occ.RUNNING) for t in controlled
        ):
            self.spawn_automatic(Event.STOP_ACTIVITY, "all tasks are done (END_OF_STREAM or finished)")

    def _arm_auto_stop(self, *, started_ms: int | None = None) -> None:
        """``started_ms``: when the run's auto-stop was first armed, for a run reloaded after a core restart (the
        old core's timer is gone): only what is left of the duration is waited, so the run still stops on time."""
        stack = self.stack()
        if stack.get("auto_stop_enabled") != "true":
            return
        try:
            seconds = parse_duration(stack.get("auto_stop_timeout", ""))
        except ValueError:
            self.warn(f"auto_stop_timeout '{stack.get('auto_stop_timeout', '')}' is not a duration: no auto-stop")
            return
        self._cancel_auto_stop()
        left = seconds if started_ms is None else max(0.0, seconds - (model.now_ms() - started_ms) / 1000)
        loop = asyncio.get_running_loop()
        self._auto_stop = loop.call_later(
            left,
            lambda: self.spawn_automatic(
                Event.STOP_ACTIVITY, f"auto-stop after {format_duration(seconds)}", user=model.special_user("TIMER")
            ),
        )

    def resume_auto_stop(self) -> None:
        """A RUNNING environment reloaded after a core restart (its run going on): its auto-stop is armed again."""
        started = self.root.user_vars.get("run_start_completion_time_ms", "")
        if self.state == State.RUNNING and started.isdigit():
            self._arm_auto_stop(started_ms=int(started))

    def _cancel_auto_stop(self) -> None:
        if self._auto_stop is not None:
            self._auto_stop.cancel()
            self._auto_stop = None

    def arm_error_watch(self, armed: bool) -> None:
        """Whether a critical task turning ERROR sends the environment to ERROR (from CONFIGURE on)."""
        self._watch_armed = armed

    def watch_error(self, task: Task) -> None:
        if not self._watch_armed or self.state in (State.ERROR, State.DONE) or self._watch_task is not None:
            return
        if self.roles.state[self.root.path] != ERROR:
            return
        self._watch_armed = False
        reason = f"critical task '{task.name}' on host '{task.hostname}' transitioned to ERROR"
        self._watch_task = asyncio.ensure_future(self._error_after_delay(reason))

    async def _error_after_delay(self, reason: str) -> None:
        try:
            await asyncio.sleep(self.services.settings.error_watch_delay)
            if await self.wait_slot_free() and self.state not in (State.ERROR, State.DONE):
                with self.slot(Event.GO_ERROR):
                    await self.go_error(reason)
                    self.last_transition = (Event.GO_ERROR, "", model.now_ms())  # (``env show``: why, in its error)
                    self.persist()
        except HandledError as exc:
            self.warn(f"GO_ERROR after a task error: {exc.message}")
        finally:
            self._watch_task = None

    def stop_timers(self) -> None:
        self._cancel_auto_stop()
        if self._watch_task is not None:
            self._watch_task.cancel()

    # -- teardown ------------------------------------------------------------------------------------------

    async def destroy(
        self,
        *,
        keep_tasks: bool = False,
        allow_in_running_state: bool = False,
        force: bool = False,
        user: common_pb2.User | None = None,
    ) -> TeardownReport:
        """Tear down (design.md: RUNNING needs allow_in_running_state or force); STOP and RESET first unless forced.

        ``force`` also cancels a transition in progress (its pending hooks and calls), then tears down.
        """
        if force:
            await self._cancel_transition("destroy --force")
        self.refuse_if_busy()
        if user is not None:
            self.last_request_user = user
        if self.destroyed:  # a failed create, torn down already: only its record goes
            self._announce_destroyed()
            self.persist(destroyed=True)
            return TeardownReport(self.id, warnings=list(self.warnings))
        if self.state == State.RUNNING and not (allow_in_running_state or force):
            raise RefusedError(
                f"environment {self.id} is RUNNING: stop it first, or destroy it allowing the running state "
                "(STOP_ACTIVITY first) or by force",
                hint="DestroyEnvironment's allowInRunningState or force",
                cli_hint="destroy with -a/--allow-in-running-state or -f/--force",
            )
        if not force:
            try:
                if self.state == State.RUNNING:
                    await self.control(Event.STOP_ACTIVITY)
                if self.state == State.CONFIGURED:
                    await self.control(Event.RESET)
            except TransitionError as exc:
                self.warn(f"teardown: {exc.reason}; forcing")
                force = True
            if self.state not in (State.STANDBY, State.DEPLOYED, State.DONE):
                self.warn(f"cannot tear down an environment in state {self.state}, forcing")
                force, keep_tasks = True, False
        if not force:
            try:
                return await self.teardown(force=False, keep_tasks=keep_tasks)
            except HandledError as exc:
                self.warn(f"teardown failed ({exc.message}), retrying forced")
        return await self.teardown(force=True, keep_tasks=keep_tasks)

    async def _cancel_transition(self, why: str) -> str:
        """Cancel the transition holding the slot (not a teardown: that one is finished, not abandoned); returns the
        transition cancelled, "" if none."""
        holder = self._busy_task
        if self._busy is None or self._busy[0] == "DESTROY" or holder is None or holder is asyncio.current_task():
            return ""
        name = self._busy[0]
        self.warn(f"{why}: transition {name} cancelled")
        self._cancel_why = why
        holder.cancel()
        await self._idle.wait()
        return name

    async def teardown(self, *, force: bool, keep_tasks: bool, failure: str = "") -> TeardownReport:
        """leave_<state> hooks, release the tasks, DESTROY hooks, kill (or keep) the tasks; the state is DONE.

        With ``failure`` (a create that failed) the environment stays in ERROR, with the reason, until destroyed:
        the GUI and ``env show`` can inspect it (it is not reloaded after a core restart).

        Without ``force`` a failing leave hook refuses the teardown (nothing released yet); with it, it is a warning.
        The last record is committed before this returns, with ``destroyed`` set.
        """
        report = TeardownReport(self.id)
        with self.slot("DESTROY"):
            self.stop_timers()
            state = self.state
            self.env_event(transition="DESTROY", step="before_DESTROY", status=model.STARTED)
            (leave_moment, _), (_, destroy_entries) = destroy_timeline(list(self.root.walk()), state)
            if state != State.DONE:
                try:
                    await self.hooks.run_moment(leave_moment, "leave_state")
                except (HandledError, HookError) as exc:
                    if not force:
                        raise RefusedError(f"teardown of {self.id}: {exc.message}") from None
                    self.warn(f"teardown: {exc.message}")
            if state == State.RUNNING and self.current_run:
                for key in ("run_end_time_ms", "run_end_completion_time_ms"):
                    if not self.root.user_vars.get(key):
                        self.root.user_vars[key] = runvars.now_ms_text()
                self.run_event("TEARDOWN", model.STARTED, at="run_end_time_ms")  # QC's end of run
                self.run_event("TEARDOWN", model.DONE_OK)
                self._end_run()
                # the run's end durable before the DESTROY hooks and the kill, and the record saying so: a core that
                # stops from here on leaves the restart to stop the tasks (``end_interrupted``), not an environment
                # RUNNING with a run that the runs table says ended
                self.current_transition = DESTROY
                self.persist()
                await self.services.committed()
            self.env_event(transition="DESTROY", step="DESTROY", status=model.STARTED)
            hook_roles = {e.role.path for e in destroy_entries if e.role.kind == "task"}
            if keep_tasks:  # they outlive the environment: let go (unlocked, on record); the others are killed below,
                # and releasing them first only rewrote every task's record to delete it a moment later
                await self.controller.release([t for t in self.tasks.values() if t.path not in hook_roles])
            for role in self.root.walk():
                if role.kind == "call":
                    self.roles.set(role, status=INACTIVE)
            await self._run_destroy_hooks(destroy_entries)
            await self.hooks.cancel_pending()
            self.env_event(transition="DESTROY", step="after_DESTROY", status=model.DONE_OK)
            self.state = State.DONE
            tasks = list(self.tasks.values())
            if keep_tasks:
                report.kept = [t.id for t in tasks]
            elif tasks:
                killed: KillReport = await self.controller.kill(tasks)
                report.killed, report.running = list(killed.killed), list(killed.running)
            for task in tasks:
                self.services.task_index.pop(task.id, None)
            report.warnings = list(self.warnings)
            self.destroyed = True
            if failure:
                self.state, self.failure = State.ERROR, failure
                self.env_event(
                    state=State.ERROR,
                    transition="DESTROY",
                    status=model.DONE_OK,
                    error=failure,
                    message="environment torn down after a failed create"
                    + ("" if self.auto else "; destroy it to remove it"),  # (one of NewAutoEnvironment goes itself)
                )
            else:
                self._announce_destroyed()
            self.current_transition = ""
            self.persist(destroyed=True)
        return report

    def _announce_destroyed(self) -> None:
        self.state = State.DONE
        self.env_event(state=State.DONE, transition="DESTROY", status=model.DONE_OK, message="environment destroyed")

    async def _run_destroy_hooks(self, entries: list[HookEntry]) -> None:
        """The DESTROY moment's calls and task hooks, weight by weight; failures are warnings."""
        by_weight: dict[int, list[Role]] = {}
        for entry in entries:
            if entry.phase == "run":
                by_weight.setdefault(entry.weight, []).append(entry.role)
        for weight in sorted(by_weight):
            roles = by_weight[weight]
            errors = await self.hooks.run_calls_now([r for r in roles if r.kind == "call"])
            hooks = [r for r in roles if r.kind == "task" and self._hook_runnable(r)]
            errors += [e for e in await asyncio.gather(*(self.run_task_hook(r) for r in hooks)) if e]
            for error in errors:
                self.warn(f"DESTROY: {error}")
            await self.controller.release([self.tasks_by_role[r.path] for r in hooks if r.path in self.tasks_by_role])

    def _hook_runnable(self, role: Role) -> bool:
        task = self.tasks_by_role.get(role.path)
        return task is not None and task.status == ACTIVE

    # -- description ---------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Plain data for listings (``EnvironmentInfo``-shaped)."""
        active = sum(1 for t in self.tasks.values() if t.status == ACTIVE)
        return {
            "id": self.id,
            "createdWhen": self.created_ms,
            "state": self.state,
            "rootRole": self.root.name,
            "currentRunNumber": self.current_run,
            "currentTransition": self.current_transition,
            "description": self.template.get("description", ""),
            "includedDetectors": list(self.detectors),
            "numberOfTasks": len(self.tasks),
            "numberOfActiveTasks": active,
            "numberOfInactiveTasks": len(self.tasks) - active,
            "numberOfHosts": len({t.hostname for t in self.tasks.values()}),
            "public": self.public,
            "userVars": dict(self.env_vars.user),
        }
