"""The node agent (``coconut agent``): a Slurm job on its node that runs the core's tasks there.

The agent dials the core (no inbound port on the nodes), says which node and job it is, then starts and
signals processes as the core asks and reports each start and end. Processes are started by the ``local``
resource manager's own code (gated start, own process group, output files, pidfd watch, escaped processes
found by their mark), so a task behaves on a node as it does on the core's machine; the core keeps the OCC
connection and the kill escalation. A lost connection is dialled again until it comes back (a restarted core
re-attaches); what ended meanwhile is reported then. An agent that has had no core for ``orphan_timeout``
seconds stops (its tasks, then itself, and so its job): a core that is gone for good leaves no job behind. SIGTERM (``scancel``) stops every task, each reported as ended for that reason, then the agent.
Each task's leader gets SIGKILL if the agent itself dies (``setpriv --pdeathsig``), so a killed agent leaves
no task behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ecs_engine.errors import RefusedError
from ecs_engine.occ.shutdown import signal_down
from ecs_engine.protocols import agent_pb2 as pb
from ecs_engine.protocols import agent_pb2_grpc as pb_grpc
from ecs_engine.server.auth import token_metadata
from ecs_engine.tasks.resources import LaunchSpec, Node, ProcessHandle

from .local import LocalResourceManager

log = logging.getLogger(__name__)

REDIAL_INTERVAL = 0.5  # seconds between attempts to reach the core
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class AgentOptions:
    """Who the agent is and where it dials (``coconut agent``'s options)."""

    core: str  # host:port of the core's agent service
    token: str
    node: str
    job_id: str = ""
    features: list[str] = field(default_factory=list)
    work_dir: Path = Path("/tmp")
    tls_ca: str = ""  # set: the core's certificate is checked against this CA file
    orphan_timeout: float = 300.0  # seconds without a core after which the agent stops (0: never)


class Agent:
    """The processes of one node and the one stream to the core they are reported on."""

    def __init__(self, options: AgentOptions):
        self.options = options
        self.resources = LocalResourceManager([Node(options.node)], options.work_dir)
        self.processes: dict[str, ProcessHandle] = {}
        #: what the core is to be told, in order; a message leaves only once written on a live stream
        self._outbox: collections.deque[pb.AgentMessage] = collections.deque()
        self._more = asyncio.Event()
        self._watchers: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self._pdeathsig = shutil.which("setpriv")
        self.refused = ""  # why the core refused this agent (its token)
        self._oom_kills = memory_kills()  # the kernel's counts when last looked at
        self._streaming = False  # whether a stream to the core is open
        self._stop_reason = ""  # why the agent stops its tasks, reported as each one's end reason

    async def run(self) -> None:
        """Serve the core until a stop signal, then stop every task; RefusedError if the core refuses the agent."""
        loop = asyncio.get_running_loop()
        # plain handlers, run before the loop sees the tasks' ends (scancel signals them at the same time)
        before = {s: signal.signal(s, lambda s, _: self._stop(self._signalled(s), loop)) for s in STOP_SIGNALS}
        try:
            await self._serve_until_stopped()
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)
        if self.refused:
            raise RefusedError(f"the core at {self.options.core} refused this agent: {self.refused}")

    async def _serve_until_stopped(self) -> None:
        serving = asyncio.create_task(self._serve())
        await self._stopping.wait()
        log.info("stopping: %d task(s) to stop", len(self.processes))
        await asyncio.gather(*(signal_down(p) for p in list(self.processes.values())))
        with contextlib.suppress(TimeoutError):  # their ends reach the core while it listens
            await asyncio.wait_for(self._drained(), 2.0)
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    def _stop(self, reason: str, loop: asyncio.AbstractEventLoop) -> None:
        """Stop every task, each reported as ended for ``reason`` (the first one given); callable from a signal
        handler."""
        self._stop_reason = self._stop_reason or reason
        loop.call_soon_threadsafe(self._stopping.set)

    def _signalled(self, signum: int) -> str:
        name = signal.Signals(signum).name
        if signum == signal.SIGTERM and self.options.job_id:  # what scancel, or the job's end, sends
            return f"its Slurm job {self.options.job_id} was cancelled or ended (the agent got {name})"
        return f"the agent of node {self.options.node} got {name}"

    async def _drained(self) -> None:
        while self._outbox or self._watchers:
            await asyncio.sleep(0.05)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        alone_since = loop.time()  # since when there has been no stream to the core
        while True:
            try:
                async with self._channel() as channel:
                    await self._connection(pb_grpc.AgentsStub(channel))
                log.info("the core closed the stream; dialling again")
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self.refused = exc.details() or "no reason given"
                    self._stopping.set()
                    return
                log.info("core %s not reachable (%s); dialling again", self.options.core, exc.code().name)
            if self._streaming:
                self._streaming = False
                alone_since = loop.time()
            timeout = self.options.orphan_timeout
            if timeout and loop.time() - alone_since >= timeout:
                log.warning(
                    "no core at %s for %g s (--orphan-timeout): stopping this agent and its job",
                    self.options.core,
                    timeout,
                )
                self._stop(f"the agent had no core for {timeout:g} s (--orphan-timeout)", loop)
                return
            await asyncio.sleep(REDIAL_INTERVAL)

    def _channel(self) -> grpc.aio.Channel:
        if self.options.tls_ca:
            credentials = grpc.ssl_channel_credentials(Path(self.options.tls_ca).read_bytes())
            return grpc.aio.secure_channel(self.options.core, credentials)
        return grpc.aio.insecure_channel(self.options.core)

    async def _connection(self, stub: pb_grpc.AgentsStub) -> None:
        """One stream: the Hello, then the outbox is written while the core's messages are handled."""
        call = stub.Connect(metadata=token_metadata(self.options.token))
        running = [pb.RunningTask(taskId=i, pid=p.pid) for i, p in self.processes.items() if p.alive()]
        hello = pb.Hello(
            node=self.options.node, jobId=self.options.job_id, features=self.options.features, running=running
        )
        await call.write(pb.AgentMessage(hello=hello))
        self._streaming = True
        sender = asyncio.create_task(self._send(call))
        try:
            while (message := await call.read()) is not grpc.aio.EOF:
                await self._handle(message)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)  # its write failed with the stream, or it was cut

    async def _send(self, call: grpc.aio.StreamStreamCall) -> None:
        while True:
            while self._outbox:
                await call.write(self._outbox[0])  # a failed write leaves it for the next stream
                self._outbox.popleft()
            self._more.clear()
            await self._more.wait()

    def _tell(self, message: pb.AgentMessage) -> None:
        self._outbox.append(message)
        self._more.set()

    async def _handle(self, message: pb.CoreMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "launch":
            await self._launch(message.launch)
        elif kind == "signal":
            process = self.processes.get(message.signal.taskId)
            if process is not None:
                process.signal(message.signal.signum)

    async def _launch(self, launch: pb.Launch) -> None:
        argv = list(launch.argv)
        if self._pdeathsig and _found(argv[0], dict(launch.env), launch.cwd):
            # (a missing program is left unwrapped: the launch's own check names it)
            argv = [self._pdeathsig, "--pdeathsig", "KILL", "--", *argv]
        spec = LaunchSpec(
            task_id=launch.taskId,
            argv=argv,
            env=dict(launch.env),
            cwd=Path(launch.cwd) if launch.cwd else None,
            user=launch.user,
            stdout_path=Path(launch.stdoutPath) if launch.stdoutPath else None,
            stderr_path=Path(launch.stderrPath) if launch.stderrPath else None,
        )
        try:
            process = await self.resources.launch(Node(self.options.node), spec)
        except Exception as exc:  # every failure is the task's: reported, the agent goes on
            error = getattr(exc, "message", "") or str(exc)
            self._tell(pb.AgentMessage(started=pb.Started(taskId=launch.taskId, error=error)))
            return
        self.processes[launch.taskId] = process
        self._tell(pb.AgentMessage(started=pb.Started(taskId=launch.taskId, pid=process.pid)))
        watcher = asyncio.create_task(self._watch(launch.taskId, process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, task_id: str, process: ProcessHandle) -> None:
        code = await process.wait()
        self.processes.pop(task_id, None)
        reason = self._stop_reason
        if code == -signal.SIGKILL:
            kills, self._oom_kills = self._oom_kills, await asyncio.to_thread(memory_kills)
            if any(now > before for now, before in zip(self._oom_kills, kills, strict=False)):
                reason = "out of memory at its Slurm job's limit (--mem)"
        ended = pb.Ended(taskId=task_id, known=code is not None, code=code or 0, reason=reason)
        self._tell(pb.AgentMessage(ended=ended))


def memory_kills(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> tuple[int, ...]:
    """The kernel's out-of-memory kill counts of this process's memory cgroup and each of its parents (v1
    ``memory.oom_control``, v2 ``memory.events``; whether a count includes the children's differs by kernel and
    version, so each level is compared with itself): a task killed by SIGKILL while one rose met the job's limit.
    Empty where there is no memory cgroup to read."""
    try:
        entries = [line.split(":", 2) for line in proc_cgroup.read_text().splitlines()]
    except OSError:
        return ()
    v1 = next((path for _, controllers, path in entries if "memory" in controllers.split(",")), None)
    if v1 is not None:
        base, counts, path = root / "memory", "memory.oom_control", v1
    else:
        base, counts, path = root, "memory.events", next((p for _, controllers, p in entries if not controllers), "/")
    directory = base / path.lstrip("/")
    if directory != base and base not in directory.parents:
        return ()
    kills = []
    for level in (directory, *directory.parents):
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split() for line in (level / counts).read_text().splitlines())
            kills.append(int(fields.get("oom_kill", 0)))
        if level == base:
            break
    return tuple(kills)


def _found(program: str, env: dict[str, str], cwd: str) -> bool:
    if "/" in program:
        return Path(cwd or ".", program).is_file()
    return shutil.which(program, path=env.get("PATH", os.environ.get("PATH", os.defpath))) is not None


def run_agent(options: AgentOptions) -> None:
    """Run the agent in the foreground until it is told to stop."""
    asyncio.run(Agent(options).run())


def main() -> None:
    """The ``ecs-agent`` command: ``coconut agent`` under a name of its own, for a site's ``agent_command`` (the
    same options, output and exit statuses)."""
    from coconut.cli import main as coconut

    sys.exit(coconut(["agent", *sys.argv[1:]]))
