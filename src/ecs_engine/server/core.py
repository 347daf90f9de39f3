"""The core process: configuration store, executor, environment manager, repositories and the gRPC service.

Starting reloads the environments of the data directory and re-attaches to their live tasks (pid and
control port); an environment whose critical tasks were lost goes to ERROR with the reason. Stopping kills
every task (no child outlives the core) but keeps the environments, which the next start then finds with
their tasks lost. One core per data directory (an advisory lock held for the core's life) and per state
directory (its pid file, trusted only while the pid is the same process: same start time). Both directories
are the owner's alone (0700, files 0600); every RPC must carry the owner's token (``auth``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from ecs_engine.errors import HandledError, RefusedError
from ecs_engine.events.model import core_start_event
from ecs_engine.events.outbox import Outbox
from ecs_engine.fsm import State
from ecs_engine.ids import new_id
from ecs_engine.offload import offload
from ecs_engine.processes import start_ticks, started_before
from ecs_engine.protocols import journal_pb2_grpc, watchdogs_pb2_grpc
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc
from ecs_engine.tasks.reports import ACTIVE

from . import systemd
from .auth import TokenCheck, ensure_token
from .listening import SERVER_OPTIONS, bind
from .settings import CoreSettings

if TYPE_CHECKING:
    from ecs_engine.environment.watchdogs import Watchdogs

log = logging.getLogger(__name__)


PIDFILE = "core.pid"
STOPFILE = "core.stop.json"  # what the core's last stop could not do ({pid, warnings}), for 'coconut core stop'
LOGFILE = "core.log"
#: ``core.log`` is rotated at this size, keeping ``core.log.1`` .. ``core.log.5`` (60 MB at most)
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
#: what chooses a core's data and state directories, for the errors that ask for others (read by a core started
#: either way: coconut starts it with --data-dir and --state-dir of its own)
DIRECTORIES = (
    "coconut takes them from XDG_DATA_HOME and XDG_STATE_HOME (their coconut/ folders), python -m ecs_engine.server"
    " (a systemd unit) from --data-dir and --state-dir"
)
LOCKFILE = "core.lock"  # in the data directory: held (flock) by the core that uses it, names its pid
PRIVATE_UMASK = 0o077  # what the core creates is its owner's alone: directories 0700, files 0600
#: signals that stop the core cleanly (SIGHUP: the terminal of a foreground core went away)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: the engine's own limits wait a little longer than the executor's, whose errors name the tasks
ENGINE_MARGIN = 10.0
GC_THRESHOLDS = (10_000, 20, 20)  # Python's defaults: (700, 10, 10); see tune_garbage_collector
#: what a core is called in the error a port in use gives, and why (coconut's check before starting one says it too)
CORE = "a core"
ANOTHER_CORE = "another user's core, perhaps"
#: how a core started by python -m ecs_engine.server or a systemd unit takes another port
TAKE_A_PORT = f"{ANOTHER_CORE}; take a port of your own: --listen HOST:PORT, or the setting core.listen"


def read_pidfile(state_dir: Path) -> dict[str, Any] | None:
    """The running core of this state directory ({pid, start_ticks, listen, data_dir, started_ms, apricot}), None if
    none runs: a pid that now names another process (reused after the core died) is not the core."""
    path = state_dir / PIDFILE
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
        if "start_ticks" in data:
            same = start_ticks(pid) == int(data["start_ticks"])
        else:  # written before start_ticks was: the core started before it wrote the file
            same = started_before(pid, int(data["started_ms"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if same else None


def take_stop_warnings(state_dir: Path, pid: int) -> list[str]:
    """What the core ``pid`` could not do as it stopped (Slurm jobs it could not cancel): its stop's warnings, for
    whoever stopped it; the file is removed (another core's, stopped otherwise, is stale)."""
    path = state_dir / STOPFILE
    try:
        data = json.loads(path.read_text())
        path.unlink()
    except (OSError, ValueError):
        return []
    return [str(w) for w in data.get("warnings", ())] if data.get("pid") == pid else []


def lock_data_dir(data_dir: Path) -> int:
    """Hold the data directory's lock for as long as the returned descriptor is open (closed with the process,
    and not inherited by tasks, so a task surviving a crashed core does not keep it); refuse if a core holds it."""
    fd = os.open(data_dir / LOCKFILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RefusedError(
            f"the data directory {data_dir} is in use by another core (pid {holder})",
            hint=f"stop that core first ('coconut core stop' with its directories), or give this core another: {DIRECTORIES}",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def make_private(directory: Path) -> None:
    """Create ``directory`` 0700, or take group and others' access away from one the core's user owns (not
    from a shared sticky directory such as /tmp, which is refused)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = directory.stat()
    if not st.st_mode & 0o077:
        return
    if st.st_mode & 0o1000 or st.st_uid != os.geteuid():
        raise RefusedError(
            f"the directory {directory} is shared with other users; the core keeps its data in its own directories",
            hint=f"give the core directories of its user's own: {DIRECTORIES}",
        )
    log.info("%s was open to other users: now 0700", directory)
    directory.chmod(0o700)


class Core:
    """Everything one core owns; ``start()`` then ``stop()`` (or ``serve()`` until a signal)."""

    def __init__(self, settings: CoreSettings):
        self.settings = settings
        self.server: grpc.aio.Server | None = None
        self.apricot: grpc.aio.Server | None = None  # the configuration service, if apricot.listen is set
        self.port = 0
        self._stopped = asyncio.Event()
        self._pidfile_written = False
        self._data_lock: int | None = None
        self._journal_retention: asyncio.Task[None] | None = None  # pruning the event journal
        self.events: Outbox | None = None  # the Kafka event service, if kafkaEndpoints is set
        self.watchdogs: Watchdogs | None = None  # conditions that stop runs (environment/watchdogs.py)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        make_private(s.data_dir)
        make_private(s.state_dir)
        self._claim_pidfile()
        try:
            self._data_lock = lock_data_dir(s.data_dir)
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        from ecs_engine.config import Configuration
        from ecs_engine.environment import EngineSettings, EnvironmentManager, Integrations
        from ecs_engine.environment.watchdog_rules import watchdog_rules
        from ecs_engine.environment.watchdogs import Watchdogs
        from ecs_engine.plugins import backends, plugin_manager
        from ecs_engine.repos import RepoManager
        from ecs_engine.tasks.executor import Executor, FairMQSettings, Timeouts
        from ecs_engine.tasks.registry import TaskRegistry

        from .event_service import open_event_service, stored_core_settings
        from .executor_port import ExecutorTaskController
        from .journal_retention import TaskOutput, journal_retention, keep_journal_within
        from .journal_service import JournalService
        from .service import ControlService
        from .sources import EXAMPLES, TemplateSources, installed_examples
        from .watchdog_service import WatchdogService

        s = self.settings
        retention = journal_retention(s.section)  # a bad setting fails the start before anything runs
        # the one plugin manager of the core: every part below gets its hooks or its backends from it
        self.plugins = plugin_manager()
        registry = backends(self.plugins)
        self.config = Configuration.open(s.config_endpoint or None, registry, data_dir=s.data_dir)
        self.config_url = getattr(self.config.store, "url", "") or s.config_endpoint
        rules = watchdog_rules(s.watchdogs, await offload(self._stored_watchdogs))  # a bad one fails the start
        resources = registry.open_resource_manager(
            s.resource_manager, {**s.section, "nodes": s.nodes}, state_dir=s.state_dir
        )
        self.registry = TaskRegistry(s.data_dir / "tasks.sqlite")
        self.executor = Executor(
            resources,
            timeouts=Timeouts(
                startup=s.startup_timeout, configure=s.configure_timeout, transition=s.transition_timeout
            ),
            registry=self.registry,
            fairmq=FairMQSettings(s.fmq_plugin, s.fmq_plugin_search_path),
            state_stream=s.occ_state_stream,
        )
        await self.executor.recall()  # the tasks the previous core forgot last: GetTask finds them
        self.control = ExecutorTaskController(self.executor)
        self.manager = EnvironmentManager(
            config=self.config,
            controller=self.control,
            plugins=self.plugins,
            data_dir=s.data_dir,
            # the plugins' settings (integrationPlugins, endpoints): the store's, those our settings set over them
            integrations=Integrations.from_plugins(
                self.plugins,
                {**await stored_core_settings(self.config), **{k: v for k, v in s.section.items() if v is not None}},
            ),
            settings=EngineSettings(
                deploy_timeout=s.deploy_timeout,
                configure_timeout=s.configure_timeout + ENGINE_MARGIN,
                transition_timeout=s.transition_timeout + ENGINE_MARGIN,
            ),
            framework_id=self._framework_id(),
        )
        self.events = await open_event_service(s, self.config, registry, self.manager.journal, self.manager.bus)
        self.manager.bus.publish(core_start_event(self.manager.framework_id))  # after the outbox took its position
        await self.manager.start()
        self.watchdogs = Watchdogs(self.manager, rules)
        await self.watchdogs.start()
        unlocked = self.executor.resources.log_dir("")  # the task output directories' root, and its own
        task_output = TaskOutput(unlocked.parent, unlocked.name, self.manager.environments.keys)
        self._journal_retention = asyncio.create_task(
            keep_journal_within(self.manager.journal, retention, self._delivered_seq, task_output, self.manager.store)
        )
        await self._after_reload()
        tune_garbage_collector()
        ssh_key = Path(s.repos_ssh_key).expanduser() if s.repos_ssh_key else None
        examples = installed_examples()
        self.repos = RepoManager(
            s.data_dir,
            self.config,
            global_default_revision=s.global_default_revision,
            ssh_key=ssh_key,
            builtin=EXAMPLES if examples is not None else "",  # ListRepos lists them last: their index is refused
        )
        self.sources = TemplateSources(self.repos, examples)
        token = ensure_token(s.state_dir)
        if not s.require_token:
            log.warning("core.require_token is false: anyone who reaches %s controls this core", s.listen)
        interceptors = [TokenCheck(token)] if s.require_token else []
        self.server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
        pb_grpc.add_ControlServicer_to_server(ControlService(self), self.server)
        journal_pb2_grpc.add_JournalServicer_to_server(JournalService(self), self.server)
        watchdogs_pb2_grpc.add_WatchdogsServicer_to_server(WatchdogService(self), self.server)
        self.port = bind(self.server, s.listen, tls_cert=s.tls_cert, tls_key=s.tls_key, who=CORE, hint=TAKE_A_PORT)
        if s.apricot_listen:
            self._serve_apricot(interceptors)
        await self.server.start()
        if self.apricot is not None:
            await self.apricot.start()
        self._write_pidfile()
        log.info(
            "core %s listening on %s (data %s, %d environments, %d tasks re-attached)",
            self.manager.framework_id,
            s.listen,
            s.data_dir,
            len(self.manager.environments),
            len(self.executor.tasks),
        )
        if self.apricot is not None:  # what a GUI's site admin looks for: is the configuration service there too
            log.info("apricot listening on %s (configuration %s)", s.apricot_listen, self.config_url)

    def _serve_apricot(self, interceptors: list[grpc.aio.ServerInterceptor]) -> None:
        """The configuration service on ``apricot.listen`` (set: the AliECS GUI needs it), same rules as the core."""
        from .apricot import ApricotService, add_apricot

        s = self.settings
        self.apricot = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
        add_apricot(ApricotService(self.config), self.apricot)
        bind(
            self.apricot,
            s.apricot_listen,
            tls_cert=s.tls_cert,
            tls_key=s.tls_key,
            who="apricot",
            hint="take another port: the setting apricot.listen",
        )

    def _stored_watchdogs(self) -> Any:
        """The ``watchdogs`` of the store's core settings; none (logged) while the store cannot be read."""
        try:
            return self.config.core_settings().get("watchdogs")
        except HandledError as exc:
            log.warning("watchdogs of the configuration store not loaded: %s", exc.message)
            return None

    def _framework_id(self) -> str:
        path = self.settings.data_dir / "framework_id"
        with contextlib.suppress(OSError):
            text = path.read_text().strip()
            if text:
                return text
        framework_id = new_id()
        path.write_text(framework_id + "\n")
        return framework_id

    def _delivered_seq(self) -> int | None:
        """How far the Kafka outbox has delivered the journal (None: no outbox, nothing to wait for)."""
        return self.events.status().delivered_seq if self.events is not None else None

    async def _after_reload(self) -> None:
        """Environments with lost critical tasks go to ERROR (but one whose own work holds it already: an auto
        environment destroying itself); leftover unlocked tasks are taken over or dropped; locked tasks that no
        environment owns (a deploy cut short by a crash) are killed."""
        for env in list(self.manager.environments.values()):
            lost = [t for t in env.tasks.values() if t.status != ACTIVE and t.critical and not t.is_hook]
            if not lost or env.state in (State.ERROR, State.DONE) or env.busy is not None:
                continue
            names = ", ".join(f"{t.path} ({t.id})" for t in lost[:5])
            reason = f"{len(lost)} critical task(s) lost while the core was down: {names}"
            try:
                with env.slot("GO_ERROR"):
                    await env.go_error(reason)
            finally:
                env.persist()
        owned = {task_id for env in self.manager.environments.values() for task_id in env.tasks}
        leftovers = [r for r in self.registry.records() if r.get("locked", True) and r["id"] not in owned]
        if leftovers:
            log.info("killing %d task(s) of deployments the previous core did not finish", len(leftovers))
            await self.executor.discard(leftovers)
        for record in self.registry.records():
            if record["id"] in self.executor.tasks:
                continue
            try:
                await self.executor.reattach(record)
            except HandledError as exc:
                log.info("dropping task %s: %s", record["id"], exc.message)
                self.registry.remove([record["id"]])

    async def stop(self) -> None:
        """Stop serving, kill every task, close the stores and release the pid file."""
        if self.server is not None:
            await self.server.stop(2.0)
            self.server = None
        if self.apricot is not None:
            await self.apricot.stop(2.0)
            self.apricot = None
        manager = getattr(self, "manager", None)  # the parts exist from start() to stop(): a second stop finds none
        executor = getattr(self, "executor", None)
        if executor is not None:
            if manager is not None:
                await manager.end_runs()  # before their tasks are killed
            await executor.shutdown()
            left = await executor.resources.close()
            if left:  # (in the log too) the process that stopped the core reads them once it has exited
                path = self.settings.state_dir / STOPFILE
                path.write_text(json.dumps({"pid": os.getpid(), "warnings": left}))
        if self.events is not None:
            await offload(self.events.close)  # what it has not delivered goes out at the next start
            self.events = None
        if self._journal_retention is not None:
            self._journal_retention.cancel()
            self._journal_retention = None
        if self.watchdogs is not None:
            await self.watchdogs.close()
            self.watchdogs = None
        if manager is not None:
            await manager.close()
            del self.manager
        for name in ("registry", "config"):
            resource = getattr(self, name, None)
            if resource is not None:
                resource.close()
                delattr(self, name)
        self._release_pidfile()
        if self._data_lock is not None:
            os.close(self._data_lock)
            self._data_lock = None
        self._stopped.set()

    async def serve(self) -> None:
        """Start, serve until SIGTERM, SIGINT or SIGHUP, then stop (always: no task is left behind)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        try:
            await self.start()
            systemd.notify(f"READY=1\nSTATUS=listening on {self.settings.listen}")  # Type=notify units wait for it
            await stop.wait()
            systemd.notify("STOPPING=1")
            log.info("stopping: killing %d tasks", len(self.executor.tasks))
        finally:
            await self.stop()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    # -- pid file -------------------------------------------------------------------------------------------

    def _claim_pidfile(self) -> None:
        other = read_pidfile(self.settings.state_dir)
        if other is not None and int(other["pid"]) != os.getpid():
            raise RefusedError(
                f"a core is already running for this state directory (pid {other['pid']}, "
                f"endpoint {other.get('listen', '?')}, data {other.get('data_dir', '?')})",
                hint=f"stop it with 'coconut core stop', or give this core other directories: {DIRECTORIES}",
            )

    def _write_pidfile(self) -> None:
        from ecs_engine.events.model import now_ms

        data = {
            "pid": os.getpid(),
            "start_ticks": start_ticks(os.getpid()),
            "listen": self.settings.listen,
            "port": self.port,
            "data_dir": str(self.settings.data_dir),
            "started_ms": now_ms(),
            "apricot": self.settings.apricot_listen if self.apricot is not None else "",
        }
        path = self.settings.state_dir / PIDFILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
        self._pidfile_written = True

    def _release_pidfile(self) -> None:
        if not self._pidfile_written:
            return
        path = self.settings.state_dir / PIDFILE
        with contextlib.suppress(OSError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        self._pidfile_written = False


def tune_garbage_collector() -> None:
    """Keep Python's cycle collector off the transitions' critical path.

    What exists once the core has started (modules, gRPC, protobuf descriptors, reloaded environments) lives
    as long as the core: frozen, full collections no longer walk it. A transition of 100 tasks allocates
    thousands of short-lived objects (events, calls, futures): a larger first generation collects them in
    a few passes instead of dozens (measured: 250 ms of collections over 20 transitions of 100 tasks -> 45).

    No full collection is forced after a destroy: a destroyed environment is freed by reference counting (the
    manager breaks its cycles), and a full collection holds the loop for as long as it walks what is live
    (bench/cycle_memory.py --pause-at: 0.3-0.5 s with 1,000 tasks live, 0.8-1.9 s with 5,000, at load 11-34).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class RotatingCoreLog(logging.handlers.RotatingFileHandler):
    """``core.log`` rotated by size; the process's stdout and stderr follow the current file, so what is
    written without logging (a thread's traceback, a C library's message) is rotated with it."""

    def doRollover(self) -> None:
        super().doRollover()
        if self.stream is not None:
            for fd in (1, 2):
                os.dup2(self.stream.fileno(), fd)


def rotate_own_log(state_dir: Path, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> bool:
    """A core whose stderr is its ``core.log`` (started in the background) logs there through a size-rotating
    handler instead of the stream handler; True if it does. A core in the foreground keeps its stderr."""
    path = state_dir / LOGFILE
    try:
        if not os.path.samestat(os.fstat(2), path.stat()):
            return False
    except OSError:
        return False
    root = logging.getLogger()
    handler = RotatingCoreLog(path, maxBytes=max_bytes, backupCount=backups)
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and old.stream is sys.stderr:
            handler.setFormatter(old.formatter)
            root.removeHandler(old)
    root.addHandler(handler)
    return True


def run(settings: CoreSettings) -> None:
    """Serve in the foreground until SIGTERM/SIGINT (``coconut core serve``, ``python -m ecs_engine.server``)."""
    os.umask(PRIVATE_UMASK)
    rotate_own_log(settings.state_dir)
    asyncio.run(Core(settings).serve())
