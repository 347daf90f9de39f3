"""The environment manager: creates, controls and destroys environments, and keeps them durable.

It owns what environments share: the task controller, the configuration store (run numbers, global
variables, the detector inventory), the integration plugins, the event bus with its journal, the
detectors in use (reserved atomically, so two creates never take the same detector) and the SQLite
store from which a new manager on the same data directory reloads every environment not destroyed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ecs_engine.errors import HandledError, NotFoundError, RefusedError, TemplateError
from ecs_engine.events import EventBus, model
from ecs_engine.events.journal import EventJournal
from ecs_engine.fsm import Event, State
from ecs_engine.ids import new_id
from ecs_engine.offload import SerialWriter, offload
from ecs_engine.protocols import common_pb2
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import TemplateSource
from ecs_engine.uservars import string_list

from . import restarts, runvars, snapshot
from .environment import EngineSettings, Environment, EnvironmentServices, TeardownReport, TransitionError
from .integrations import Integrations
from .store import EnvironmentStore, StoredEnvironment
from .taskport import TaskController, TaskEvent

if TYPE_CHECKING:
    import pluggy

    from ecs_engine.template.expand import Expander
    from ecs_engine.template.model import Workflow

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the longest error text a failed create reports (as upstream)
MAX_CREATE_ERROR = 6000


class CreateError(HandledError):
    """Creating an environment failed; it was torn down. ``info`` is what it was when it failed."""

    def __init__(self, message: str, info: dict[str, Any]):
        super().__init__(f"cannot create new environment: {message[:MAX_CREATE_ERROR]}")
        self.reason = message
        self.info = info


def no_environment(environment_id: str) -> NotFoundError:
    """The one error for an id no environment has, wherever it is asked for (coconut env.py adds the closest id)."""
    return NotFoundError(f"no environment with id {environment_id}")


class EnvironmentManager:
    """All environments of one core. Use ``async with EnvironmentManager(...)`` or ``start()``/``close()``."""

    def __init__(
        self,
        *,
        config: Any,
        controller: TaskController,
        plugins: pluggy.PluginManager,
        data_dir: str | Path | None = None,
        bus: EventBus | None = None,
        integrations: Integrations | None = None,
        settings: EngineSettings | None = None,
        framework_id: str = "",
    ):
        if data_dir is None:
            import platformdirs

            data_dir = platformdirs.user_data_path("coconut")
        self.data_dir = Path(data_dir)
        self.config = config
        self.controller = controller
        #: the plugin manager whose hooks expansion (template objects, JIT generation) and integrations use
        self.plugins = plugins
        self.bus = bus or EventBus()
        self.integrations = integrations if integrations is not None else Integrations.from_plugins(plugins, {})
        self.integrations.bind(self.bus.publish, self.data_dir / "integrations", environments=self, config=config)
        self.settings = settings or EngineSettings()
        self.framework_id = framework_id or new_id()
        self.environments: dict[str, Environment] = {}
        self.store = EnvironmentStore(self.data_dir / "environments.sqlite")
        #: the commits of records and runs, in order, off the event loop; awaited before replying
        self.commits = SerialWriter("commits")
        #: the journal's commits, beside them (another file): the last ones of a transition take the time of the
        #: longer of the two, not of both one after the other
        self.journal_commits = SerialWriter("journal")
        self.journal = EventJournal(self.data_dir / "events.sqlite", defer=self.journal_commits.submit)
        self.bus.add_sink(self.journal)
        self._detectors: dict[str, str] = {}  # detector -> environment id
        self._background: set[asyncio.Task] = set()
        self._records: dict[str, snapshot.EnvironmentRecord] = {}
        self.services = EnvironmentServices(
            controller=controller,
            integrations=self.integrations,
            settings=self.settings,
            publish=self.bus.publish,
            persist=self._persist,
            committed=self.committed,
            allocate_run=self._allocate_run,
            end_run=self._end_run,
            spawn=self._spawn,
        )
        controller.bind(self._on_task_event)

    async def __aenter__(self) -> EnvironmentManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Initialise the integration plugins and reload the environments of the store."""
        await self.integrations.init(self.framework_id)
        for stored in await offload(self.store.live):
            await self._reload(stored)
        await self.committed()

    async def end_runs(self) -> None:
        """The core stops gracefully and is about to kill every task: the runs of the RUNNING environments end now,
        on record, rather than when the next core finds their tasks gone (``Environment.end_run_at_core_stop``). A
        commit that fails is logged: the stop goes on and kills the tasks all the same."""
        envs = list(self.environments.values())
        results = await asyncio.gather(*(env.end_run_at_core_stop() for env in envs), return_exceptions=True)
        for env, result in zip(envs, results, strict=True):
            if isinstance(result, Exception):
                log.error("environment %s: its run's end at the core's stop is not on record: %s", env.id, result)

    async def close(self) -> None:
        """Stop timers and background work; environments stay in the store (and their tasks alive)."""
        for env in self.environments.values():
            env.stop_timers()
            env.persist()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self.journal_commits.submit(self.bus.flush)
        self.commits.close()
        self.journal_commits.close()
        self.bus.remove_sink(self.journal)
        await self.integrations.stop()
        self.integrations.destroy()
        self.journal.close()
        self.store.close()

    # -- lookups -------------------------------------------------------------------------------------------

    def get(self, environment_id: str) -> Environment:
        env = self.environments.get(environment_id)
        if env is None:
            raise no_environment(environment_id)
        return env

    def active_detectors(self) -> list[str]:
        return sorted(self._detectors)

    def available_detectors(self) -> list[str]:
        return [d for d in self.config.detectors() if d not in self._detectors]

    # -- durability ----------------------------------------------------------------------------------------

    def _persist(self, env: Environment, destroyed: bool) -> None:
        """Queue the commit of ``env``'s record and of every event published so far.

        The record is taken now, on the loop; the commits run on the commit threads, and every operation
        that reports something done awaits ``committed()`` first (durable before reply).
        """
        now = model.now_ms()
        destroyed = destroyed or env.destroyed  # (a failed create, torn down, stays torn down in the store: a
        # later record, the core's at its stop, brought it back after a restart holding its detectors again)
        record = self._records.get(env.id)
        if record is None:
            record = self._records[env.id] = snapshot.EnvironmentRecord(env)
        if destroyed:
            del self._records[env.id]
        self.commits.submit(
            self._commit,
            record.structure,
            environment_id=env.id,
            created_ms=env.created_ms,
            updated_ms=now,
            template=env.template.get("ref", ""),
            state=env.state,
            current_run=env.current_run,
            last_run=env.last_run,
            snapshot=record.live(),
            structure=None if record.structure.saved else record.structure.text,
            destroyed_ms=now if destroyed else None,
        )
        self.journal_commits.submit(self.bus.flush)

    def _commit(self, unchanging: snapshot.Structure, **row: Any) -> None:
        """On the commit thread: the environment's row (its structure until once saved)."""
        self.store.save(**row)
        unchanging.saved = True

    async def committed(self) -> None:
        """Every record, run and event queued so far is on disk (raises the first commit that failed)."""
        await self.commits.committed()
        await self.journal_commits.committed()

    async def _allocate_run(self, environment_id: str) -> int:
        """A new run number from the configuration store (off the loop), recorded as started."""
        number = await offload(self.config.next_run_number)
        self.commits.submit(self.store.run_started, number, environment_id, model.now_ms())
        return number

    def _end_run(self, run_number: int, end_ms: int) -> None:
        self.commits.submit(self.store.run_ended, run_number, end_ms)

    async def _reload(self, stored: StoredEnvironment) -> None:
        env = await snapshot.reload(stored, self.services)
        self.environments[env.id] = env
        for detector in env.detectors:
            self._detectors.setdefault(detector, env.id)
        interrupted = snapshot.interrupted(stored)
        if not interrupted:
            env.resume_auto_stop()
            env.persist()
        else:
            # its record keeps saying what was interrupted until the transition ending the run writes its own: a core
            # that stops again meanwhile leaves it to the next one
            await env.end_interrupted(interrupted)
        if env.auto:  # the core that created it is gone: this one destroys it when its run ends
            self._spawn(self._destroy_auto_when_done(env))

    # -- create --------------------------------------------------------------------------------------------

    def _detectors_of(self, stack: Mapping[str, str], user_vars: Mapping[str, str], env_vars) -> list[str]:
        """The detectors an environment uses: the user's ``detectors``, else those of its ``hosts``.

        Detectors found from ``hosts`` also become the weakest default ``detectors`` (as upstream). With no
        detector inventory at all (a lab without one) hosts map to no detector and nothing is exclusive.
        """
        if "detectors" in user_vars:
            return self._detector_list(user_vars["detectors"])
        if stack.get("hosts") and self.config is not None and self.config.detectors_inventory():
            try:
                hosts = json.loads(stack["hosts"])
            except ValueError:
                hosts = None
            if not isinstance(hosts, list):
                raise TemplateError(f"variable 'hosts' must be a JSON list of host names, got {stack['hosts']!r}")
            detectors = self.config.detectors_for_hosts([str(h) for h in hosts])  # names an unknown host
            env_vars.defaults.setdefault("detectors", json.dumps(detectors, separators=(",", ":")))
            return sorted(set(detectors))
        return self._detector_list(stack.get("detectors", "[]") or "[]")

    @staticmethod
    def _detector_list(text: str) -> list[str]:
        detectors = string_list(text)
        if detectors is None:
            raise TemplateError(f"variable 'detectors' must be a JSON list of detector names, got {text!r}")
        return sorted(set(detectors))

    def _reserve(self, environment_id: str, detectors: list[str]) -> None:
        """Take ``detectors`` for an environment, or refuse naming one in use (no await: atomic on the loop)."""
        for detector in detectors:
            owner = self._detectors.get(detector)
            if owner is not None and owner != environment_id:
                held = self.environments.get(owner)
                in_error = held is not None and held.state == State.ERROR
                # (one kept across a core's stop: its tasks were killed with the core)
                hint = f"environment {owner} is in ERROR and holds it until destroyed" if in_error else None
                raise RefusedError(
                    f"detector {detector} is already in use by environment {owner}",
                    hint=hint,
                    cli_hint=f"{hint}: coconut env destroy {owner}" if hint else None,
                )
        for detector in detectors:
            self._detectors[detector] = environment_id

    def _release_detectors(self, environment_id: str) -> None:
        for detector in [d for d, owner in self._detectors.items() if owner == environment_id]:
            del self._detectors[detector]

    async def _load(
        self,
        source: TemplateSource,
        workflow: str,
        user_vars: Mapping[str, str] | None,
        request_user: common_pb2.User | None,
        public: bool | None,
        *,
        auto: bool = False,
    ) -> Environment:
        """Expand ``workflow`` into a new environment; expansion reads stores and may run commands: offloaded."""
        environment_id = new_id()
        created = model.now_ms()
        vars_in = dict(user_vars or {})
        self.bus.publish(  # who asked, from the first event on, as upstream's CreateEnvironment
            model.environment_event(
                environment_id,
                state="PENDING",
                transition="CREATE",
                step="before_CREATE",
                status=model.STARTED,
                request_user=request_user,
            )
        )
        user_json = "{}"
        if request_user is not None:
            from google.protobuf.json_format import MessageToDict

            user_json = json.dumps(MessageToDict(request_user), separators=(",", ":"))
        run_vars = {
            "environment_id": environment_id,
            "enter_state_time_ms": runvars.now_ms_text(),
            "last_request_user": user_json,
        }
        try:
            expander, wf, detectors = await offload(self._expand, source, workflow, vars_in, run_vars, auto)
        except TemplateError as exc:
            exc.message = f"cannot load workflow template: {exc.message}"
            self.bus.publish(
                model.environment_event(
                    environment_id,
                    state="PENDING",
                    transition="CREATE",
                    status=model.DONE_ERROR,
                    error=exc.render_plain(),  # every subscriber's: no coconut hint
                    message="cannot create new environment",
                    request_user=request_user,
                )
            )
            raise
        env = Environment(
            self.services,
            environment_id=environment_id,
            root=wf.root,
            env_vars=wf.env_vars,
            template={
                "name": wf.template.name,
                "ref": f"{source.repo_id}/workflows/{wf.template.name}@{source.revision}",
                "description": wf.template.description,
                "public": wf.template.public,
            },
            request_vars=vars_in,
            created_ms=created,
            detectors=detectors,
            public=wf.template.public if public is None else public,
            auto=auto,
            workflow=wf,
            expander=expander,
        )
        env.last_request_user = request_user
        for warning in wf.warnings:
            env.warn(warning)
        return env

    def _expand(
        self, source: TemplateSource, workflow: str, vars_in: dict[str, str], run_vars: dict[str, str], auto: bool
    ) -> tuple[Expander, Workflow, list[str]]:
        """On a worker thread: the expander, the expanded workflow and the detectors it uses."""
        expander = make_expander(
            source,
            plugins=self.plugins,
            config=self.config,
            user_vars={**vars_in, **run_vars},
            environment_id=run_vars["environment_id"],
        )
        wf = expander.expand(workflow)
        wf.env_vars.vars["__fmq_cleanup_count"] = "0"
        detectors = [] if auto else self._detectors_of(wf.root.stack(), vars_in, wf.env_vars)
        return expander, wf, detectors

    def _template_info(self, env: Environment) -> common_pb2.WorkflowTemplateInfo:
        return common_pb2.WorkflowTemplateInfo(
            name=env.template.get("name", ""),
            description=env.template.get("description", ""),
            path=env.template.get("ref", ""),
            public=env.public,
        )

    def _admit(self, env: Environment) -> None:
        if not env.auto:
            self._reserve(env.id, env.detectors)
        self.environments[env.id] = env
        env.env_event(
            state=State.STANDBY,
            transition="CREATE",
            step="after_CREATE",
            status=model.DONE_OK,
            variables=env.stack(),
            template=self._template_info(env),
        )
        env.persist()

    async def create(
        self,
        source: TemplateSource,
        workflow: str,
        *,
        user_vars: Mapping[str, str] | None = None,
        request_user: common_pb2.User | None = None,
        public: bool | None = None,
        on_admitted: Callable[[Environment], None] | None = None,
    ) -> Environment:
        """Load ``workflow``, then DEPLOY and CONFIGURE; on failure tear down and raise CreateError.

        The work is the manager's own: it goes on to its end if the caller goes away. ``on_admitted`` is
        told the environment as soon as it exists (so a client can learn its id before the end).
        """

        async def create() -> Environment:
            env = await self._load(source, workflow, user_vars, request_user, public)
            self._admit(env)
            if on_admitted is not None:
                on_admitted(env)
            await self._deploy_and_configure(env)
            return env

        return await self._owned(create(), "create")

    async def create_async(
        self,
        source: TemplateSource,
        workflow: str,
        *,
        user_vars: Mapping[str, str] | None = None,
        request_user: common_pb2.User | None = None,
        public: bool | None = None,
    ) -> Environment:
        """Load and admit at once (state STANDBY, transition DEPLOY under way); the outcome comes as events."""
        env = await self._load(source, workflow, user_vars, request_user, public)
        self._admit(env)

        async def finish() -> None:
            with contextlib.suppress(CreateError):
                await self._deploy_and_configure(env)

        self._spawn(finish())
        await asyncio.sleep(0)  # let it take the transition slot before the caller can ask for another
        await self.committed()
        return env

    async def create_auto(
        self,
        source: TemplateSource,
        workflow: str,
        *,
        user_vars: Mapping[str, str] | None = None,
        request_user: common_pb2.User | None = None,
        until_configured: bool = False,
        on_admitted: Callable[[Environment], None] | None = None,
    ) -> Environment:
        """An environment that runs once (DEPLOY, CONFIGURE, START) and destroys itself when the run ends.
        Returned at once, or with ``until_configured`` once CONFIGURED (its failure raised as ``create``'s: what
        a synchronous NewEnvironment with autoTransition answers); the run goes on whatever the caller does."""
        env = await self._load(source, workflow, user_vars, request_user, None, auto=True)
        self._admit(env)
        if on_admitted is not None:
            on_admitted(env)
        configured: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def lifecycle() -> None:
            try:
                try:
                    await self._deploy_and_configure(env)
                except HandledError as exc:
                    if until_configured and not configured.done():
                        configured.set_exception(exc)
                    raise
                if not configured.done():
                    configured.set_result(None)
                await env.control(Event.START_ACTIVITY)
            except HandledError as exc:
                log.info("auto environment %s: %s", env.id, exc)
            await self._destroy_auto_when_done(env)

        self._spawn(lifecycle())
        await asyncio.sleep(0)
        await self.committed()
        if until_configured:
            await configured
        return env

    async def _destroy_auto_when_done(self, env: Environment) -> None:
        """An auto environment ends with its run: once it is not RUNNING (nor in a transition), it is destroyed (forced
        unless it stopped cleanly, CONFIGURED). Other work that takes the slot first (a task's restart as the run
        ends) is waited for: the destroy starts with no await after the slot is seen free, so it is never refused."""
        while env.id in self.environments:
            await env.wait_slot_free()  # (one torn down by a failed create is still listed: it is destroyed below)
            if env.state == State.RUNNING:
                await env.wait_state_change()
            else:
                with contextlib.suppress(HandledError):
                    await self._destroy(env, force=env.state != State.CONFIGURED)
                return

    async def _deploy_and_configure(self, env: Environment) -> None:
        try:
            with env.slot(Event.DEPLOY):
                for event in (Event.DEPLOY, Event.CONFIGURE):
                    await env.run(event)
        except (TransitionError, HandledError) as exc:
            reason = exc.reason if isinstance(exc, TransitionError) else exc.message
            info = env.info()
            env.env_event(error=reason, message="cannot create new environment")
            await env.teardown(force=True, keep_tasks=False, failure=reason)
            self._release_detectors(env.id)  # listed, in ERROR, until destroyed; its detectors are free
            raise CreateError(reason, info) from None
        env.env_event(message="created new environment")

    # -- control -------------------------------------------------------------------------------------------

    async def control(self, environment_id: str, event: str, *, user: common_pb2.User | None = None) -> Environment:
        """Run ``event`` on an environment (see ``Environment.control``)."""
        env = self.get(environment_id)
        await self.bus.catch_up()  # subscribers that fell behind get their turn first (events/bus.py)
        await self._owned(env.control(event, user=user), f"{event} of {environment_id}")
        return env

    def environment_ids(self) -> list[str]:
        return list(self.environments)

    def service_error(self, environment_id: str, reason: str) -> bool:
        """An integrated service says the environment's part of it failed (an ODC partition in ERROR): a
        RUNNING environment with no transition in progress does STOP_ACTIVITY, then GO_ERROR whatever the
        stop gave (reference §1.6). True when that was started. A task's restart is no transition: they wait for it
        (the service says it once: skipped, the run went on with its part in ERROR)."""
        env = self.environments.get(environment_id)
        if env is None or env.state != State.RUNNING or (env.busy is not None and env.busy[0] != restarts.SLOT):
            return False

        async def stop_then_error() -> None:
            await env.wait_slot_free()
            for event in (Event.STOP_ACTIVITY, Event.GO_ERROR):
                if env.destroyed or env.state == State.ERROR:
                    return
                env.env_event(message=f"automatic {event}: {reason}")
                with contextlib.suppress(TransitionError, HandledError):
                    await env.control(event)

        task = self._spawn(self._durable(stop_then_error()))
        task.add_done_callback(lambda done: _log_outcome(done, f"STOP then GO_ERROR of {environment_id}"))
        return True

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _durable(self, work: Coroutine[Any, Any, T]) -> T:
        """``work``, then the commit of everything it queued (durable before the caller is answered)."""
        try:
            return await work
        finally:
            await self.committed()

    async def _owned(self, work: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``work`` as the manager's own task and wait for it.

        A caller that goes away (a client's Ctrl-C or deadline cancels its RPC) leaves the work running to
        its end; what it ends with is logged then. Work cancelled by ``destroy --force`` or the core's stop is a
        RefusedError.
        """
        task = self._spawn(self._durable(work))
        task.add_done_callback(lambda done: _log_outcome(done, what))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if task.cancelled() and not (caller is not None and caller.cancelling()):
                raise RefusedError(
                    f"{what} was cancelled: the environment was destroyed with force, or the core stops"
                ) from None
            raise

    def _on_task_event(self, event: TaskEvent) -> None:
        env = self.services.task_index.get(event.task_id)
        if env is not None:
            env.on_task_event(event)

    # -- destroy -------------------------------------------------------------------------------------------

    async def destroy(
        self,
        environment_id: str,
        *,
        keep_tasks: bool = False,
        allow_in_running_state: bool = False,
        force: bool = False,
        user: common_pb2.User | None = None,
    ) -> TeardownReport:
        """Tear an environment down (see ``Environment.destroy``) and forget it."""
        env = self.get(environment_id)
        destroy = self._destroy(
            env, keep_tasks=keep_tasks, allow_in_running_state=allow_in_running_state, force=force, user=user
        )
        return await self._owned(destroy, f"destroy of {environment_id}")

    async def _destroy(self, env: Environment, **options: Any) -> TeardownReport:
        try:
            return await env.destroy(**options)
        finally:
            if env.destroyed:
                self._forget(env)

    def _forget(self, env: Environment) -> None:
        """A destroyed environment leaves the manager and frees its detectors; its reference cycles are broken."""
        self.environments.pop(env.id, None)
        self._release_detectors(env.id)
        _unlink(env)

    # -- integrated services ---------------------------------------------------------------------------------

    def integrated_services(self) -> dict[str, dict[str, Any]]:
        return self.integrations.services()


def _unlink(env: Environment) -> None:
    """Break the reference cycles of a destroyed environment, so that reference counting frees it, its roles and
    its tasks when its last holder lets go, not at the next full collection (the core's memory rose by megabytes
    per destroy until one): each role's link to its parent, and the links of its role states, hook scheduler and
    restarts back to it. What they hold stays readable; a destroyed environment has nothing left for them to do."""
    for role in env.root.walk():
        role.parent = None
    env.roles.on_change = None
    del env.hooks.env, env.restarts.host


def _log_outcome(task: asyncio.Task, what: str) -> None:
    """Retrieve the outcome of owned work (its caller may be gone): failures are logged, never lost silently."""
    if task.cancelled():
        log.info("%s: cancelled", what)
        return
    exc = task.exception()
    if isinstance(exc, HandledError):
        log.info("%s: %s", what, exc.message)
    elif exc is not None:
        log.error("%s failed", what, exc_info=exc)
