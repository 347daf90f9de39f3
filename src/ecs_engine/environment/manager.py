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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_engine import fsm
from ecs_engine.errors import HandledError, NotFoundError, RefusedError, TemplateError
from ecs_engine.events import EventBus, model
from ecs_engine.events.journal import EventJournal
from ecs_engine.ids import new_id
from ecs_engine.protocols import common_pb2
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import TemplateSource

from . import runvars, snapshot
from .aggregation import INACTIVE
from .environment import Environment, TransitionError
from .hooks import HookError
from .integrations import Integrations
from .store import EnvironmentStore
from .taskport import KillReport, TaskController, TaskEvent

log = logging.getLogger(__name__)

#: LHC beam modes that stop the runs of environments with ``stop_at_beam_dump``
BEAM_DUMP_MODES = ("BEAM_DUMP", "LOST_BEAMS", "NO_BEAM")
#: the longest error text a failed create reports (as upstream)
MAX_CREATE_ERROR = 6000


@dataclass
class EngineSettings:
    """Timeouts of the engine's own waits (each named in the error its expiry gives)."""

    deploy_timeout: float = 90.0
    configure_timeout: float = 120.0
    transition_timeout: float = 90.0
    error_watch_delay: float = 0.5


class CreateError(HandledError):
    """Creating an environment failed; it was torn down. ``info`` is what it was when it failed."""

    def __init__(self, message: str, info: dict[str, Any]):
        super().__init__(f"cannot create new environment: {message[:MAX_CREATE_ERROR]}")
        self.reason = message
        self.info = info


