"""The resource-manager interface: nodes, placement, ports, launching and watching processes.

A resource manager is a backend (``ecs_backends.resources.local``; a batch-system one later) that a plugin
registers by name (``ecs_engine.backend_registry``). The executor only talks to this interface: it places a
task on a node, asks for ports there, launches the command, and watches the process through its handle
(the status stream of one process: ``wait()`` returns when it ends).
"""

from __future__ import annotations

import abc
import asyncio
import errno
import ipaddress
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_engine.errors import HandledError

DATA_PORT_BASE = 9000  # inbound data channels (reference §4.4)
CONTROL_PORT_BASE = 30000  # OCC control ports


@dataclass(frozen=True)
class Node:
    """A machine tasks can be placed on; ``address`` is how other tasks reach ports bound there."""

    name: str
    address: str = "127.0.0.1"
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        if name == "hostname":
            return dict(self.attributes).get(name, self.name)
        return dict(self.attributes).get(name)

    def values(self, name: str) -> tuple[str, ...]:
        """The elements of attribute ``name``, stripped: a comma-separated attribute has several; an unset one none."""
        have = self.attribute(name)
        return () if have is None else tuple(v.strip() for v in have.split(","))

    def matches(self, constraints: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> bool:
        """Equality constraints; a comma-separated node attribute matches any of its elements (as Mesos). The
        definition: placement looks nodes up in a ``NodeIndex``, which finds the same ones."""
        return all(wanted.strip() in self.values(name) for name, wanted in constraints)


class NodeIndex:
    """The nodes that have each attribute element, so that a constraint's nodes are looked up, not matched one by
    one: AliECS templates constrain each host's tasks to that host, as many distinct constraints as hosts, and
    matching each against every node grew as hosts x hosts (250,000 matches for a deploy on 500 hosts)."""

    def __init__(self, nodes: tuple[Node, ...]):
        self.nodes = nodes
        self._having: dict[tuple[str, str], list[int]] = {}
        for position, node in enumerate(nodes):
            for name in {"hostname", *(name for name, _ in node.attributes)}:
                for value in dict.fromkeys(node.values(name)):
                    self._having.setdefault((name, value), []).append(position)

    def matching(self, constraints: tuple[tuple[str, str], ...]) -> list[Node]:
        """The nodes that match (``Node.matches``), in the nodes' order."""
        found: set[int] | None = None
        for name, wanted in constraints:
            having = self._having.get((name, wanted.strip()), ())
            found = set(having) if found is None else found.intersection(having)
            if not found:
                return []
        return list(self.nodes) if found is None else [self.nodes[p] for p in sorted(found)]


@dataclass(frozen=True)
class Wants:
    """What a task asks of its node (its class's ``wants``): CPUs (fractions allowed) and memory in MB."""

    cpu: float = 0.0
    memory: float = 0.0

    def __add__(self, other: Wants) -> Wants:
        return Wants(self.cpu + other.cpu, self.memory + other.memory)

    def __sub__(self, other: Wants) -> Wants:
        return Wants(max(0.0, self.cpu - other.cpu), max(0.0, self.memory - other.memory))


NO_WANTS = Wants()


class PlacementError(HandledError):
    """No node satisfies a task's constraints."""


@dataclass
class LaunchSpec:
    """One process to start: argv and environment are final; output files are None for "discard"."""

    task_id: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the manager's base environment
    cwd: Path | None = None
    user: str = ""
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    wants: Wants = NO_WANTS  # the task's (placed with them): a batch manager runs it where they are allocated
    #: called with the started process before it runs the command (a manager that cannot hold it back calls it
    #: right after the start): the executor records the process there, so a core killed at any moment knows it.
    #: It may be called on a worker thread (the local manager starts a process off the event loop)
    before_run: Callable[[ProcessHandle], None] | None = None


class ProcessHandle(abc.ABC):
    """A launched process (and its process group). Survives as a ``record()`` across core restarts."""

    pid: int
    #: what runs the process on its node, shown as a task's ``executorId`` (Mesos named its executor there)
    executor: str = "local"
    #: what ended it, when its manager knows more than the exit code (a batch job's memory limit, an agent job cancelled)
    end_reason: str = ""

    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the process still exists."""

    @abc.abstractmethod
    async def wait(self) -> int | None:
        """Wait until the process ends; its exit code (negative: killed by that signal), None if unknowable."""

    def ended(self) -> asyncio.Future[int | None]:
        """A future of ``wait()``'s result, for callbacks; not to be cancelled. This one is a task per call: a
        manager that watches its processes anyway returns the future it sets."""
        return asyncio.ensure_future(self.wait())

    @abc.abstractmethod
    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process group; a process that is already gone is not an error."""

    @abc.abstractmethod
    def record(self) -> dict[str, Any]:
        """What ``ResourceManager.attach`` needs to find this process again after a restart."""

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` (what a control port's GetState reports) is this process or one it started."""
        return pid == self.pid


class ResourceManager(abc.ABC):
    """Nodes with attributes, placement by constraints, ports, process launch and re-attachment."""

    name: str
    #: whether it sizes each node's allocation by the wants of the tasks placed there, so that tasks deployed later
    #: are best placed together with the first (``DeployRequest.planned``); one that does not divide machines need not
    sizes_allocations: bool = False
    #: processes it starts at once (0: no limit); a deploy prepares (renders, gives ports to) a few more than that
    #: ahead of their start, not all at once, so that the first processes start while the rest are prepared
    launches_at_once: int = 0
    #: the nodes ``matching`` last saw, indexed, and what matched each constraint tuple among them
    _matching_memo: tuple[NodeIndex, dict[tuple[tuple[str, str], ...], list[Node]]] | None = None

    @abc.abstractmethod
    def nodes(self) -> list[Node]:
        """The nodes tasks can be placed on."""

    async def ready(self) -> None:
        """Wait until the nodes are known (a batch system is asked for them); a local manager knows them at once."""

    def place(
        self,
        constraints: tuple[tuple[str, str], ...] | list[tuple[str, str]],
        wants: Wants = NO_WANTS,
        task: str = "",
    ) -> Node:
        """The node for a task with these equality constraints: the least loaded of those that match.

        ``wants`` are the task's (named ``task`` in errors); a manager that sizes allocations reserves them on the
        node until ``unplace``. This one runs everything on machines it does not divide, so it ignores them."""
        matching = self.matching(constraints)
        if not matching:
            wanted = ", ".join(f"{k}={v}" for k, v in constraints) or "none"
            names = "; ".join(f"{n.name}: {', '.join(f'{k}={v}' for k, v in n.attributes)}" for n in self.nodes())
            raise PlacementError(
                f"no node has {wanted} (nodes: {names or 'none'})",
                hint="add such a node to the setting core.nodes",
            )
        return min(matching, key=self.load)

    def matching(self, constraints: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[Node]:
        """The nodes that match ``constraints``, looked up in an index of the nodes and remembered while the nodes stay
        the same: a deploy places thousands of tasks with one constraint per host over hundreds of nodes (matching
        each task against every node grew as tasks x nodes: 2.5M matches for 5,000 tasks on 500 nodes)."""
        nodes = tuple(self.nodes())
        memo = self._matching_memo
        if memo is None or memo[0].nodes != nodes:  # the same nodes compare by identity, without a call per node
            memo = self._matching_memo = (NodeIndex(nodes), {})
        key = tuple(constraints)
        found = memo[1].get(key)
        if found is None:
            found = memo[1][key] = memo[0].matching(key)
        return found

    def unplace(self, node: Node, wants: Wants) -> None:
        """Give back what ``place`` reserved for a task that is gone (or never started)."""

    def keep(self, node: Node, wants: Wants) -> None:
        """Reserve ``wants`` on ``node`` for a task a previous core placed there (re-attached), as ``place`` did;
        ``unplace`` gives them back."""

    def load(self, node: Node) -> int:
        """How busy ``node`` is (placement prefers the lowest); by default, every node is equal."""
        return 0

    @abc.abstractmethod
    def allocate_port(self, node: Node, base: int) -> int:
        """The lowest port >= ``base`` that is free on ``node`` and not already handed out."""

    @abc.abstractmethod
    def release_ports(self, node: Node, ports: list[int] | tuple[int, ...]) -> None:
        """Return ports to the pool once their task is gone."""

    def bind_host(self, node: Node) -> str:
        """Where a task on ``node`` listens for its inbound TCP channels: the node's address if it is a loopback
        one (a virtual node of this machine: nobody elsewhere reaches it, and no one should), else everywhere."""
        try:
            return node.address if ipaddress.ip_address(node.address).is_loopback else "*"
        except ValueError:
            return "*"

    @abc.abstractmethod
    def ipc_address(self) -> str:
        """A new unique IPC address (``ipc://@o2ipc-<id>``, an abstract unix socket)."""

    @abc.abstractmethod
    def log_dir(self, environment_id: str) -> Path:
        """Where the output files and working directory of an environment's tasks are."""

    @abc.abstractmethod
    async def launch(self, node: Node, spec: LaunchSpec) -> ProcessHandle:
        """Start ``spec`` on ``node`` in its own process group; raise HandledError naming the command."""

    @abc.abstractmethod
    def attach(self, node: Node, record: Mapping[str, Any]) -> ProcessHandle | None:
        """The process of a handle ``record`` if it still runs (the same process, not a reused pid), else None."""

    async def close(self) -> list[str]:
        """Release what the manager holds (not the processes: the executor kills those); returns what it could not
        release, each a warning (naming what to do) for whoever stopped the core (``coconut core stop`` prints them)."""
        return []


#: the errors of a process (EMFILE) or a system (ENFILE) with no descriptor left
NO_DESCRIPTOR = (errno.EMFILE, errno.ENFILE)


def out_of_descriptors(exc: OSError) -> str:
    """Why a task could not be started when the core (or the system) had no descriptor left (``EMFILE``,
    ``ENFILE``): one message naming the limit, from the executor and the resource managers alike."""
    if exc.errno == errno.ENFILE:
        return "the system's table of open files is full (ENFILE): the core could not start the task"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (
        f"the core has no descriptor left to start the task (its limit is {soft} open files, about 4 per live "
        "task): raise the hard limit of open files of the core's service (ulimit -Hn, systemd LimitNOFILE=)"
    )
