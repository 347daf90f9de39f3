"""The ``slurm`` resource manager: tasks run on the nodes of a Slurm partition, through agents that are Slurm jobs.

Nodes are the partition's (``sinfo``, read again at each deployment): a node's name is its ``machine_id`` and ``hostname``, its ``Features=``
are the attribute ``features`` (any one matches, as a Mesos attribute list) and each feature is also an attribute
of its own with the value ``true``; placement picks the least loaded node that matches and has the task's wants
(cpu, memory) free of its CPUs and memory, counting what this core's agent jobs there hold, and names the
constraint or the want when none does. A task is launched through an agent job of its node that has room left for
its wants; without one, an agent job is submitted (``coconut agent``, ``sbatch --nodelist --constraint --no-kill
--time=0 --cpus-per-task --mem``), sized for the wants placed on the node that run in no job. A running job cannot
grow, so a node has a job per batch of tasks placed at once: the first for an environment's tasks (all placed
before any starts, with those of its DEPLOY when a hook before it is deployed first), another for a second
environment's. The agent dials back to this manager's gRPC service (``ecs.agent.Agents``, its own token) and starts
the task with the local manager's code there; the core keeps the OCC connection to the task and the kill
escalation, whose signals the agent delivers. An agent whose job ends, or that stays away longer than
``lost_grace``, is lost: its tasks end unknown (critical ones send their environment to ERROR) and its job is
cancelled. An agent job that runs nothing is cancelled after ``agent_linger`` seconds, unless tasks placed on its
node that run nowhere need it, and every agent when the core stops (a failed scancel is tried again, with back-off;
the stop's is bounded and names the jobs it leaves). A restarted core finds its agents' jobs by name
(``ecs-agent-<core>-<node>``) and their allocations by their comment; they dial again and say which of its tasks
still run, whose records name their job and wants (the executor reserves the wants of re-attached tasks again).

Settings (``core.slurm``): ``listen`` (where agents dial, default 127.0.0.1:0, any free port), ``dial`` (the
address agents are given, default the listen address), ``partition``, ``agent_command``, ``agent_timeout``,
``lost_grace``, ``agent_linger``, ``agent_orphan_timeout`` (seconds without a core after which an agent ends), ``cpus_per_agent``, ``memory_per_agent`` (the agent's own share,
added to its tasks' wants; a ``--mem`` size),
``tls_cert``/``tls_key`` (the agent service's TLS) and ``tls_ca`` (what agents check it with), ``log_dir`` (task
output, seen by the nodes and the core: a shared file system).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import math
import shlex
import socket
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.errors import HandledError, UsageError
from ecs_engine.hookspecs import hookimpl
from ecs_engine.ids import new_id
from ecs_engine.offload import offload
from ecs_engine.protocols import agent_pb2 as pb
from ecs_engine.protocols import agent_pb2_grpc as pb_grpc
from ecs_engine.server.auth import SCHEME, TOKEN_FILE, TOKEN_KEY, ensure_token
from ecs_engine.server.listening import SERVER_OPTIONS, bind
from ecs_engine.tasks.resources import (
    NO_WANTS,
    LaunchSpec,
    Node,
    PlacementError,
    ProcessHandle,
    ResourceManager,
    Wants,
)

from .local import port_range_from_settings

log = logging.getLogger(__name__)

RESOURCE_MANAGER = "slurm"
LIVE_JOB_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}
LOST_POLL = 0.5  # seconds between looks at a disconnected agent's job
#: why Slurm keeps an agent job pending that would wait forever (fails the launch at once), and what to do
NEVER_STARTS = {
    "PartitionTimeLimit": "an agent job runs without a time limit (--time=0), so its partition needs MaxTime=INFINITE "
    "in slurm.conf (or set core.slurm.partition to one that has it)",
}
RESUME = "once what took it out is fixed, bring it back: 'scontrol update nodename={nodes} state=resume'"
#: the node states (sinfo's %T, less its flags) in which a node takes no job, and how to bring such a node back
UNUSABLE_STATES = {
    "down": RESUME,
    "drain": RESUME,
    "fail": RESUME,
    "inval": "its slurmd reports less than its NodeName line in slurm.conf says (CPUs, RealMemory; 'slurmd -C' on "
    "the node prints what it has): correct the line, restart slurmctld, then 'scontrol update nodename={nodes} "
    "state=resume'",
    "future": "it is declared for later use (State=FUTURE in slurm.conf): bring it in with 'scontrol update "
    "nodename={nodes} state=resume'",
    "unknown": "slurmctld has not heard from its slurmd since it started: start slurmd on {nodes} ('scontrol show "
    "node {nodes}' says when it last answered)",
}
EXPECT_MARGIN = 5.0  # seconds a launch waits for its agent past agent_timeout, for the watch to say why it is lost
CANCEL_RETRY = (1.0, 30.0)  # seconds before the first retry of a failed scancel, and the longest wait between them
#: seconds the core's stop, and the read of the nodes, give a Slurm command (one waits ~9 s for a controller that is down)
SLURM_BUDGET = 3.0
OUTPUT_TAIL = 3, 300  # the last lines of a failed agent's output quoted in the error, if within so many characters
MEMORY_UNITS = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}  # sbatch --mem suffixes, in MB


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_resource_manager(RESOURCE_MANAGER, open_slurm)


def open_slurm(settings: Mapping[str, Any], state_dir: Path) -> SlurmResourceManager:
    return SlurmResourceManager(
        SlurmSettings.from_section(settings.get("slurm")), state_dir, port_range_from_settings(settings.get("ports"))
    )


SETTING_FORMS = {
    "listen": "HOST:PORT (PORT 0: any free port)",
    "dial": "HOST:PORT",
    "agent_command": "a command, as a string or a list of words",
    "memory_per_agent": "a size such as 4096, 500M or 4G",
}


@dataclass
class SlurmSettings:
    """The ``core.slurm`` settings (module docstring)."""

    listen: str = "127.0.0.1:0"
    dial: str = ""
    partition: str = ""
    agent_command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "coconut", "agent"])
    agent_timeout: float = 30.0
    agent_orphan_timeout: float = 300.0
    lost_grace: float = 10.0
    agent_linger: float = 5.0
    cpus_per_agent: float = 0.0  # (added to its tasks' wants, then rounded up to whole CPUs, as they are)
    memory_per_agent: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    log_dir: str = ""

    @classmethod
    def from_section(cls, section: Any) -> SlurmSettings:
        if section in (None, ""):
            return cls()
        if not isinstance(section, Mapping):
            raise UsageError("setting core.slurm: expected a map (listen, partition, agent_command, ...)")
        out = cls()
        for key, value in section.items():
            if not hasattr(out, str(key)):
                raise UsageError(f"setting core.slurm.{key}: unknown (known: {', '.join(out.__dataclass_fields__)})")
            current, given = getattr(out, key), value
            try:
                if isinstance(value, (bool, Mapping)) or (isinstance(value, list) and key != "agent_command"):
                    raise TypeError  # (str() or float() would take them: partition [a, b] as "['a', 'b']")
                if key == "agent_command":
                    value = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
                    if not value:
                        raise ValueError  # the job would run its options as the command
                elif key == "memory_per_agent":
                    value = str(value)
                    megabytes(value)
                elif isinstance(current, float):
                    value = float(value)
                else:
                    value = str(value)
                    if key in ("listen", "dial") and value and not value.rpartition(":")[2].isdigit():
                        raise ValueError  # gRPC would take a host alone as port 443, and agents would dial ':443'
            except (TypeError, ValueError):
                expected = SETTING_FORMS.get(key, "a number" if isinstance(current, float) else "a string")
                raise UsageError(f"setting core.slurm.{key}: expected {expected}, got {given!r}") from None
            setattr(out, key, value)
        return out


class RemoteProcess(ProcessHandle):
    """A task process on a node, as its agent reports it; signals go through the agent."""

    def __init__(self, manager: SlurmResourceManager, link: AgentLink, task_id: str, pid: int, wants: Wants):
        self.manager = manager
        self.link = link  # the agent job it runs in
        self.node = link.node
        self.task_id = task_id
        self.pid = pid
        self.wants = wants
        self.code: int | None = None
        self._ended = asyncio.get_running_loop().create_future()

    @property
    def executor(self) -> str:  # type: ignore[override]
        return f"slurm-job-{self.link.job_id}"

    def alive(self) -> bool:
        return not self._ended.done()

    async def wait(self) -> int | None:
        return await asyncio.shield(self._ended)

    def ended(self) -> asyncio.Future[int | None]:
        return self._ended

    def end(self, code: int | None, reason: str = "") -> None:
        if not self._ended.done():
            self.code = code
            self.end_reason = reason
            self._ended.set_result(code)
            self.manager.process_ended(self)

    def signal(self, signum: int) -> None:
        if self.alive():
            self.manager.send(self.link, pb.CoreMessage(signal=pb.Signal(taskId=self.task_id, signum=int(signum))))

    def record(self) -> dict[str, Any]:
        wants = [self.wants.cpu, self.wants.memory]
        return {"pid": self.pid, "task_id": self.task_id, "node": self.node, "job": self.link.job_id, "wants": wants}


@dataclass(eq=False)
class AgentLink:
    """One agent job on a node: its stream (while connected), its allocation and what it runs for us."""

    node: str
    job_id: str = ""
    allocation: Wants = NO_WANTS  # the whole CPUs and MB its job asked for (0: Slurm's default)
    running: Wants = NO_WANTS  # the wants of the tasks launched through it that start or run
    listed: set[str] = field(default_factory=set)  # the tasks its agent said it runs when it last connected
    outbox: asyncio.Queue[pb.CoreMessage | None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    starting: dict[str, asyncio.Future[pb.Started]] = field(default_factory=dict)
    users: int = 0  # launches in flight and live processes
    submitting: asyncio.Lock = field(default_factory=asyncio.Lock)
    watch: asyncio.Task | None = None  # the loss check or the release after the last task
    lost: str = ""  # why it is lost, once it is
    dialled: bool = False  # whether its agent ever connected to this core
    output_from: int = 0  # where its job's output begins in the node's agent log (appended to by each job)
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # set when it is lost


class SlurmResourceManager(ResourceManager):
    """The nodes of a Slurm partition, each served by an agent job that dials back."""

    name = RESOURCE_MANAGER
    sizes_allocations = True

    def __init__(self, settings: SlurmSettings, state_dir: Path, port_range: tuple[int, int] | None = None):
        self.settings = settings
        self.state_dir = state_dir
        self.work_dir = state_dir / "slurm"
        self.port_range = port_range
        #: this core among others of the cluster: its host and state directory (a restarted core has the same)
        self.core_id = f"{zlib.crc32(f'{socket.gethostname()}:{state_dir.absolute()}'.encode()):08x}"
        self._nodes: dict[str, Node] = {}
        self._capacity: dict[str, Wants] = {}  # a node's CPUs and memory (MB), as sinfo reports them
        #: the partition's nodes that take no job (down, drained, ...): why, and their UNUSABLE_STATES key
        self._unusable: dict[str, tuple[Node, str, str]] = {}
        self._reading: asyncio.Task | None = None  # the nodes read again for a deployment
        self._unread = ""  # why the nodes could not be read again (Slurm then takes no agent job either)
        self._wanted: dict[str, Wants] = {}  # what the tasks placed on a node want
        self._placed: dict[str, int] = {}  # how many tasks are placed on a node
        self._agents: dict[str, list[AgentLink]] = {}  # a node's agent jobs, in the order they were submitted
        self._processes: dict[str, RemoteProcess] = {}
        self._reserved: dict[str, set[int]] = {}
        self._lock = threading.Lock()
        self._boot: asyncio.Task | None = None
        self._server: grpc.aio.Server | None = None
        self._closing = False
        self._cancelling: dict[str, asyncio.Task] = {}  # agent jobs whose scancel is (re)tried in the background
        self._partition_missing = ""  # why core.slurm.partition names no partition of the cluster
        self.token = ""
        self.dial = ""
        with contextlib.suppress(RuntimeError):  # opened by a running core: start now, so its agents dial back soon
            asyncio.get_running_loop()
            self._booting()

    # -- start-up ---------------------------------------------------------------------------------------------

    async def ready(self) -> None:
        """Started, with the nodes as Slurm has them now: a node drained, down or resumed since is seen."""
        await asyncio.shield(self._booting())
        await asyncio.shield(self._rereading())

    def _rereading(self) -> asyncio.Task:
        """The nodes read again, once for the deployments that ask while a read is under way."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._reread())
        return self._reading

    async def _reread(self) -> None:
        try:
            await self._read_nodes()
        except HandledError as exc:  # a launch through a running agent needs no controller: go on with those known
            log.warning("slurm: the nodes could not be read again, placing on those read before: %s", exc.message)
            self._unread = exc.message
        else:
            self._unread = ""

    def _booting(self) -> asyncio.Task:
        """The start-up (the agent service, the nodes, this core's agent jobs); begun again if it failed."""
        if self._boot is None or (self._boot.done() and not self._boot.cancelled() and self._boot.exception()):
            self._boot = asyncio.get_running_loop().create_task(self._start())
            self._boot.add_done_callback(_log_failure)
        return self._boot

    async def _start(self) -> None:
        s = self.settings
        if self._server is None:
            await offload(functools.partial(self.work_dir.mkdir, parents=True, exist_ok=True))
            self.token = await offload(ensure_token, self.work_dir)
            server, port = self._serve_agents()
            await server.start()
            self.dial = s.dial or f"{s.listen.rpartition(':')[0]}:{port}"
        await self._read_nodes()
        for job in await self._agent_jobs():  # a previous core's: they dial again
            link = self._link(job["node"], job["id"])
            link.allocation = _allocation_of(job["comment"])
            if not link.connected.is_set():
                self._watch(link, self._expect(link, self.settings.lost_grace))
        log.info("slurm: %d node(s), agents dial %s", len(self._nodes), self.dial)

    def _serve_agents(self) -> tuple[grpc.aio.Server, int]:
        """Bind the agent service; with an ephemeral ``listen`` port, the port of the previous start if it is free
        (its agents dial that one), else any. The port bound is kept in ``<state dir>/slurm/agents.port``."""
        kept = self.work_dir / "agents.port"
        host, _, wanted = self.settings.listen.rpartition(":")
        if wanted == "0" and kept.is_file():
            with contextlib.suppress(HandledError):
                return self._bind(f"{host}:{kept.read_text().strip()}", kept)
        return self._bind(self.settings.listen, kept)

    def _bind(self, listen: str, kept: Path) -> tuple[grpc.aio.Server, int]:
        s = self.settings
        server = grpc.aio.server(options=SERVER_OPTIONS)
        pb_grpc.add_AgentsServicer_to_server(AgentService(self), server)
        port = bind(
            server,
            listen,
            tls_cert=s.tls_cert,
            tls_key=s.tls_key,
            who="the agent service",
            hint="take another port: the setting core.slurm.listen",
        )
        kept.write_text(f"{port}\n")
        self._server = server
        return server, port

    async def _read_nodes(self) -> None:
        """The partition's usable nodes and their capacities, and why the others are not usable."""
        argv = ["sinfo", "-h", "-N", "-o", "%N|%f|%o|%T|%c|%m|%E"]
        if self.settings.partition:
            argv.append(f"--partition={self.settings.partition}")
        nodes: dict[str, Node] = {}
        capacity: dict[str, Wants] = {}
        unusable: dict[str, tuple[Node, str, str]] = {}
        for line in (await slurm_command(*argv, timeout=SLURM_BUDGET)).splitlines():
            name, features, address, state, cpus, memory, reason = [*line.split("|", 6), *[""] * 7][:7]
            if not name or name in nodes:
                continue
            listed = [f for f in features.split(",") if f and f != "(null)"]
            attributes = {"hostname": name, "machine_id": name, "features": ",".join(listed)}
            attributes.update({f: "true" for f in listed if f not in attributes})
            node = Node(name, address or name, tuple(sorted(attributes.items())))
            if kind := unusable_state(state):
                why = f" ({reason.strip()})" if reason.strip() not in ("", "none") else ""
                unusable[name] = (node, f"{state.rstrip(STATE_FLAGS)}{why}", kind)
                continue
            nodes[name] = node
            capacity[name] = Wants(_number(cpus), _number(memory))
        self._partition_missing = ""
        if self.settings.partition and not capacity:
            partitions = (await slurm_command("sinfo", "-h", "-o", "%R", timeout=SLURM_BUDGET)).split()
            if self.settings.partition not in partitions:
                self._partition_missing = (
                    f"partition '{self.settings.partition}' does not exist (partitions: {', '.join(partitions)})"
                )
                log.warning("slurm: setting core.slurm.partition: %s", self._partition_missing)
        self._nodes, self._capacity, self._unusable = nodes, capacity, unusable

    def agent_job_name(self, node: str) -> str:
        """The name of the agent job of ``node`` (a restarted core of the same state directory finds it by it)."""
        return f"ecs-agent-{self.core_id}-{node}"

    async def _agent_jobs(self, timeout: float | None = None) -> list[dict[str, str]]:
        """This core's agent jobs that still live: ``{"id", "node", "comment"}`` (the comment: their allocation)."""
        prefix = self.agent_job_name("")
        jobs = []
        for job in await _squeue(timeout=timeout):
            name = str(job.get("name", ""))
            if name.startswith(prefix) and str(job.get("job_state", "")) in LIVE_JOB_STATES:
                jobs.append({"id": str(job["job_id"]), "node": name[len(prefix) :], "comment": str(job.get("comment"))})
        return jobs

    async def _job_state(self, job_id: str) -> tuple[str, str]:
        """The job's state ("" once Slurm forgot it) and why it is in it (a pending job's reason)."""
        for job in await _squeue(f"--jobs={job_id}"):
            if str(job["job_id"]) == job_id:
                return str(job.get("job_state", "")), str(job.get("state_reason", ""))
        return "", ""

    # -- nodes and ports --------------------------------------------------------------------------------------

    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    def place(
        self,
        constraints: tuple[tuple[str, str], ...] | list[tuple[str, str]],
        wants: Wants = NO_WANTS,
        task: str = "",
    ) -> Node:
        """The least loaded matching node that has ``wants`` left (CPUs, memory); they are reserved there."""
        partition = f"partition {self.settings.partition}" if self.settings.partition else "the default partition"
        matching = self.matching(constraints)
        if not matching:
            try:
                super().place(constraints)  # its error names the constraint and every node
            except PlacementError as exc:
                message = exc.message.replace("no node has", "no Slurm node has", 1)
                if out := [(n.name, why, kind) for n, why, kind in self._unusable.values() if n.matches(constraints)]:
                    wanted = ", ".join(f"{k}={v}" for k, v in constraints)
                    todo: dict[str, list[str]] = {}  # what to do, for which nodes
                    for name, _, kind in out:
                        todo.setdefault(UNUSABLE_STATES[kind], []).append(name)
                    raise PlacementError(
                        f"no usable Slurm node has {wanted}: " + "; ".join(f"{name} is {why}" for name, why, _ in out),
                        hint="; ".join(text.format(nodes=",".join(names)) for text, names in todo.items()),
                    ) from None
                if self._partition_missing:
                    raise PlacementError(
                        f"{message}: {self._partition_missing}",
                        hint="set core.slurm.partition to one of them, or leave it out for the default partition",
                    ) from None
                raise PlacementError(
                    message,
                    hint=f"a node of {partition} (setting core.slurm.partition) needs it: NodeName or Features= in "
                    "slurm.conf",
                ) from None
        fitting = [n for n in matching if self._fits(n.name, wants)]
        if not fitting:
            where = ", ".join(f"{k}={v}" for k, v in constraints) or "no constraint"
            nodes = "; ".join(self._describe(n.name) for n in matching)
            if too_big := self._share_too_big(matching):  # no task fits, whatever it wants: not the task's to fix
                raise PlacementError(
                    f"{task or 'a task'} cannot be placed: the agent's own share (setting {too_big}) is more than any "
                    f"Slurm node with {where} has ({nodes})",
                    hint="lower it: an agent job asks for its tasks' wants plus this share",
                )
            short = "cpu" if not [n for n in matching if self._fits(n.name, Wants(wants.cpu, 0))] else "memory"
            amount = f"{wants.cpu:g} CPU(s)" if short == "cpu" else f"{wants.memory:g} MB of memory"
            raise PlacementError(
                f"{task or 'a task'} wants {amount} (wants.{short}): no Slurm node with {where} has it free ({nodes})",
                hint=f"lower its class's wants.{short}, or give a node of {partition} more (CPUs=, RealMemory= in "
                "slurm.conf)",
            )
        node = min(fitting, key=self.load)
        self.keep(node, wants)
        return node

    def keep(self, node: Node, wants: Wants) -> None:
        self._wanted[node.name] = self._wanted.get(node.name, NO_WANTS) + wants
        self._placed[node.name] = self._placed.get(node.name, 0) + 1

    def unplace(self, node: Node, wants: Wants) -> None:
        if node.name in self._wanted:
            self._wanted[node.name] -= wants
            self._placed[node.name] -= 1
        for link in self._links(node.name):  # idle agents kept for this task
            if link.users <= 0 and link.connected.is_set():
                self._watch(link, self._release_when_idle(link))

    def _fits(self, node: str, wants: Wants) -> bool:
        return _within(self._taken(node, wants), self._capacity.get(node, NO_WANTS))

    def _taken(self, node: str, wants: Wants = NO_WANTS) -> Wants:
        """What this core holds of ``node`` with ``wants`` placed there too: its agent jobs' allocations, and one more
        job (the agent's share and the rest) for the wants placed there that run in none if the room left in the
        jobs does not hold them."""
        links = self._links(node)
        held = _total(link.allocation for link in links)
        room = _total(link.allocation - link.running for link in links)
        outside = self._wanted.get(node, NO_WANTS) + wants - _total(link.running for link in links)
        return held if _within(outside, room) else held + (outside - room) + self._agent_share()

    def _describe(self, node: str) -> str:
        have, taken = self._capacity.get(node, NO_WANTS), self._taken(node)
        return (
            f"{node}: {have.cpu:g} CPU(s), {have.memory:g} MB, of which {taken.cpu:g} CPU(s), {taken.memory:g} MB taken"
        )

    def _share_too_big(self, nodes: list[Node]) -> str:
        """The settings of the agent's own share that no node of ``nodes`` has room for, as the error names them."""
        share, have = self._agent_share(), [self._capacity.get(n.name, NO_WANTS) for n in nodes]
        over = []
        if share.cpu > max(h.cpu for h in have) + 1e-9:
            over.append(f"core.slurm.cpus_per_agent: {self.settings.cpus_per_agent:g}")
        if share.memory > max(h.memory for h in have) + 1e-9:
            over.append(f"core.slurm.memory_per_agent: {self.settings.memory_per_agent}")
        return ", ".join(over)

    def _agent_share(self) -> Wants:
        """What the agent itself is given on its node, besides its tasks' wants (cpus_per_agent, memory_per_agent)."""
        return Wants(self.settings.cpus_per_agent, megabytes(self.settings.memory_per_agent))

    def load(self, node: Node) -> int:
        return sum(link.users for link in self._links(node.name))

    def allocate_port(self, node: Node, base: int) -> int:
        """Ports are handed out per node address (nodes sharing one address share the pool); whether a port is free
        is the node's to know: a port taken there fails the task's start, and OCC ports are tried again."""
        first, last = self.port_range or (base, 65535)
        with self._lock:
            taken = self._reserved.setdefault(node.address, set())
            for port in range(first, last + 1):
                if port not in taken:
                    taken.add(port)
                    return port
        raise HandledError(f"no free port in {first}-{last} on {node.name} (setting core.ports)")

    def release_ports(self, node: Node, ports: list[int] | tuple[int, ...]) -> None:
        with self._lock:
            self._reserved.get(node.address, set()).difference_update(ports)

    def reserve_ports(self, ports: list[int] | tuple[int, ...], node: Node | None = None) -> None:
        """Ports of re-attached tasks (the executor calls this without the node: then every address keeps them)."""
        with self._lock:
            for address in [node.address] if node else {n.address for n in self._nodes.values()} | {"127.0.0.1"}:
                self._reserved.setdefault(address, set()).update(ports)

    def ipc_address(self) -> str:
        return f"ipc://@o2ipc-{new_id()}"

    def log_dir(self, environment_id: str) -> Path:
        root = Path(self.settings.log_dir) if self.settings.log_dir else self.state_dir / "tasks"
        return root / (environment_id or "_unlocked")

    # -- processes --------------------------------------------------------------------------------------------

    async def launch(self, node: Node, spec: LaunchSpec) -> ProcessHandle:
        await asyncio.shield(self._booting())  # (not the nodes read again: once per deployment)
        link = self._agent_for(node.name, spec.wants)
        link.users += 1
        link.running += spec.wants
        try:
            await self._connected(link)
            started: asyncio.Future[pb.Started] = asyncio.get_running_loop().create_future()
            link.starting[spec.task_id] = started
            self.send(link, pb.CoreMessage(launch=_launch_message(spec)))
            try:
                reply = await asyncio.wait_for(started, self.settings.agent_timeout)
            except TimeoutError:
                raise HandledError(
                    f"task {spec.task_id}: the agent of node {node.name} (job {link.job_id}) did not start it within "
                    f"{self.settings.agent_timeout:g} s"
                ) from None
            finally:
                link.starting.pop(spec.task_id, None)
            if reply.error:
                where = self.settings.log_dir
                setting = (
                    f" (setting core.slurm.log_dir: the nodes write the tasks' output under {where})"
                    if where and where in reply.error
                    else ""
                )
                raise HandledError(f"task {spec.task_id} on node {node.name}: {reply.error}{setting}")
        except BaseException:
            self._unuse(link, spec.wants)
            raise
        process = RemoteProcess(self, link, spec.task_id, reply.pid, spec.wants)
        self._processes[spec.task_id] = process
        if spec.before_run is not None:
            spec.before_run(process)  # the agent cannot hold the process back: recorded right after its start
        return process

    def attach(self, node: Node, record: Mapping[str, Any]) -> ProcessHandle | None:
        """A task of a previous core: believed alive until its agent job's agent says otherwise (it dials again)."""
        task_id = str(record.get("task_id", ""))
        if not task_id or int(record.get("pid") or 0) <= 0:
            return None
        if task_id in self._processes:
            return self._processes[task_id]
        self._booting()
        link = self._link(node.name, str(record.get("job", "")))
        if link.connected.is_set() and task_id not in link.listed:
            return None  # its agent dialled in before this re-attach and did not list it: it ended
        wants = Wants(*record.get("wants", (0.0, 0.0)))
        link.users += 1
        link.running += wants
        process = RemoteProcess(self, link, task_id, int(record["pid"]), wants)
        self._processes[task_id] = process
        if link.connected.is_set():
            self._watch(link, self._release_when_idle(link))
        elif link.watch is None:
            self._watch(link, self._expect(link, self.settings.lost_grace))
        return process

    def process_ended(self, process: RemoteProcess) -> None:
        if self._processes.get(process.task_id) is process:
            del self._processes[process.task_id]
            self._unuse(process.link, process.wants)

    def _unuse(self, link: AgentLink, wants: Wants) -> None:
        link.users -= 1
        link.running -= wants
        if link.users > 0 or not self._known(link):
            return
        if not link.job_id:  # its submission failed
            self._drop(link)
        elif link.connected.is_set():
            self._watch(link, self._release_when_idle(link))

    def send(self, link: AgentLink, message: pb.CoreMessage) -> None:
        if link.outbox is None:
            log.warning(
                "slurm: the agent of node %s (job %s) is not connected: %s not sent",
                link.node,
                link.job_id,
                message.WhichOneof("kind"),
            )
            return
        link.outbox.put_nowait(message)

    # -- agents -----------------------------------------------------------------------------------------------

    def _links(self, node: str) -> list[AgentLink]:
        return self._agents.get(node, [])

    def _link(self, node: str, job_id: str) -> AgentLink:
        """The agent job ``job_id`` of ``node``, known from now on if it was not (a previous core's)."""
        for link in self._links(node):
            if job_id and link.job_id == job_id:
                return link
        link = AgentLink(node, job_id)
        self._agents.setdefault(node, []).append(link)
        return link

    def _known(self, link: AgentLink) -> bool:
        return link in self._links(link.node)

    def _drop(self, link: AgentLink) -> bool:
        """Forget the agent job; whether it was known."""
        if not self._known(link):
            return False
        self._agents[link.node].remove(link)
        return True

    def _agent_for(self, node: str, wants: Wants) -> AgentLink:
        """The first agent job of ``node`` with room left for ``wants``. A running job cannot grow, so without one
        a new job is planned, sized for the wants placed on the node that run in no job and that the room left in
        the others does not hold (a deployment's tasks are all placed before any is launched, and so are those a
        hook before DEPLOY is deployed with), plus the agent's share."""
        links = self._links(node)
        for link in links:
            if _within(link.running + wants, link.allocation):
                return link
        outside = self._wanted.get(node, NO_WANTS) - _total(link.running for link in links)
        rest = outside - _total(link.allocation - link.running for link in links)
        link = AgentLink(node, allocation=_allocation(self._agent_share() + _larger(rest, wants)))
        self._agents.setdefault(node, []).append(link)
        return link

    async def _connected(self, link: AgentLink) -> None:
        """Wait for the agent of ``link``, submitting its job first if it has none."""
        async with link.submitting:
            if not link.job_id:
                if self._unread:  # sbatch would wait as long again, then fail the same way
                    raise HandledError(f"no agent job can be submitted for node {link.node}: {self._unread}")
                link.job_id = await self._submit(link)
                self._watch(link, self._expect(link, self.settings.agent_timeout, submitted=True))
        if link.connected.is_set():
            return
        waits = [asyncio.ensure_future(link.connected.wait()), asyncio.ensure_future(link.gone.wait())]
        try:  # a job that ends (an agent that cannot start) fails the launch at once; one that does not start or
            # dial in is lost after agent_timeout by its watch (_expect), which says why (a little later: Slurm's answer)
            timeout = self.settings.agent_timeout + EXPECT_MARGIN
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if link.connected.is_set():
            return
        output = self.work_dir / f"agent-{link.node}.log"
        # the hint is in the message: an error of a hook's launch reaches the user without its hint
        see = f"see {output}; squeue -j {link.job_id}"
        if link.gone.is_set():
            tail = await offload(_tail, output, link.output_from)
            ending = f", its output ending {tail!r}" if tail else ""
            raise HandledError(
                f"the agent of node {link.node} (Slurm job {link.job_id}) is lost: {link.lost}{ending} ({see})"
            )
        raise HandledError(
            f"the agent of node {link.node} (Slurm job {link.job_id}) did not connect within "
            f"{self.settings.agent_timeout:g} s ({see})"
        )

    async def _submit(self, link: AgentLink) -> str:
        s = self.settings
        node_name = link.node
        node = self._nodes.get(node_name) or self._unusable.get(node_name, (Node(node_name),))[0]  # read again since
        features = [f for f in dict(node.attributes).get("features", "").split(",") if f]
        argv = [*s.agent_command, "--core", self.dial, "--token-file", str(self.work_dir / TOKEN_FILE)]
        argv += ["--node", node_name, "--work-dir", str(self.work_dir), "--features", ",".join(features)]
        argv += ["--orphan-timeout", f"{s.agent_orphan_timeout:g}"]
        if s.tls_ca:
            argv += ["--tls-ca", s.tls_ca]
        sbatch = ["sbatch", "--parsable", f"--job-name={self.agent_job_name(node_name)}", f"--nodelist={node_name}"]
        sbatch += [
            "--no-kill",
            "--time=0",
            f"--output={self.work_dir / f'agent-{node_name}.log'}",
            "--open-mode=append",
        ]
        if features:
            sbatch.append(f"--constraint={'&'.join(features)}")
        if s.partition:
            sbatch.append(f"--partition={s.partition}")
        # the allocation is what the job's tasks want, plus the agent's own share; the agent runs in the batch step
        # itself (no srun, which since 22.05 would not inherit --cpus-per-task), so its children share all of it
        allocation = link.allocation
        if allocation.cpu:
            sbatch.append(f"--cpus-per-task={allocation.cpu:g}")
        if allocation.memory:
            sbatch.append(f"--mem={allocation.memory:g}M")
        sbatch.append(f"--comment={_allocation_comment(allocation)}")  # what a restarted core reads it from
        link.output_from = await offload(_size, self.work_dir / f"agent-{node_name}.log")
        out = await slurm_command(*sbatch, f"--wrap=exec {shlex.join(argv)}")
        job_id = out.strip().split(";")[0]
        log.info("slurm: submitted an agent of node %s as job %s (%s)", node_name, job_id, _allocation_text(allocation))
        return job_id

    def _watch(self, link: AgentLink, coroutine: Any) -> None:
        if link.watch is not None and not link.watch.done() and link.watch is not asyncio.current_task():
            link.watch.cancel()
        link.watch = asyncio.get_running_loop().create_task(coroutine)

    async def _expect(self, link: AgentLink, grace: float, submitted: bool = False) -> None:
        """An agent that is not connected: lost if its job ends, or if it stays away ``grace`` seconds (``submitted``:
        the job was just submitted, its agent has yet to dial in)."""
        await asyncio.shield(self._booting())  # (not the nodes read again: once per deployment)
        deadline = asyncio.get_running_loop().time() + grace
        while not link.connected.is_set():
            try:
                state, reason = await self._job_state(link.job_id) if link.job_id else ("", "")
            except HandledError as exc:  # Slurm does not answer: the job may live on, the deadline still holds
                log.info("slurm: the state of agent job %s is unknown: %s", link.job_id, exc.message)
                state, reason = "RUNNING", ""
            if state not in LIVE_JOB_STATES:
                return await self._lose(link, f"its job {link.job_id} ended ({state or 'gone'})")
            if state == "PENDING" and reason in NEVER_STARTS:
                return await self._lose(
                    link,
                    f"its job {link.job_id} cannot start: Slurm keeps it PENDING ({reason}): {NEVER_STARTS[reason]}",
                )
            if asyncio.get_running_loop().time() > deadline:
                if state == "PENDING":  # never ran: Slurm's reason is the whole story (a partition down, no room)
                    return await self._lose(
                        link,
                        f"its job {link.job_id} did not start within {grace:g} s: Slurm keeps it PENDING ({reason})",
                    )
                if submitted and not link.dialled:  # never in: where it dials is the suspect
                    return await self._lose(
                        link,
                        f"its job {link.job_id} runs but its agent did not dial in within {grace:g} s: agents dial "
                        f"{self.dial} (setting core.slurm.dial, default core.slurm.listen), which its node must reach",
                    )
                return await self._lose(link, f"it did not dial back within {grace:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.connected.wait(), LOST_POLL)

    async def _lose(self, link: AgentLink, why: str) -> None:
        log.warning("slurm: the agent of node %s (job %s) is lost: %s", link.node, link.job_id, why)
        self._drop(link)
        link.lost = why
        link.gone.set()
        for started in link.starting.values():
            if not started.done():
                started.set_result(pb.Started(error=f"the agent of node {link.node} is lost: {why}"))
        for process in [p for p in self._processes.values() if p.link is link]:
            process.end(None, f"the agent of node {link.node} is lost: {why}")
        self._cancel(link.job_id)

    async def _release_when_idle(self, link: AgentLink) -> None:
        """Cancel an agent job that runs nothing after ``agent_linger``, unless it is kept for tasks placed on its
        node that run nowhere (the DEPLOY after a hook, a task started at START, a hook run again, a relaunch): when
        the node's other agent jobs have no room for them."""
        await asyncio.sleep(self.settings.agent_linger)
        if link.users <= 0 and not self._kept(link) and self._drop(link):
            log.info("slurm: the agent of node %s (job %s) has no task left: cancelling it", link.node, link.job_id)
            self._cancel(link.job_id)

    def _cancel(self, job_id: str) -> None:
        """Cancel an agent job in the background, tried again while Slurm fails (a job left running keeps its
        allocation); the core's stop cancels what is still to cancel."""
        if job_id and job_id not in self._cancelling:
            cancelling = asyncio.get_running_loop().create_task(self._cancel_until_done(job_id))
            self._cancelling[job_id] = cancelling
            cancelling.add_done_callback(lambda _: self._cancelling.pop(job_id, None))

    async def _cancel_until_done(self, job_id: str) -> None:
        wait, longest = CANCEL_RETRY
        while True:
            try:
                return await _scancel(job_id)  # a job Slurm no longer has is no error
            except HandledError as exc:
                log.warning(
                    "slurm: cancelling agent job %s failed (tried again in %g s): %s", job_id, wait, exc.message
                )
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)

    def _kept(self, link: AgentLink) -> bool:
        links = self._links(link.node)
        if self._placed.get(link.node, 0) <= sum(other.users for other in links):
            return False  # every task placed there runs
        others = [other for other in links if other is not link]
        outside = self._wanted.get(link.node, NO_WANTS) - _total(other.running for other in links)
        return not others or not _within(outside, _total(other.allocation - other.running for other in others))

    def agent_connected(self, hello: pb.Hello, outbox: asyncio.Queue[pb.CoreMessage | None]) -> AgentLink:
        link = self._link(hello.node, hello.jobId)
        if link.outbox is not None:
            link.outbox.put_nowait(None)  # an older stream of the same agent
        link.outbox = outbox
        link.connected.set()
        link.dialled = True
        running = link.listed = {r.taskId for r in hello.running}
        for process in [p for p in self._processes.values() if p.link is link and p.task_id not in running]:
            process.end(None)
        log.info(
            "slurm: the agent of node %s (job %s) is connected, %d task(s) running",
            hello.node,
            link.job_id,
            len(running),
        )
        if link.users <= 0:
            self._watch(link, self._release_when_idle(link))
        elif link.watch is not None and not link.watch.done():
            link.watch.cancel()
        return link

    def agent_message(self, link: AgentLink, message: pb.AgentMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "started":
            started = link.starting.get(message.started.taskId)
            if started is not None and not started.done():
                started.set_result(message.started)
            elif not message.started.error and message.started.taskId not in self._processes:
                # a start the core gave up on (timeout): nobody owns it
                self.send(link, pb.CoreMessage(signal=pb.Signal(taskId=message.started.taskId, signum=9)))
        elif kind == "ended":
            process = self._processes.get(message.ended.taskId)
            if process is not None:
                process.end(message.ended.code if message.ended.known else None, message.ended.reason)

    def agent_disconnected(self, link: AgentLink, outbox: asyncio.Queue[pb.CoreMessage | None]) -> None:
        if link.outbox is not outbox:
            return  # replaced by a newer stream
        link.outbox = None
        link.connected.clear()
        if self._known(link) and not self._closing:
            log.info("slurm: the agent of node %s (job %s) disconnected", link.node, link.job_id)
            self._watch(link, self._expect(link, self.settings.lost_grace))

    async def close(self) -> list[str]:
        """Cancel every agent of this core (the executor has stopped their tasks) and stop the agent service; returns
        what it leaves: the jobs it could not cancel, which keep their allocation, and how to cancel them."""
        if self._boot is None:
            return []
        self._closing = True
        left: list[str] = []
        links = [link for links in self._agents.values() for link in links]
        jobs = {link.job_id for link in links if link.job_id} | set(self._cancelling)
        pending = [self._boot, *self._cancelling.values(), *(link.watch for link in links if link.watch is not None)]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._boot.cancelled() or self._boot.exception() is not None:  # a previous core's jobs are not known
            try:
                jobs |= {job["id"] for job in await self._agent_jobs(timeout=SLURM_BUDGET)}
            except HandledError as exc:
                left.append(
                    f"slurm: this core's agent jobs (named {self.agent_job_name('')}<node>) could not be listed, "
                    f"any left run on: {exc.message}"
                )
        if jobs:
            try:
                await _scancel(*sorted(jobs, key=lambda j: (len(j), j)), timeout=SLURM_BUDGET)
            except HandledError as exc:
                ids = " ".join(sorted(jobs, key=lambda j: (len(j), j)))
                left.append(
                    f"slurm: agent job(s) {ids} not cancelled: {exc.message}; they keep their allocation until "
                    f"'scancel {ids}', or until their agents give up on this core (core.slurm.agent_orphan_timeout, "
                    f"{self.settings.agent_orphan_timeout:g} s)"
                )
        for warning in left:
            log.warning("%s", warning)
        if self._server is not None:
            await self._server.stop(1.0)
        return left


class AgentService(pb_grpc.AgentsServicer):
    """``ecs.agent.Agents``: one stream per agent, admitted with the agents' token."""

    def __init__(self, manager: SlurmResourceManager):
        self.manager = manager

    async def Connect(
        self, request_iterator: AsyncIterator[pb.AgentMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.CoreMessage]:
        sent = str(dict(context.invocation_metadata() or ()).get(TOKEN_KEY, ""))
        if not hmac.compare_digest(sent.encode(), (SCHEME + self.manager.token).encode()):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "this core admits only its own agents (token)")
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("kind") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "an agent's first message is its Hello")
            return
        outbox: asyncio.Queue[pb.CoreMessage | None] = asyncio.Queue()
        link = self.manager.agent_connected(first.hello, outbox)

        async def read() -> None:
            try:
                async for message in request_iterator:
                    self.manager.agent_message(link, message)
            finally:
                outbox.put_nowait(None)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while (message := await outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            self.manager.agent_disconnected(link, outbox)


def _log_failure(boot: asyncio.Task) -> None:
    if not boot.cancelled() and boot.exception() is not None:
        error = boot.exception()
        log.error(
            "slurm: the start-up failed (tried again at the next deployment): %s", getattr(error, "message", error)
        )


def _launch_message(spec: LaunchSpec) -> pb.Launch:
    return pb.Launch(
        taskId=spec.task_id,
        argv=spec.argv,
        env=spec.env,
        cwd=str(spec.cwd or ""),
        user=spec.user,
        stdoutPath=str(spec.stdout_path or ""),
        stderrPath=str(spec.stderr_path or ""),
    )


STATE_FLAGS = "*~#$@%!^-"  # what sinfo appends to a node's state (not responding, powered off, ...)


def unusable_state(state: str) -> str:
    """The UNUSABLE_STATES key of a node state as sinfo prints it (``drained*``), "" for a node that takes jobs."""
    return next((kind for kind in UNUSABLE_STATES if state.rstrip(STATE_FLAGS).startswith(kind)), "")


def _allocation(wanted: Wants) -> Wants:
    """Whole CPUs and MB for sbatch (``--cpus-per-task``, ``--mem``): the wants rounded up."""
    return Wants(math.ceil(round(wanted.cpu, 6)), math.ceil(round(wanted.memory, 6)))


def _allocation_comment(allocation: Wants) -> str:
    """The agent job's ``--comment``: its allocation, as a restarted core reads it back (``_allocation_of``)."""
    return f"ecs-agent cpu={allocation.cpu:g} memory={allocation.memory:g}"


def _allocation_of(comment: str) -> Wants:
    """The allocation an agent job's comment says (0, Slurm's default, for what it does not say)."""
    fields = dict(word.split("=", 1) for word in comment.split() if "=" in word)
    return Wants(_number(fields.get("cpu", "")), _number(fields.get("memory", "")))


def _within(wants: Wants, limit: Wants) -> bool:
    return wants.cpu <= limit.cpu + 1e-9 and wants.memory <= limit.memory + 1e-9


def _larger(a: Wants, b: Wants) -> Wants:
    return Wants(max(a.cpu, b.cpu), max(a.memory, b.memory))


def _total(wants: Iterable[Wants]) -> Wants:
    return sum(wants, NO_WANTS)


def megabytes(size: str) -> float:
    """An sbatch --mem size (``4096``, ``500M``, ``4G``) in MB; "" is 0. UsageError naming the setting otherwise."""
    text = size.strip().upper()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in MEMORY_UNITS else (text, "")
    try:
        return float(number or 0) * MEMORY_UNITS[unit]
    except ValueError:
        raise UsageError(
            f"setting core.slurm.memory_per_agent: expected a size such as 4096, 500M or 4G, got {size!r}"
        ) from None


def _number(text: str) -> float:
    """A count sinfo printed (CPUs, MB); 0 for what it could not say."""
    try:
        return float(text.strip().rstrip("+"))
    except ValueError:
        return 0.0


async def _squeue(*argv: str, timeout: float | None = None) -> list[dict[str, Any]]:
    """``squeue --json``'s jobs; HandledError if Slurm could not list them (it then exits 0 with ``errors``)."""
    data = json.loads(await slurm_command("squeue", "--json", *argv, timeout=timeout) or "{}")
    if errors := data.get("errors"):
        said = "; ".join(str(e.get("description") or e.get("error")) for e in errors)
        raise HandledError(f"squeue failed: {said}; {CONTROLLER_HINT}")
    return list(data.get("jobs", []))


async def _scancel(*job_ids: str, timeout: float | None = None) -> None:
    await slurm_command("scancel", *job_ids, timeout=timeout)  # a job Slurm no longer has is no error (exit 0)


def _allocation_text(allocation: Wants) -> str:
    """An agent job's allocation as the core's log says it."""
    text = f"{allocation.cpu:g} CPU(s), {allocation.memory:g} MB"
    return text + ("; 0: Slurm's default" if not allocation.cpu or not allocation.memory else "")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(output: Path, start: int = 0) -> str:
    """The last lines of an agent's output after ``start`` (its job's, not those of the node's jobs before), as many
    as are short enough together to quote in an error ("" if not even the last is)."""
    lines, most = OUTPUT_TAIL
    try:
        with open(output, "rb") as f:
            f.seek(max(start, f.seek(0, 2) - 4 * most))
            last = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()][-lines:]
    except OSError:
        return ""
    while last and len(" | ".join(last)) > most:
        last.pop(0)
    return " | ".join(last)


