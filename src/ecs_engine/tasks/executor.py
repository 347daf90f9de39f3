"""The executor: deploys tasks through a resource manager and drives them, in parallel, over OCC.

Deploy places each task on a node, allocates its ports, builds and launches its command (every process of a
deploy started before any is waited for), waits until OCC processes are STANDBY and keeps their streams open.
Transitions go to many tasks at once; each task's outcome is reported separately so the engine can tell
critical from non-critical failures. Kill is ``occ.shutdown.stop``, the reference's escalation: OCC walk to
DONE (5 s per step), then SIGTERM, 2 s, SIGINT, 3 s, SIGKILL to the process group. Every process end the
executor did not ask for is reported to the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecs_engine.errors import HandledError
from ecs_engine.ids import new_id
from ecs_engine.occ import shutdown, states
from ecs_engine.occ.errors import DIRECT, FMQ
from ecs_engine.occ.options import PORT_ENV
from ecs_engine.offload import offload
from ecs_engine.template.tasks import TaskCommand

from .channels import bind_map, channel_arguments
from .model import BASIC, FAIRMQ, HOOK, TaskProcess, TaskRequest, node_of
from .modes import (
    LAST_OUTPUT,
    BasicDriver,
    FairMQDriver,
    HookDriver,
    ModeDriver,
    OccDriver,
    PortTaken,
    describe,
    hook_result,
    state_after_unexpected_exit,
)
from .registry import TaskRegistry
from .reports import ACTIVE, INACTIVE, Deployment, HookResult
from .resources import (
    CONTROL_PORT_BASE,
    DATA_PORT_BASE,
    NO_DESCRIPTOR,
    LaunchSpec,
    Node,
    ProcessHandle,
    ResourceManager,
    Wants,
    out_of_descriptors,
)

log = logging.getLogger(__name__)

FMQ_PLUGIN = "OCClite"
PORT_ATTEMPTS = 3  # control ports tried for one task when another process takes its port first
#: tasks of a deploy prepared (command rendered, ports given) per process the resource manager starts at once:
#: rendering all first held back the first start by 50-90 ms at 100 tasks, while the tasks' own startup waited
PREPARED_PER_LAUNCH = 2
#: tasks forgotten (failed to start, or killed) kept for GetTask: the latest ones (memory stays flat)
FORGOTTEN_KEPT = 100


@dataclass
class Timeouts:
    """Waits of the executor, in seconds (settings ``core.*_timeout``)."""

    startup: float = 30.0  # launch -> STANDBY
    configure: float = 120.0
    transition: float = 90.0
    kill_step: float = shutdown.STEP_TIMEOUT  # each OCC step on the way to DONE

    def for_event(self, event: str) -> float:
        return self.configure if event == states.CONFIGURE else self.transition


@dataclass
class FairMQSettings:
    plugin: str = FMQ_PLUGIN  # OCClite (JSON codec) or OCC (protobuf)
    plugin_search_path: str = ""


class ExecutorListener(Protocol):
    """What the executor tells its owner (the core's ``ExecutorTaskController``). Called in the event loop."""

    def task_changed(self, task: TaskProcess) -> None:
        """The task's state or status changed (a reply, a StateStream message, an exit)."""

    def device_event(self, task: TaskProcess, event: str) -> None:
        """A device event: END_OF_STREAM, TASK_INTERNAL_ERROR (OCC EventStream)."""

    def task_ended(self, task: TaskProcess, result: HookResult, expected: bool) -> None:
        """The task's process ended; ``expected`` if the executor caused it (STOP, kill, EXIT)."""


class _NoListener:
    """Until an owner listens, what the executor reports goes nowhere."""

    def task_changed(self, task: TaskProcess) -> None:
        pass

    def device_event(self, task: TaskProcess, event: str) -> None:
        pass

    def task_ended(self, task: TaskProcess, result: HookResult, expected: bool) -> None:
        pass


class Executor:
    """Runs the tasks of every environment of one core."""

    def __init__(
        self,
        resources: ResourceManager,
        *,
        timeouts: Timeouts | None = None,
        registry: TaskRegistry | None = None,
        listener: ExecutorListener | None = None,
        fairmq: FairMQSettings | None = None,
        state_stream: bool = False,
    ):
        self.resources = resources
        self.timeouts = timeouts or Timeouts()
        self.registry = registry
        self.listener: ExecutorListener = listener or _NoListener()
        self.fairmq = fairmq or FairMQSettings()
        #: also keep a StateStream per OCC process (AliECS keeps only the EventStream; see docs/core.md)
        self.state_stream = state_stream
        self.tasks: dict[str, TaskProcess] = {}
        #: task id -> a task forgotten (not in ``tasks``): one that failed to launch or start, or was killed (its
        #: environment destroyed); the latest FORGOTTEN_KEPT, so that ``coconut task show/logs`` of the id an error
        #: or a log names still finds it and its output files
        self.forgotten: dict[str, TaskProcess] = {}
        self._drivers: dict[str, ModeDriver] = {}
        self._watchers: dict[str, asyncio.Task] = {}
        #: (environment, role path) -> the node placed for a task its environment deploys later, and its wants
        self._planned: dict[tuple[str, str], tuple[Node, Wants]] = {}
        self._deploying: set[tuple[str, str]] = set()  # (environment, role path) of the deploys under way
        ahead = PREPARED_PER_LAUNCH * resources.launches_at_once
        #: tasks prepared and not yet started (None: as many as the deploy has)
        self._preparing = asyncio.Semaphore(ahead) if ahead else None

    # -- queries ----------------------------------------------------------------------------------------------

    def tasks_of(self, environment_id: str) -> list[TaskProcess]:
        return [t for t in self.tasks.values() if t.environment_id == environment_id]

    # -- deploy -----------------------------------------------------------------------------------------------

    async def deploy(
        self, requests: Sequence[TaskRequest], planned: Sequence[TaskRequest] = ()
    ) -> Deployment[TaskProcess]:
        """Deploy tasks in parallel: ACTIVE (and STANDBY for OCC processes), or a failure naming why.

        ``planned`` are tasks the same environment deploys later (those of its DEPLOY, when a hook before it is
        deployed first): they are placed now too and keep their nodes for that deploy. A deploy without them gives
        back what its environments left planned."""
        keys = {(r.environment_id, r.role_path) for r in requests}
        self._deploying.update(keys)
        try:
            return await self._deploy(requests, planned)
        finally:
            self._deploying.difference_update(keys)

    async def _deploy(self, requests: Sequence[TaskRequest], planned: Sequence[TaskRequest]) -> Deployment[TaskProcess]:
        await self.resources.ready()
        # every task is placed before any is launched: a batch manager sizes a node's allocation by all of them
        placements = [self._place(r) for r in requests]
        if planned:  # (hooks deploy at once: not the tasks that another deploy places or placed)
            placed = self._deploying | {(t.environment_id, t.request.role_path) for t in self.tasks.values()}
            for request in planned:
                key = (request.environment_id, request.role_path)
                if key not in self._planned and key not in placed and isinstance(node := self._place(request), Node):
                    self._planned[key] = (node, request.wants)
        results = await self._launch_then_start(requests, placements)
        deployed = [r for r in results if isinstance(r, TaskProcess) and r.id in self.tasks]
        if not planned or not deployed:
            self._unplan({r.environment_id for r in [*requests, *planned]})
        # the tasks without a process yet (basic, hook): those with one were recorded as it started (``_started``)
        unrecorded = [t for t in deployed if t.process is None]
        if self.registry is not None and unrecorded:  # one commit, not one per task on the loop
            await offload(self.registry.put_many, [t.record() for t in unrecorded])
        deployment: Deployment[TaskProcess] = Deployment([])
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, TaskProcess):
                deployment.tasks.append(result)
            elif isinstance(result, HandledError):
                hint = f"; {result.hint}" if result.hint else ""
                deployment.undeployable[request.role_path] = result.message + hint
            elif isinstance(result, OSError) and result.errno in NO_DESCRIPTOR:
                deployment.undeployable[request.role_path] = out_of_descriptors(result)
            elif isinstance(result, Exception):  # a bug (a resource manager's, a plugin's): this task's failure,
                # so the environment's create fails and is torn down as for any other, not left half made
                log.error("task role %s: unexpected error while deploying it", request.role_path, exc_info=result)
                deployment.undeployable[request.role_path] = f"internal error: {type(result).__name__}: {result}"
            elif isinstance(result, BaseException):
                raise result
        return deployment

    def _place(self, request: TaskRequest) -> Node | HandledError:
        if request.build_command is None:
            return HandledError(f"task role {request.role_path}: no command")
        kept = self._planned.pop((request.environment_id, request.role_path), None)
        if kept is not None:
            if kept[1] == request.wants:
                return kept[0]
            self.resources.unplace(*kept)
        try:
            return self.resources.place(request.constraints, request.wants, f"task role {request.role_path}")
        except HandledError as exc:
            return exc

    def _unplan(self, environments: set[str]) -> None:
        """Give back the nodes planned for tasks of ``environments`` that were not deployed."""
        for key in [k for k in self._planned if k[0] in environments]:
            self.resources.unplace(*self._planned.pop(key))

    async def _launch_then_start(
        self, requests: Sequence[TaskRequest], placements: Sequence[Node | HandledError]
    ) -> list[TaskProcess | BaseException]:
        """Every task's process is started before any is waited for (its STANDBY), as a bare client does: the
        first ones' checks and calls do not compete with the others' starts for the loop and the GIL, and their
        calls go out together. Interleaved, the starts spread over the whole deploy and each reply woke the loop
        on its own: 3.3 against 2.7 ms of the core's CPU per created task (docs/scale-log.md, H-LAUNCHFIRST).
        A task's startup deadline runs from its own wait, so it does not pay for the others' starts."""
        launched: list[tuple[TaskProcess, TaskCommand]] = []
        try:
            first = await asyncio.gather(
                *(self._launch_one(r, p, launched) for r, p in zip(requests, placements, strict=True)),
                return_exceptions=True,
            )
        except BaseException:  # cancelled: the launched ones are killed (a launch that failed cleaned up itself)
            for task, _ in launched:
                await self._forget(task, kill=True)
            raise
        started = iter(
            await asyncio.gather(
                *(self._start_one(*item) for item in first if isinstance(item, tuple)), return_exceptions=True
            )
        )
        return [next(started) if isinstance(item, tuple) else item for item in first]

    async def _launch_one(
        self, request: TaskRequest, node: Node | HandledError, launched: list[tuple[TaskProcess, TaskCommand]]
    ) -> tuple[TaskProcess, TaskCommand]:
        """The task made, its ports given and its process (OCC tasks) started; on failure, nothing is left."""
        if isinstance(node, HandledError):
            raise node
        assert request.build_command is not None  # _place refused it
        task_id = new_id()
        async with self._preparing or contextlib.nullcontext():  # (until its process started)
            try:
                command = request.build_command(node.name, task_id)
            except BaseException:
                self.resources.unplace(node, request.wants)
                raise
            task = TaskProcess(id=task_id, request=request, node=node, command=command)
            self.tasks[task_id] = task
            try:
                self._allocate(task)
                log_dir = self.resources.log_dir(task.environment_id)
                if request.mode in (BASIC, HOOK) or command.stdout != "none":
                    task.stdout_path = str(log_dir / f"{task_id}.stdout.log")
                if request.mode in (BASIC, HOOK) or command.stderr != "none":
                    task.stderr_path = str(log_dir / f"{task_id}.stderr.log")
                self._drivers[task_id] = self._driver_for(task)
                if request.is_occ:
                    await self._launch(task)
            except BaseException as exc:
                await self._drop_failed(task, exc)
                raise
        launched.append((task, command))
        return task, command

    async def _start_one(self, task: TaskProcess, command: TaskCommand) -> TaskProcess:
        """The launched task ACTIVE (OCC tasks: in STANDBY); on failure, its process is killed and it is forgotten."""
        try:
            if task.request.is_occ:
                await self._start_occ(task, command)
            task.status = ACTIVE  # recorded by deploy(), for all at once
            self.listener.task_changed(task)
            return task
        except BaseException as exc:
            await self._drop_failed(task, exc)
            raise

    async def _drop_failed(self, task: TaskProcess, error: BaseException) -> None:
        """A task that failed to launch or start: its process killed, its record replaced by a forgotten one."""
        await self._forget(task, kill=True, unrecord=False)
        kept = [task] if self._keep_failed(task, error) else []
        if self.registry is not None:
            await offload(self._retire, [task.id], kept)

    def _keep_failed(self, task: TaskProcess, error: BaseException) -> bool:
        """The deploy's error names the task and sends its reader to 'coconut task show/logs': the forgotten task is
        kept, failed, that error (not the output it quotes: it is in the task's files) saying how it ended, without
        its process and renderers (they hold the template). False if it did not fail (cancelled)."""
        if not isinstance(error, Exception):
            return False
        message = error.message if isinstance(error, HandledError) else f"{type(error).__name__}: {error}"
        task.status, task.state = INACTIVE, states.ERROR
        task.last_result = HookResult(exit_code=-1, final_status="FAILED", error=message.partition(LAST_OUTPUT)[0])
        self._keep_forgotten(task)
        return True

    def _keep_forgotten(self, task: TaskProcess) -> None:
        """Keep a forgotten task for GetTask, without its process and renderers (they hold the template)."""
        task.request = dataclasses.replace(task.request, build_command=None, properties=None)
        task.process, task.pid = None, 0
        self.forgotten.pop(task.id, None)
        self.forgotten[task.id] = task
        if len(self.forgotten) > FORGOTTEN_KEPT:
            del self.forgotten[next(iter(self.forgotten))]

    def _retire(self, task_ids: list[str], kept: list[TaskProcess]) -> None:
        """In the offload pool: the records of ``task_ids`` deleted and those of the forgotten ``kept`` written, in
        one commit, so a restarted core still finds them by id (``recall``). Their records are built here, not on the
        loop: a destroy's kill pays one commit as before, not the records' making."""
        assert self.registry is not None
        self.registry.retire(task_ids, [t.forgotten_record() for t in kept], FORGOTTEN_KEPT)

    async def recall(self) -> None:
        """Once, at the core's start: the tasks the previous core forgot last, as it kept them (GetTask finds them)."""
        if self.registry is None:
            return
        for record in await offload(self.registry.forgotten):
            task = TaskProcess.from_forgotten(record)
            self.forgotten[task.id] = task

    async def _start_occ(self, task: TaskProcess, command: TaskCommand) -> None:
        """Wait for a launched OCC process's STANDBY; a control port that another process took between its
        allocation and the bind (another core, another user) is given up for a new one (and the process launched
        again), up to PORT_ATTEMPTS times.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                await self._drivers[task.id].started(self.timeouts.startup)
                return
            except PortTaken as exc:
                if attempt == PORT_ATTEMPTS:
                    raise
                log.info("%s; retrying on another port", exc.message)
                await self._forget_process(task)
                taken = task.control_port
                task.control_port = self.resources.allocate_port(task.node, CONTROL_PORT_BASE)
                task.ports = (*(p for p in task.ports if p != taken), task.control_port)
                self.resources.release_ports(task.node, [taken])
                task.command, task.transport = command, ""
                self._drivers[task.id] = self._driver_for(task)
                await self._launch(task)

    async def _forget_process(self, task: TaskProcess) -> None:
        """Kill a process that failed to start and drop its driver (the task keeps its id and record)."""
        driver = self._drivers.pop(task.id)
        driver.expect_exit = True
        await driver.close()
        if task.process is not None and task.process.alive():
            await shutdown.signal_down(task.process)

    def _record(self, task: TaskProcess) -> None:
        """Write the task's record, so a core killed at any moment finds, after its restart, every process it may
        have started: its process is recorded before it runs the command (``_started``; a process the core had no
        time to record never runs it: the resource manager holds it back until then, or records it at once)."""
        if self.registry is not None and task.id in self.tasks:
            self.registry.put(task.record())

    def _allocate(self, task: TaskProcess) -> None:
        ports: list[int] = []
        for channel in task.request.bind:
            target = channel.target.strip()
            if target.startswith(("tcp://", "ipc://")):
                task.bound[channel.name] = target
                task.reachable[channel.name] = target.replace("*", task.node.address, 1)
            elif target:
                raise HandledError(
                    f"task role {task.request.role_path}: inbound channel '{channel.name}' has target '{target}' "
                    "(expected empty, tcp://... or ipc://...)"
                )
            elif channel.addressing == "ipc":
                address = self.resources.ipc_address()
                task.bound[channel.name] = task.reachable[channel.name] = address
            else:
                port = self.resources.allocate_port(task.node, DATA_PORT_BASE)
                ports.append(port)
                task.bound[channel.name] = f"tcp://{self.resources.bind_host(task.node)}:{port}"
                task.reachable[channel.name] = f"tcp://{task.node.address}:{port}"
        if task.request.is_occ:
            task.control_port = self.resources.allocate_port(task.node, CONTROL_PORT_BASE)
            ports.append(task.control_port)
        task.ports = tuple(ports)

    def _driver_for(self, task: TaskProcess) -> ModeDriver:
        mode = task.request.mode
        if mode == FAIRMQ:
            if not task.transport:  # deploy (re-attached tasks have theirs)
                self._prepare_fairmq(task)
            return FairMQDriver(task, self._notify, state_stream=self.state_stream)
        if mode == BASIC:
            return BasicDriver(task, self._notify, self._launch)
        if mode == HOOK:
            return HookDriver(task, self._notify, self._launch)
        task.transport = task.transport or DIRECT
        return OccDriver(task, self._notify, state_stream=self.state_stream)

    def _prepare_fairmq(self, task: TaskProcess) -> None:
        """Add the FairMQ arguments the core passes (protocols.md §5) and pick the transport they imply."""
        command = task.command
        words = " ".join([command.value, *command.arguments]).split()
        extra = [] if "--id" in words else ["--id", task.id]
        if self.fairmq.plugin_search_path:
            extra += ["-S", self.fairmq.plugin_search_path]
        extra += ["-P", self.fairmq.plugin, "--color", "false", "--control-port", str(task.control_port)]
        if command.shell:
            extra = [shlex.quote(word) for word in extra]
        task.command = TaskCommand(
            value=command.value,
            shell=command.shell,
            user=command.user,
            env=command.env,
            arguments=[*command.arguments, *extra],
            stdout=command.stdout,
            stderr=command.stderr,
        )
        task.transport = FMQ if "-P OCClite" in " ".join(task.command.argv()) else DIRECT

    async def _launch(self, task: TaskProcess) -> ProcessHandle:
        env = dict(entry.partition("=")[::2] for entry in task.command.env)
        if task.request.is_occ:
            env[PORT_ENV] = str(task.control_port)
        spec = LaunchSpec(
            task_id=task.id,
            argv=task.command.argv(),
            env=env,
            cwd=self.resources.log_dir(task.environment_id),
            user=task.command.user,
            stdout_path=Path(task.stdout_path) if task.stdout_path else None,
            stderr_path=Path(task.stderr_path) if task.stderr_path else None,
            wants=task.request.wants,
            before_run=functools.partial(self._started, task),
        )
        process = await self.resources.launch(task.node, spec)
        self._watch(task, process)
        return process

    def _started(self, task: TaskProcess, process: ProcessHandle) -> None:
        """``before_run``: may be called on the resource manager's worker thread (the registry is thread-safe)."""
        task.process = process
        task.pid = process.pid
        self._record(task)

    def _watch(self, task: TaskProcess, process: ProcessHandle) -> None:
        previous = self._watchers.get(task.id)
        if previous is not None and not previous.done():
            previous.cancel()
        self._watchers[task.id] = asyncio.get_running_loop().create_task(self._watch_exit(task, process))

    async def _watch_exit(self, task: TaskProcess, process: ProcessHandle) -> None:
        code = await process.wait()
        if task.process is not process:
            return
        driver = self._drivers.get(task.id)
        expected = driver is None or driver.expect_exit
        task.pid = 0
        if task.request.mode in (BASIC, HOOK):
            result = hook_result(task, code)
            task.last_result = result
            if task.request.mode == BASIC:
                task.process = None
                self.listener.task_ended(task, result, expected)
            return
        result = hook_result(task, code)
        task.last_result = result
        task.status = INACTIVE
        task.state = states.DONE if expected else state_after_unexpected_exit(task)
        if not expected:
            log.warning("%s ended by itself: %s", describe(task), result.error or result.final_status)
        self.listener.task_changed(task)
        self.listener.task_ended(task, result, expected)

    def _notify(self, kind: str, task: TaskProcess, detail: object) -> None:
        if kind == "state":
            self.listener.task_changed(task)
        elif kind == "event":
            self.listener.device_event(task, str(detail))

    # -- transitions ------------------------------------------------------------------------------------------

    async def transition(
        self,
        tasks: Iterable[TaskProcess],
        event: str,
        arguments: Sequence[tuple[str, str]] | Callable[[TaskProcess], Sequence[tuple[str, str]]] = (),
        *,
        timeout: float | None = None,
    ) -> dict[str, str]:
        """Send OCC ``event`` to every task at once; returns task id -> error for those that failed.

        CONFIGURE adds each task's property map and channel keys (reference §4.5) to ``arguments``.
        """
        tasks = list(tasks)
        timeout = self.timeouts.for_event(event) if timeout is None else timeout
        targets: dict[str, str] = {}
        if event == states.CONFIGURE:
            environments = {t.environment_id for t in tasks}
            targets = bind_map(t for t in self.tasks.values() if t.environment_id in environments)

        async def one(task: TaskProcess) -> None:
            common = arguments(task) if callable(arguments) else arguments
            pushed = list(common)
            if event == states.CONFIGURE and task.request.is_occ:
                if task.request.properties is not None:  # not after a restart: the templates are not loaded
                    task.properties = dict(task.request.properties(task.node.name, task.id))
                # each key once, the last given winning (as a process that reads them into a map sees them)
                keyed = {"environment_id": task.environment_id, **dict(pushed), **(task.properties or {})}
                pushed = [*keyed.items(), *channel_arguments(task, targets)]
            await self._drivers[task.id].transition(event, pushed, timeout)  # each RPC has the deadline

        results = await asyncio.gather(*(one(t) for t in tasks), return_exceptions=True)
        if event == states.CONFIGURE and self.registry is not None:
            await offload(self.registry.put_many, [t.record() for t in tasks if t.id in self.tasks])
        errors: dict[str, str] = {}
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, HandledError):
                errors[task.id] = result.message
            elif isinstance(result, BaseException):
                raise result
        return errors

    async def trigger_hook(self, task: TaskProcess, timeout: float | None = None) -> HookResult:
        """Run a hook task once and wait for it (``timeout``: the role's, 0 = none)."""
        driver = self._drivers.get(task.id)
        if not isinstance(driver, HookDriver):
            raise HandledError(f"{describe(task)} is not a hook task")
        result = await driver.trigger(task.request.hook_timeout if timeout is None else timeout)
        task.last_result = result
        return result

    # -- kill -------------------------------------------------------------------------------------------------

    async def kill(self, tasks: Iterable[TaskProcess]) -> list[TaskProcess]:
        """Stop tasks for good (OCC walk to DONE, then signals); returns those that were killed."""
        tasks = [t for t in tasks if t.id in self.tasks]
        self._unplan({t.environment_id for t in tasks})  # (a hook before DEPLOY failed: the rest is not deployed)
        await asyncio.gather(*(self._kill_one(t) for t in tasks))
        if self.registry is not None and tasks:
            killed = [t.id for t in tasks]
            wanted = set(killed)
            kept = [t for t in self.forgotten.values() if t.id in wanted]  # in the order they are kept
            await offload(self._retire, killed, kept)
        return tasks

    async def _kill_one(self, task: TaskProcess) -> None:
        driver = self._drivers.get(task.id)
        process = task.process
        if driver is not None:
            driver.expect_exit = True
        if process is not None:
            walk = functools.partial(self._walk_down, driver) if isinstance(driver, OccDriver) else None
            await shutdown.stop(process, walk, step_timeout=self.timeouts.kill_step)
        await self._forget(task, kill=False, unrecord=False)  # kill() removes the records of all at once
        task.status = INACTIVE
        task.state = states.DONE
        self.listener.task_changed(task)
        self._keep_forgotten(task)

    async def _walk_down(self, driver: OccDriver) -> bool:
        """The walk to DONE, then the control connection closed before the process's end is waited for: nothing
        more is asked of it, and a gRPC server that stops with its client still connected lets its process end
        later (the fast peer's hubs: 10-25 ms more CPU per destroy of 100)."""
        walked = await driver.walk_to_done(self.timeouts.kill_step)
        await driver.close()
        return walked

    async def _forget(self, task: TaskProcess, *, kill: bool, unrecord: bool = True) -> None:
        if kill and task.process is not None and task.process.alive():
            await shutdown.signal_down(task.process)
        driver = self._drivers.pop(task.id, None)
        if driver is not None:
            await driver.close()
        watcher = self._watchers.pop(task.id, None)
        if watcher is not None and not watcher.done():
            watcher.cancel()
        known = self.tasks.pop(task.id, None) is not None
        if known and self.registry is not None and unrecord:
            await offload(self.registry.remove, [task.id])
        self.resources.release_ports(task.node, task.ports)
        if known:
            self.resources.unplace(task.node, task.request.wants)

    async def shutdown(self) -> None:
        """Kill every task (the core is exiting: no child is left behind)."""
        await self.kill(list(self.tasks.values()))

    # -- re-attach --------------------------------------------------------------------------------------------

    async def reattach(
        self, record: Mapping[str, Any], request: TaskRequest | None = None, *, timeout: float = 5.0
    ) -> TaskProcess:
        """Take over a task a previous core started; raises HandledError (with the reason) if it is lost."""
        task = TaskProcess.from_record(record, request)
        node, request = task.node, task.request
        process_record = record.get("process")
        process = self.resources.attach(node, process_record) if process_record else None
        if request.is_occ and process is None:
            pid = (process_record or {}).get("pid", "?")
            raise HandledError(f"{describe(task)} is lost: its process {pid} is gone")
        reserve = getattr(self.resources, "reserve_ports", None)
        if reserve is not None:
            reserve(task.ports)
        task.process = process
        task.pid = process.pid if process is not None else 0
        driver = self._driver_for(task)
        self.tasks[task.id] = task
        self.resources.keep(node, request.wants)  # given back when the task is forgotten, as placed ones
        self._drivers[task.id] = driver
        if isinstance(driver, OccDriver):
            try:
                info = await driver.client.get_state(timeout=timeout, wait_for_ready=True)
            except HandledError as exc:
                await self._forget(task, kill=True)  # alive but deaf: nobody could ever stop it otherwise
                raise HandledError(
                    f"{describe(task)} is lost: process {task.pid} does not answer on control port "
                    f"{task.control_port} ({exc.message})"
                ) from None
            if info.pid and process is not None and not process.owns(info.pid):
                await self._forget(task, kill=True)
                raise HandledError(
                    f"{describe(task)} is lost: control port {task.control_port} is now served by pid {info.pid}"
                )
            task.state = driver.occ_state(info.state)
            driver.open_streams()
        if process is not None:
            self._watch(task, process)
        task.status = ACTIVE
        return task

    async def discard(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Kill the processes of records that no environment owns: tasks of a deploy the previous core did not
        live to finish. Their processes may not even answer OCC yet, so they get signals, not transitions."""
        processes = [self.resources.attach(node_of(r), r["process"]) for r in records if r.get("process") is not None]
        await asyncio.gather(*(shutdown.signal_down(p) for p in processes if p is not None))
        if self.registry is not None:
            self.registry.remove([r["id"] for r in records])