@dataclass
class TeardownReport:
    environment_id: str
    killed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class EnvironmentManager:
    """All environments of one core. Use ``async with EnvironmentManager(...)`` or ``start()``/``close()``."""

    def __init__(
        self,
        *,
        config: Any,
        controller: TaskController,
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
        self.bus = bus or EventBus()
        self.integrations = integrations if integrations is not None else Integrations.from_entry_points({})
        self.settings = settings or EngineSettings()
        self.framework_id = framework_id or new_id()
        self.environments: dict[str, Environment] = {}
        self.task_index: dict[str, Environment] = {}
        self.store = EnvironmentStore(self.data_dir / "environments.sqlite")
        self.journal = EventJournal(self.data_dir / "events.sqlite")
        self.bus.add_sink(self.journal)
        self._detectors: dict[str, str] = {}  # detector -> environment id
        self._background: set[asyncio.Task] = set()
        controller.bind(self._on_task_event)

    async def __aenter__(self) -> EnvironmentManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Initialise the integration plugins and reload the environments of the store."""
        await self.integrations.init(self.framework_id)
        for stored in self.store.live():
            await self._reload(stored)

    async def close(self) -> None:
        """Stop timers and background work; environments stay in the store (and their tasks alive)."""
        for env in self.environments.values():
            env.stop_timers()
            self.persist(env)
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self.bus.flush()
        self.bus.remove_sink(self.journal)
        self.integrations.destroy()
        self.journal.close()
        self.store.close()

    # -- lookups -------------------------------------------------------------------------------------------

    def get(self, environment_id: str) -> Environment:
        env = self.environments.get(environment_id)
        if env is None:
            raise NotFoundError(f"environment {environment_id} not found")
        return env

    def active_detectors(self) -> list[str]:
        return sorted(self._detectors)

    def available_detectors(self) -> list[str]:
        return [d for d in self.config.detectors() if d not in self._detectors]

    # -- durability ----------------------------------------------------------------------------------------

    def persist(self, env: Environment, *, destroyed: bool = False) -> None:
        """Commit ``env``'s record and every event published so far (before anything is reported done)."""
        now = model.now_ms()
        record = env.record
        if record is None:
            record = env.record = snapshot.EnvironmentRecord(env)
        self.store.save(
            environment_id=env.id,
            created_ms=env.created_ms,
            updated_ms=now,
            template=env.template.get("ref", ""),
            state=env.state,
            current_run=env.current_run,
            last_run=env.last_run,
            snapshot=record.live(),
            structure=None if record.structure_saved else record.structure,
            destroyed_ms=now if destroyed else None,
        )
        record.structure_saved = True
        self.bus.flush()

    def record_run_start(self, env: Environment, run_number: int) -> None:
        self.store.run_started(run_number, env.id, model.now_ms())

    def record_run_end(self, env: Environment, run_number: int) -> None:
        self.store.run_ended(run_number, model.now_ms())

    async def _reload(self, stored) -> None:
        data = stored.snapshot
        env_vars = snapshot.env_vars_from_data(data["env_vars"])
        root = snapshot.role_from_data(data["root"], env_vars, role_vars=data.get("role_vars"))
        env = Environment(
            self,
            environment_id=stored.id,
            root=root,
            env_vars=env_vars,
            template=data["template"],
            request_vars=data["request_vars"],
            created_ms=stored.created_ms,
            detectors=data["detectors"],
            public=data["public"],
            auto=data["auto"],
        )
        env.state = stored.state
        env.current_run = stored.current_run
        env.last_run = stored.last_run
        roles = {r.path: r for r in root.walk()}
        tasks = [snapshot.task_from_data(t, roles, env.id) for t in data["tasks"]]
        alive = await self.controller.reattach(tasks) if tasks else set()
        lost = []
        for task in tasks:
            if task.id not in alive:
                task.status, task.state = INACTIVE, "ERROR"
                env.warn(f"task {task.name} ({task.path}) was lost while the core was down")
                lost.append(task)
            env.add_task(task)
        for role in root.walk():
            if role.kind == "call" and env.state not in ("STANDBY", "DONE"):
                env.roles.set(role, status="ACTIVE")
        self.environments[env.id] = env
        env.arm_error_watch(env.state in ("CONFIGURED", "RUNNING"))
        for task in lost:
            if task.critical and not task.is_hook:
                env.watch_error(task)
        for detector in env.detectors:
            self._detectors.setdefault(detector, env.id)
        env.env_event(message="environment reloaded from the store")
        self.persist(env)

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
        try:
            detectors = json.loads(text)
        except ValueError:
            detectors = None
        if not isinstance(detectors, list) or not all(isinstance(d, str) for d in detectors):
            raise TemplateError(f"variable 'detectors' must be a JSON list of detector names, got {text!r}")
        return sorted(set(detectors))

    def _reserve(self, environment_id: str, detectors: list[str]) -> None:
        """Take ``detectors`` for an environment, or refuse naming one in use (no await: atomic on the loop)."""
        for detector in detectors:
            owner = self._detectors.get(detector)
            if owner is not None and owner != environment_id:
                raise RefusedError(f"detector {detector} is already in use by environment {owner}")
        for detector in detectors:
            self._detectors[detector] = environment_id

    def _release_detectors(self, environment_id: str) -> None:
        for detector in [d for d, owner in self._detectors.items() if owner == environment_id]:
            del self._detectors[detector]

    def _load(
        self,
        source: TemplateSource,
        workflow: str,
        user_vars: Mapping[str, str] | None,
        request_user: common_pb2.User | None,
        public: bool | None,
        *,
        auto: bool = False,
    ) -> Environment:
        environment_id = new_id()
        created = model.now_ms()
        vars_in = dict(user_vars or {})
        self.bus.publish(
            model.environment_event(
                environment_id, state="PENDING", transition="CREATE", step="before_CREATE", status=model.STARTED
            )
        )
        user_json = "{}"
        if request_user is not None:
            from google.protobuf.json_format import MessageToDict

            user_json = json.dumps(MessageToDict(request_user), separators=(",", ":"))
        expander = make_expander(
            source,
            config=self.config,
            user_vars={
                **vars_in,
                "environment_id": environment_id,
                "enter_state_time_ms": runvars.now_ms_text(),
                "last_request_user": user_json,
            },
            environment_id=environment_id,
        )
        try:
            wf = expander.expand(workflow)
        except TemplateError as exc:
            exc.message = f"cannot load workflow template: {exc.message}"
            self.bus.publish(
                model.environment_event(
                    environment_id,
                    state="PENDING",
                    transition="CREATE",
                    status=model.DONE_ERROR,
                    error=exc.render(),
                    message="cannot create new environment",
                )
            )
            raise
        wf.env_vars.vars["__fmq_cleanup_count"] = "0"
        stack = wf.root.stack()
        detectors = [] if auto else self._detectors_of(stack, vars_in, wf.env_vars)
        env = Environment(
            self,
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
            state="STANDBY",
            transition="CREATE",
            step="after_CREATE",
            status=model.DONE_OK,
            variables=env.stack(),
            template=self._template_info(env),
        )
        self.persist(env)

    async def create(
        self,
        source: TemplateSource,
        workflow: str,
        *,
        user_vars: Mapping[str, str] | None = None,
        request_user: common_pb2.User | None = None,
        public: bool | None = None,
    ) -> Environment:
        """Load ``workflow``, then DEPLOY and CONFIGURE; on failure tear down and raise CreateError."""
        env = self._load(source, workflow, user_vars, request_user, public)
        self._admit(env)
        await self._deploy_and_configure(env)
        return env

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
        env = self._load(source, workflow, user_vars, request_user, public)
        self._admit(env)

        async def finish() -> None:
            with contextlib.suppress(CreateError):
                await self._deploy_and_configure(env)

        self._spawn(finish())
        await asyncio.sleep(0)  # let it take the transition slot before the caller can ask for another
        return env

    async def create_auto(
        self,
        source: TemplateSource,
        workflow: str,
        *,
        user_vars: Mapping[str, str] | None = None,
        request_user: common_pb2.User | None = None,
    ) -> Environment:
        """An environment that runs once (DEPLOY, CONFIGURE, START) and destroys itself when the run ends."""
        env = self._load(source, workflow, user_vars, request_user, None, auto=True)
        self._admit(env)

        async def lifecycle() -> None:
            try:
                await self._deploy_and_configure(env)
                with env.slot("START_ACTIVITY"):
                    await env.run("START_ACTIVITY")
            except HandledError as exc:
                log.info("auto environment %s: %s", env.id, exc)
            while env.id in self.environments:
                await env.wait_idle()
                if env.state != "RUNNING":
                    break
                await env.wait_state_change()
            if env.id in self.environments:
                with contextlib.suppress(HandledError):
                    await self.destroy(env.id, force=env.state != "CONFIGURED")

        self._spawn(lifecycle())
        await asyncio.sleep(0)
        return env

    async def _deploy_and_configure(self, env: Environment) -> None:
        try:
            with env.slot("DEPLOY"):
                for event in ("DEPLOY", "CONFIGURE"):
                    await env.run(event)
        except (TransitionError, HandledError) as exc:
            reason = exc.reason if isinstance(exc, TransitionError) else exc.message
            info = env.info()
            env.env_event(error=reason, message="cannot create new environment")
            await self._teardown(env, force=True, keep_tasks=False)
            raise CreateError(reason, info) from None
        env.env_event(message="created new environment")

    # -- control -------------------------------------------------------------------------------------------

    async def control(self, environment_id: str, event: str, *, user: common_pb2.User | None = None) -> Environment:
        """Run ``event``; an event not allowed now is refused (state unchanged); a failure ends in ERROR."""
        env = self.get(environment_id)
        env.check_event(event)
        with env.slot(event):
            env.last_request_user = user or env.last_request_user
            await env.run(event)
        return env

    def spawn_automatic(
        self, env: Environment, event: str, reason: str, *, user: common_pb2.User | None = None
    ) -> None:
        """Run an automatic transition in the background; failure sends the environment to ERROR."""

        async def run() -> None:
            if env.id not in self.environments or env.busy is not None:
                env.warn(f"automatic {event} skipped ({reason}): another transition is in progress")
                return
            if fsm.destination(event, env.state) is None:
                return
            env.env_event(message=f"automatic {event}: {reason}")
            try:
                await self.control(env.id, event, user=user)
            except HandledError as exc:
                env.warn(f"automatic {event} failed: {exc.message}")

        self._spawn(run())

    def beam_mode_changed(self, beam_mode: str) -> list[str]:
        """React to an LHC beam mode (``dip.lhc.beam_mode``): a dump stops the runs that asked for it.

        Each RUNNING environment with ``stop_at_beam_dump`` true and no transition in progress gets
        STOP_ACTIVITY as the special user LHC (60). Returns the ids of the environments being stopped.
        """
        if beam_mode not in BEAM_DUMP_MODES:
            return []
        stopping = []
        for env in list(self.environments.values()):
            if env.state == "RUNNING" and env.busy is None and env.stack().get("stop_at_beam_dump") == "true":
                self.spawn_automatic(env, "STOP_ACTIVITY", f"beam mode {beam_mode}", user=model.special_user("LHC"))
                stopping.append(env.id)
        return stopping

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _on_task_event(self, event: TaskEvent) -> None:
        env = self.task_index.get(event.task_id)
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
        """Tear an environment down (design.md: RUNNING needs allow_in_running_state or force)."""
        env = self.get(environment_id)
        env._refuse_if_busy()
        if user is not None:
            env.last_request_user = user
        if env.state == "RUNNING" and not (allow_in_running_state or force):
            raise RefusedError(
                f"environment {env.id} is RUNNING: stop it first, or destroy with allow_in_running_state "
                "(STOP_ACTIVITY first) or force",
            )
        if not force:
            try:
                if env.state == "RUNNING":
                    await self.control(env.id, "STOP_ACTIVITY")
                if env.state == "CONFIGURED":
                    await self.control(env.id, "RESET")
            except TransitionError as exc:
                env.warn(f"teardown: {exc.reason}; forcing")
                force = True
            if env.state not in ("STANDBY", "DEPLOYED", "DONE"):
                env.warn(f"cannot tear down an environment in state {env.state}, forcing")
                force, keep_tasks = True, False
        if not force:
            try:
                return await self._teardown(env, force=False, keep_tasks=keep_tasks)
            except HandledError as exc:
                env.warn(f"teardown failed ({exc.message}), retrying forced")
        return await self._teardown(env, force=True, keep_tasks=keep_tasks)

    async def _teardown(self, env: Environment, *, force: bool, keep_tasks: bool) -> TeardownReport:
        from ecs_engine.template.timeline import destroy_timeline

        report = TeardownReport(env.id)
        with env.slot("DESTROY"):
            env.stop_timers()
            state = env.state
            env.env_event(transition="DESTROY", step="before_DESTROY", status=model.STARTED)
            (leave_moment, _), (_, destroy_entries) = destroy_timeline(list(env.root.walk()), state)
            if state != "DONE":
                try:
                    await env.hooks.run_moment(leave_moment, "leave_state")
                except (HandledError, HookError) as exc:
                    if not force:
                        raise RefusedError(f"teardown of {env.id}: {exc.message}") from None
                    env.warn(f"teardown: {exc.message}")
            if state == "RUNNING" and env.current_run:
                for key in ("run_end_time_ms", "run_end_completion_time_ms"):
                    if not env.root.user_vars.get(key):
                        env.root.user_vars[key] = runvars.now_ms_text()
                env.run_event("TEARDOWN", model.DONE_OK)
                self.record_run_end(env, env.current_run)
                env.root.vars["last_run_number"] = str(env.current_run)
                env.last_run, env.current_run = env.current_run, 0
            env.env_event(transition="DESTROY", step="DESTROY", status=model.STARTED)
            hook_roles = {e.role.path for e in destroy_entries if e.role.kind == "task"}
            others = [t for t in env.tasks.values() if t.path not in hook_roles]
            await self.controller.release(others)
            for role in env.root.walk():
                if role.kind == "call":
                    env.roles.set(role, status=INACTIVE)
            by_weight: dict[int, list] = {}
            for entry in destroy_entries:
                if entry.phase == "run":
                    by_weight.setdefault(entry.weight, []).append(entry.role)
            for weight in sorted(by_weight):
                roles = by_weight[weight]
                errors = await env.hooks.run_calls_now([r for r in roles if r.kind == "call"])
                hooks = [r for r in roles if r.kind == "task" and self._hook_runnable(env, r)]
                errors += [e for e in await asyncio.gather(*(env.run_task_hook(r) for r in hooks)) if e]
                for error in errors:
                    env.warn(f"DESTROY: {error}")
                hook_tasks = [env.tasks_by_role[r.path] for r in hooks if r.path in env.tasks_by_role]
                await self.controller.release(hook_tasks)
            await env.hooks.cancel_pending()
            env.env_event(transition="DESTROY", step="after_DESTROY", status=model.DONE_OK)
            env.state = "DONE"
            tasks = list(env.tasks.values())
            if keep_tasks:
                report.kept = [t.id for t in tasks]
            elif tasks:
                killed: KillReport = await self.controller.kill(tasks)
                report.killed, report.running = list(killed.killed), list(killed.running)
            for task in tasks:
                self.task_index.pop(task.id, None)
            report.warnings = list(env.warnings)
            self.environments.pop(env.id, None)
            self._release_detectors(env.id)
            env.env_event(state="DONE", transition="DESTROY", status=model.DONE_OK, message="environment destroyed")
            self.persist(env, destroyed=True)
        return report

    @staticmethod
    def _hook_runnable(env: Environment, role) -> bool:
        task = env.tasks_by_role.get(role.path)
        return task is not None and task.status == "ACTIVE"

    # -- integrated services ---------------------------------------------------------------------------------

    def integrated_services(self) -> dict[str, dict[str, Any]]:
        return self.integrations.services()
