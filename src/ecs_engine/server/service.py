"""The gRPC ``o2control.Control`` service over the environment manager, the executor and the repositories.

Wire-compatible with AliECS (protocols.md §1): every RPC answers, those without a feature behind them with
UNIMPLEMENTED and a sentence. Errors carry the project's error class in the trailing metadata
(``ecs-error-class``), so coconut shows the same message and exit status as an offline command would.
A failed ControlEnvironment returns OK with state ERROR, as upstream, and the reason in ``ecs-error-bin``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, NoReturn, Protocol

import grpc

from ecs_engine import __version__
from ecs_engine.config.configuration import PRIVATE_DETECTORS
from ecs_engine.environment.manager import CreateError, no_environment
from ecs_engine.errors import HandledError, NotFoundError, RefusedError, UsageError
from ecs_engine.events import model
from ecs_engine.events.model import now_ms
from ecs_engine.events.outbox import Outbox
from ecs_engine.fsm import State
from ecs_engine.globs import compile_glob
from ecs_engine.ids import new_id
from ecs_engine.offload import offload
from ecs_engine.protocols import common_pb2, events_pb2
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc

from . import messages
from .event_service import service_info
from .journal_service import journal_then_live
from .rpc_errors import abort, abort_with, rpc, rpc_stream
from .sources import EXAMPLES, EXAMPLES_REVISION
from .wire import ENVIRONMENT_ID_KEY, ERROR_REASON_KEY, OPTYPE_EXIT, OPTYPE_RECOVER

if TYPE_CHECKING:
    from ecs_engine.environment.environment import Environment
    from ecs_engine.environment.manager import EnvironmentManager
    from ecs_engine.repos.listing import WorkflowTemplateInfo
    from ecs_engine.repos.manager import RepoManager
    from ecs_engine.tasks.executor import Executor
    from ecs_engine.template.sources import TemplateSource
    from ecs_engine.template.yamlload import VarSpec

    from .settings import CoreSettings
    from .sources import TemplateSources

EVENTS = {
    pb.ControlEnvironmentRequest.START_ACTIVITY: "START_ACTIVITY",
    pb.ControlEnvironmentRequest.STOP_ACTIVITY: "STOP_ACTIVITY",
    pb.ControlEnvironmentRequest.CONFIGURE: "CONFIGURE",
    pb.ControlEnvironmentRequest.RESET: "RESET",
    pb.ControlEnvironmentRequest.DEPLOY: "DEPLOY",
    OPTYPE_EXIT: "EXIT",
    OPTYPE_RECOVER: "RECOVER",
}
log = logging.getLogger(__name__)

ID_CHARS = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{1,20}$")  # base58
#: how long GetFrameworkInfo waits for the configuration store's detector list before answering without it
STORE_WAIT_SECONDS = 1.0


class ServedCore(Protocol):
    """What the service reads of the running core (``ecs_engine.server.core.Core``, which imports this module)."""

    settings: CoreSettings
    config_url: str
    manager: EnvironmentManager
    executor: Executor
    repos: RepoManager
    sources: TemplateSources
    events: Outbox | None


def _check_id(environment_id: str) -> str:
    if not ID_CHARS.match(environment_id or ""):
        raise UsageError(f"received bad environment id '{environment_id}'")
    return environment_id


async def _creation_failed(context: grpc.aio.ServicerContext, exc: HandledError) -> NoReturn:
    """A failed NewEnvironment as upstream answers it (the AliECS GUI decodes it to show the failed environment):
    INTERNAL "cannot create new environment: ...", with a google.rpc.Status detail EnvironmentInfo{id,
    createdWhen, state ERROR}; an environment that never existed gets a fresh id, as upstream's. The
    project's error class still goes in the metadata, so coconut keeps its exit status. The prefix goes before
    the whole rendering (a template error's file and line first)."""
    if isinstance(exc, CreateError):
        prefix = ""
        info = pb.EnvironmentInfo(id=exc.info["id"], createdWhen=exc.info["createdWhen"], state=State.ERROR)
    else:
        prefix = "cannot create new environment: "
        info = pb.EnvironmentInfo(id=new_id(), createdWhen=now_ms(), state=State.ERROR)
    await abort_with(context, exc, code=grpc.StatusCode.INTERNAL, detail=info, prefix=prefix)


def _user(message: common_pb2.User) -> common_pb2.User | None:
    return message if message.ByteSize() else None


class ControlService(pb_grpc.ControlServicer):
    """``o2control.Control``; ``core`` is the running ``ecs_engine.server.core.Core``."""

    def __init__(self, core: ServedCore) -> None:
        self.core = core
        self._auto_streams: dict[str, str] = {}  # Subscribe id -> environment id
        self._auto_known = asyncio.Condition()

    @property
    def manager(self) -> EnvironmentManager:
        return self.core.manager

    @property
    def executor(self) -> Executor:
        return self.core.executor

    # -- framework ------------------------------------------------------------------------------------------

    @rpc
    async def GetFrameworkInfo(
        self, request: pb.GetFrameworkInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFrameworkInfoReply:
        major, minor, patch = (int(p) for p in ([*__version__.split("."), "0", "0"])[:3])
        detectors = await self._instance_detectors()
        active = self.manager.active_detectors()
        return pb.GetFrameworkInfoReply(
            frameworkId=self.manager.framework_id,
            environmentsCount=len(self.manager.environments),
            tasksCount=len(self.executor.tasks),
            state="CONNECTED",
            hostsCount=len(self.executor.resources.nodes()),
            instanceName=self.core.settings.instance_name,
            version=pb.Version(
                major=major, minor=minor, patch=patch, build="", productName="coconut-ecs", versionStr=__version__
            ),
            configurationEndpoint=self.core.config_url,
            detectorsInInstance=detectors,
            activeDetectors=active,
            availableDetectors=[d for d in detectors if d not in active and d not in PRIVATE_DETECTORS],
            timestamp=now_ms(),
        )

    async def _instance_detectors(self) -> list[str]:
        """The inventory's detectors; none (and a warning) if the store does not answer within a second.

        Framework information is what ``core status`` and clients' first look show: it must not wait on,
        or fail with, the configuration store.
        """
        config = self.manager.config
        try:
            return await asyncio.wait_for(offload(config.detectors, get_all=True), STORE_WAIT_SECONDS)
        except (TimeoutError, HandledError) as exc:
            log.warning("framework info without detectors: the configuration store %s: %s", self.core.config_url, exc)
            return []

    @rpc
    async def GetIntegratedServices(
        self, request: pb.Empty, context: grpc.aio.ServicerContext
    ) -> pb.ListIntegratedServicesReply:
        infos = await offload(self.manager.integrated_services)  # asks each plugin
        services = {name: pb.IntegratedServiceInfo(**info) for name, info in infos.items()}
        if self.core.events is not None:
            services["events"] = pb.IntegratedServiceInfo(**service_info(self.core.events.status()))
        return pb.ListIntegratedServicesReply(services=services, timestamp=now_ms())

    @rpc
    async def GetActiveDetectors(
        self, request: pb.Empty, context: grpc.aio.ServicerContext
    ) -> pb.GetActiveDetectorsReply:
        return pb.GetActiveDetectorsReply(detectors=self.manager.active_detectors(), timestamp=now_ms())

    @rpc
    async def GetAvailableDetectors(
        self, request: pb.Empty, context: grpc.aio.ServicerContext
    ) -> pb.GetAvailableDetectorsReply:
        detectors = await offload(self.manager.available_detectors)
        return pb.GetAvailableDetectorsReply(detectors=detectors, timestamp=now_ms())

    # -- environments ---------------------------------------------------------------------------------------

    def _info(
        self, env: Environment, *, with_tasks: bool, services: Mapping[str, dict[str, str]] | None = None
    ) -> pb.EnvironmentInfo:
        """``services``: what ``_services_data`` answered for the environments shown."""
        tasks = sorted(self.executor.tasks_of(env.id), key=lambda t: t.request.role_path)
        data = (services or {}).get(env.id, {})
        return messages.environment_info(env, tasks, with_tasks=with_tasks, services=data)

    async def _services_data(self, envs: list[Environment]) -> dict[str, dict[str, str]]:
        """What the integration plugins say about ``envs`` (synchronous plugin calls: offloaded)."""
        if not self.manager.integrations.plugins:
            return {}
        return await offload(self.manager.integrations.environments_data, [e.id for e in envs])

    @rpc
    async def GetEnvironments(
        self, request: pb.GetEnvironmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEnvironmentsReply:
        envs = [
            e
            for e in sorted(self.manager.environments.values(), key=lambda e: e.created_ms)
            if e.public or request.showAll
        ]
        services = await self._services_data(envs) if request.showDetailedIntegratedServices else None
        return pb.GetEnvironmentsReply(
            frameworkId=self.manager.framework_id,
            environments=[self._info(e, with_tasks=request.showTaskInfos, services=services) for e in envs],
            timestamp=now_ms(),
        )

    @rpc
    async def GetEnvironment(
        self, request: pb.GetEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEnvironmentReply:
        env = self._env(request.id)
        if env.state == State.ERROR:
            reason = await offload(self._last_error, env.id)  # a scan of the journal
            if reason:
                context.set_trailing_metadata(((ERROR_REASON_KEY, reason.encode()),))
        services = await self._services_data([env])
        return pb.GetEnvironmentReply(
            environment=self._info(env, with_tasks=True, services=services),
            workflow=messages.role_info(env, env.root) if request.showWorkflowTree else None,
            public=env.public,
            timestamp=now_ms(),
        )

    def _last_error(self, environment_id: str) -> str:
        """Why the environment went to ERROR: the error of its latest environment event that has one."""
        reason = ""
        for event in self.manager.journal.events(environment_id=environment_id, kinds=["environmentEvent"]):
            if event.environmentEvent.error:
                reason = event.environmentEvent.error
        return reason

    def _env(self, environment_id: str) -> Environment:
        _check_id(environment_id)
        return self.manager.get(environment_id)

    def _source(self, expression: str) -> tuple[TemplateSource, str]:
        return self.core.sources.resolve(expression)

    @rpc
    async def NewEnvironment(
        self, request: pb.NewEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.NewEnvironmentReply:
        try:
            source, name = await offload(self._source, request.workflowTemplate)
            user_vars, user = dict(request.vars), _user(request.requestUser)
            public = True if request.public else None  # false = the template's own !public decides
            if request.autoTransition:  # as upstream, answered once CONFIGURED; the run goes on
                create = functools.partial(
                    self.manager.create_auto,
                    source,
                    name,
                    user_vars=user_vars,
                    request_user=user,
                    until_configured=True,
                )
            else:
                create = functools.partial(
                    self.manager.create, source, name, user_vars=user_vars, request_user=user, public=public
                )
            env = await self._create_telling_id(context, create)
        except HandledError as exc:
            await _creation_failed(context, exc)
        return pb.NewEnvironmentReply(
            environment=self._info(env, with_tasks=True), public=env.public, timestamp=now_ms()
        )

    async def _create_telling_id(
        self, context: grpc.aio.ServicerContext, create: Callable[..., Awaitable[Environment]]
    ) -> Environment:
        """Create; the id goes to the client in the initial metadata as soon as the environment exists.

        The creation is the manager's own work: a client that goes away (Ctrl-C) leaves it running, and
        knows which environment to look at.
        """
        admitted: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def tell(env: Environment) -> None:
            if not admitted.done():
                admitted.set_result(env.id)

        creating = asyncio.ensure_future(create(on_admitted=tell))
        try:
            await asyncio.wait((creating, admitted), return_when=asyncio.FIRST_COMPLETED)
            if admitted.done():
                await context.send_initial_metadata(((ENVIRONMENT_ID_KEY, admitted.result()),))
            return await creating
        finally:
            creating.cancel()  # only this wait ends: the manager's own work goes on (see manager.create)

    @rpc
    async def NewEnvironmentAsync(
        self, request: pb.NewEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.NewEnvironmentReply:
        try:
            source, name = await offload(self._source, request.workflowTemplate)
            user_vars, user = dict(request.vars), _user(request.requestUser)
            if request.autoTransition:  # returns at once as well: the run goes on as events
                env = await self.manager.create_auto(source, name, user_vars=user_vars, request_user=user)
            else:
                public = True if request.public else None
                env = await self.manager.create_async(
                    source, name, user_vars=user_vars, request_user=user, public=public
                )
        except HandledError as exc:
            await _creation_failed(context, exc)
        return pb.NewEnvironmentReply(
            environment=self._info(env, with_tasks=False), public=env.public, timestamp=now_ms()
        )

    @rpc
    async def NewAutoEnvironment(
        self, request: pb.NewAutoEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.NewAutoEnvironmentReply:
        if not request.id:
            raise UsageError("NewAutoEnvironment: 'id' (the Subscribe stream id) is required")
        source, name = await offload(self._source, request.workflowTemplate)
        env = await self.manager.create_auto(
            source, name, user_vars=dict(request.vars), request_user=_user(request.requestUser)
        )
        async with self._auto_known:
            self._auto_streams[request.id] = env.id
            self._auto_known.notify_all()
        return pb.NewAutoEnvironmentReply(timestamp=now_ms())

    @rpc
    async def ControlEnvironment(
        self, request: pb.ControlEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ControlEnvironmentReply:
        env = self._env(request.id)
        event = EVENTS.get(request.type)
        if event is None:
            name = pb.ControlEnvironmentRequest.Optype.Name(request.type) if request.type in (0, 5) else request.type
            raise UsageError(
                f"cannot prepare invalid transition {name}",
                hint="events: START_ACTIVITY, STOP_ACTIVITY, CONFIGURE, RESET, DEPLOY, EXIT (1000), RECOVER (1001)",
            )
        start = now_ms()
        from ecs_engine.environment import TransitionError

        try:
            await self.manager.control(env.id, event, user=_user(request.requestUser))
        except TransitionError as exc:
            context.set_trailing_metadata(((ERROR_REASON_KEY, exc.reason.encode()),))
        end = now_ms()
        return pb.ControlEnvironmentReply(
            id=env.id,
            state=env.state,
            currentRunNumber=env.current_run,
            startOfTransition=start,
            endOfTransition=end,
            transitionDuration=end - start,
            timestamp=end,
        )

    @rpc
    async def DestroyEnvironment(
        self, request: pb.DestroyEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DestroyEnvironmentReply:
        env = self._env(request.id)
        before = {t.id: t for t in self.executor.tasks_of(env.id)}
        report = await self.manager.destroy(
            env.id,
            keep_tasks=request.keepTasks,
            allow_in_running_state=request.allowInRunningState,
            force=request.force,
            user=_user(request.requestUser),
        )
        killed = [messages.short_task(before[i]) for i in report.killed if i in before]
        # what is left of this environment's tasks (with keepTasks: all of them), as upstream; not other environments'
        running = [messages.short_task(t) for i, t in before.items() if i in self.executor.tasks]
        return pb.DestroyEnvironmentReply(
            cleanupTasksReply=pb.CleanupTasksReply(killedTasks=killed, runningTasks=running),
            timestamp=now_ms(),
        )

    @rpc_stream
    async def Subscribe(
        self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.Event]:
        """Upstream: the events of the environment NewAutoEnvironment creates with this ``id``. Ours: with
        ``environmentId``, an existing environment's; with neither, every environment's; with ``afterSeq``,
        first the journal's events after that sequence number (a client that reconnects misses nothing)."""
        stream = self.manager.bus.stream()
        await context.send_initial_metadata(())  # subscribed: the client may now create the environment
        try:
            environment_id = request.environmentId or None
            if request.id:
                async with self._auto_known:
                    await self._auto_known.wait_for(lambda: request.id in self._auto_streams)
                environment_id = self._auto_streams[request.id]
            elif (
                environment_id
                and environment_id not in self.manager.environments
                and not await offload(self.manager.store.load, environment_id)
            ):
                raise no_environment(environment_id)
            query = {"environment_id": environment_id, "run_number": None}
            after = request.afterSeq if request.HasField("afterSeq") else None
            async for event, _ in journal_then_live(self.manager, stream, query, after):
                yield event
                if (
                    environment_id
                    and model.kind_of(event) == "environmentEvent"
                    and event.environmentEvent.message == "environment destroyed"
                ):
                    return
        finally:
            stream.close()

    # -- tasks and roles ------------------------------------------------------------------------------------

    @rpc
    async def GetTasks(self, request: pb.GetTasksRequest, context: grpc.aio.ServicerContext) -> pb.GetTasksReply:
        """Every task, or with ``environmentId`` (ours) an existing environment's: its locked ones."""
        if request.environmentId:
            tasks = [t for t in self.executor.tasks_of(self._env(request.environmentId).id) if t.locked]
        else:
            tasks = list(self.executor.tasks.values())
        tasks.sort(key=lambda t: (messages.environment_of(t), t.request.role_path))
        index = self.manager.services.task_index
        return pb.GetTasksReply(
            tasks=[messages.short_task(t, messages.restarts_of(index.get(t.id), t.id)) for t in tasks],
            timestamp=now_ms(),
        )

    @rpc
    async def GetTask(self, request: pb.GetTaskRequest, context: grpc.aio.ServicerContext) -> pb.GetTaskReply:
        task = self.executor.tasks.get(request.taskId) or self.executor.forgotten.get(request.taskId)
        if task is None:
            raise NotFoundError(f"task not found: {request.taskId}")
        return pb.GetTaskReply(task=messages.task_info(task), timestamp=now_ms())

    @rpc
    async def CleanupTasks(
        self, request: pb.CleanupTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.CleanupTasksReply:
        unlocked = [t for t in self.executor.tasks.values() if not t.locked]
        if request.taskIds:
            wanted = set(request.taskIds)
            unknown = wanted - set(self.executor.tasks)
            if unknown:
                raise NotFoundError(f"task not found: {', '.join(sorted(unknown))}")
            locked = [t.id for t in self.executor.tasks.values() if t.id in wanted and t.locked]
            if locked:
                raise RefusedError(
                    f"task(s) {', '.join(locked)} belong to an environment: destroy the environment instead"
                )
            unlocked = [t for t in unlocked if t.id in wanted]
        killed = await self.executor.kill(unlocked)
        return pb.CleanupTasksReply(
            killedTasks=[messages.short_task(t) for t in killed],
            runningTasks=[messages.short_task(t) for t in self.executor.tasks.values()],
            timestamp=now_ms(),
        )

    @rpc
    async def GetRoles(self, request: pb.GetRolesRequest, context: grpc.aio.ServicerContext) -> pb.GetRolesReply:
        env = self._env(request.envId)
        pattern = compile_glob(request.pathSpec or "**", separator=".")
        roles = [messages.role_info(env, r) for r in env.root.walk() if pattern.match(r.path)]
        return pb.GetRolesReply(roles=roles, timestamp=now_ms())

    # -- templates and repositories -------------------------------------------------------------------------

    def _repos(self) -> RepoManager:
        return self.core.repos

    @rpc
    async def GetWorkflowTemplates(
        self, request: pb.GetWorkflowTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWorkflowTemplatesReply:
        problems: list[NotFoundError] = []

        def listing() -> list[WorkflowTemplateInfo]:
            if request.repoPattern == EXAMPLES:
                return []
            return self._repos().templates(
                request.repoPattern,
                request.revisionPattern,
                all_branches=request.allBranches,
                all_tags=request.allTags,
                all_workflows=request.allWorkflows,
                details=True,
                problems=problems,
            )

        examples = self.core.sources.example_templates(
            request.repoPattern, request.revisionPattern, all_workflows=request.allWorkflows
        )
        try:
            infos = await offload(listing) + examples
        except NotFoundError:  # no added repository matches (the GUI's '*' on a fresh core): the examples may
            if not examples:
                raise
            infos = examples
        for problem in problems:  # one broken repository does not hide the others (the reply has no place for it)
            log.warning("GetWorkflowTemplates: %s", problem.message)
        if problems and not infos:
            raise problems[0]
        out = [
            pb.WorkflowTemplateInfo(
                repo=i.repo,
                template=i.template,
                revision=i.revision,
                description=i.description,
                varSpecMap={k: _varspec(v) for k, v in i.varspecs.items()},
            )
            for i in infos
        ]
        return pb.GetWorkflowTemplatesReply(workflowTemplates=out, timestamp=now_ms())

    @rpc
    async def ListRepos(self, request: pb.ListReposRequest, context: grpc.aio.ServicerContext) -> pb.ListReposReply:
        listing = await offload(self._repos().list, revisions=request.getRevisions)
        repos = [
            pb.RepoInfo(name=r.name, default=r.default, defaultRevision=r.default_revision, revisions=r.revisions)
            for r in listing.repos
        ]
        if self.core.sources.examples is not None:  # always there, as upstream's default repository; listed
            # last, so the indexes of the added repositories stay; the default while none is added
            revisions = [EXAMPLES_REVISION] if request.getRevisions else []
            default = not any(r.default for r in repos)
            repos.append(
                pb.RepoInfo(name=EXAMPLES, default=default, defaultRevision=EXAMPLES_REVISION, revisions=revisions)
            )
        return pb.ListReposReply(repos=repos, globalDefaultRevision=listing.global_default_revision, timestamp=now_ms())

    @rpc
    async def AddRepo(self, request: pb.AddRepoRequest, context: grpc.aio.ServicerContext) -> pb.AddRepoReply:
        result = await offload(self._repos().add, request.name, request.defaultRevision or None)
        return pb.AddRepoReply(newDefaultRevision=result.repo.default_revision, info=result.info, timestamp=now_ms())

    @rpc
    async def RemoveRepo(self, request: pb.RemoveRepoRequest, context: grpc.aio.ServicerContext) -> pb.RemoveRepoReply:
        new_default = await offload(self._repos().remove, request.index)
        return pb.RemoveRepoReply(newDefaultRepo=new_default or "", timestamp=now_ms())

    @rpc
    async def RefreshRepos(self, request: pb.RefreshReposRequest, context: grpc.aio.ServicerContext) -> pb.Empty:
        index = None if request.index < 0 else request.index
        await offload(self._repos().refresh, index)
        return pb.Empty()

    @rpc
    async def SetDefaultRepo(self, request: pb.SetDefaultRepoRequest, context: grpc.aio.ServicerContext) -> pb.Empty:
        await offload(self._repos().set_default_repo, request.index)
        return pb.Empty()

    @rpc
    async def SetGlobalDefaultRevision(
        self, request: pb.SetGlobalDefaultRevisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Empty:
        await offload(self._repos().set_global_default_revision, request.revision)
        return pb.Empty()

    @rpc
    async def SetRepoDefaultRevision(
        self, request: pb.SetRepoDefaultRevisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetRepoDefaultRevisionReply:
        try:
            await offload(self._repos().set_repo_default_revision, request.index, request.revision)
        except HandledError as exc:  # upstream: OK, with what is valid in `info`
            return pb.SetRepoDefaultRevisionReply(info=exc.render_plain(), timestamp=now_ms())
        return pb.SetRepoDefaultRevisionReply(info="", timestamp=now_ms())

    # -- not implemented ------------------------------------------------------------------------------------

    async def Teardown(self, request: pb.TeardownRequest, context: grpc.aio.ServicerContext) -> pb.TeardownReply:
        await abort(
            context,
            grpc.StatusCode.UNIMPLEMENTED,
            "Teardown is not implemented (as in AliECS): destroy environments with DestroyEnvironment",
        )

    async def ModifyEnvironment(
        self, request: pb.ModifyEnvironmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModifyEnvironmentReply:
        await abort(
            context,
            grpc.StatusCode.UNIMPLEMENTED,
            "ModifyEnvironment is not implemented (as in AliECS): destroy the environment and create a new one",
        )


def _varspec(spec: VarSpec) -> pb.VarSpecMessage:
    """A ``!public`` variable's VarSpec; its fields hold what the YAML had (a number stays a number)."""
    widgets = pb.VarSpecMessage.UiWidget
    types = pb.VarSpecMessage.Type
    return pb.VarSpecMessage(
        defaultValue=str(spec.value or ""),
        type=dict(types.items()).get(str(spec.type), types.Value("string")),
        label=str(spec.label or ""),
        description=str(spec.description or ""),
        widget=dict(widgets.items()).get(str(spec.widget), widgets.Value("editBox")),
        panel=str(spec.panel or ""),
        allowedValues=[str(v) for v in spec.values],
        index=int(spec.index or 0),
        visibleIf=str(spec.visibleif or ""),
        enabledIf=str(spec.enabledif or ""),
        rows=int(spec.rows or 0),
    )