CONFIGURATION_HINT = (
    "Slurm's clients found no configuration: set SLURM_CONF to the cluster's slurm.conf (or install it as "
    "/etc/slurm/slurm.conf); a core started by coconut has the environment of the shell that started it"
)
CONTROLLER_HINT = "the Slurm controller (slurmctld) does not answer; check it with 'scontrol ping'"
MUNGE_HINT = (
    "Slurm authenticates with munge: start munged on this machine (systemctl start munge) with the cluster's key, "
    "and check it with 'munge -n | unmunge'"
)


def _hint(said: str, before: Iterable[str] = ()) -> str:
    """What to do about a Slurm client's complaint (its last line; ``before``, the lines it wrote before), where it is
    a known one. It goes in the error's message, not its hint: an error of the start-up reaches a create's caller as
    its message alone."""
    if "authentication error" in said:  # munge's own line says why (not running, another key)
        munge = next((line.split("error: ", 1)[-1] for line in before if "Munge" in line), "")
        return f"{f' ({munge})' if munge else ''}; {MUNGE_HINT}"
    if "configuration source" in said or "slurm.conf" in said:
        return f"; {CONFIGURATION_HINT}"
    if "Unable to contact slurm controller" in said or "Socket timed out" in said:
        return f"; {CONTROLLER_HINT}"
    return ""


async def slurm_command(*argv: str, timeout: float | None = None) -> str:
    """Run a Slurm client command (killed after ``timeout`` seconds); its output. HandledError naming the command
    and what it said if it fails."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise HandledError(
            f"cannot run {argv[0]}: {exc.strerror or exc}", hint="install Slurm's clients (slurm-client)"
        ) from None
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise HandledError(f"{argv[0]} did not finish within {timeout:g} s; {CONTROLLER_HINT}") from None
    if process.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        last = said[-1] if said else "no message"
        raise HandledError(f"{argv[0]} failed ({process.returncode}): {last}{_hint(last, said[:-1])}")
    return out.decode(errors="replace")
