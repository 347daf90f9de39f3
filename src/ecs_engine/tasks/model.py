"""The executor's records: what is asked for a task (``TaskRequest``) and the task once deployed (``TaskProcess``).

Plain data filled by the executor, kept in the task registry, and turned into ``ShortTaskInfo``/``TaskInfo``
by the gRPC service. What the engine sees of a task is ``environment.taskport.Task``; what both sides
report (statuses, hook results, deployments) is ``tasks.reports``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_engine.occ.states import STANDBY
from ecs_engine.template.tasks import TaskCommand

from .reports import INACTIVE, HookResult
from .resources import NO_WANTS, Node, ProcessHandle, Wants

# Control modes (reference §4.2); "hook" is a basic class used by a role with a trigger.
DIRECT = "direct"
FAIRMQ = "fairmq"
BASIC = "basic"
HOOK = "hook"
OCC_MODES = (DIRECT, FAIRMQ)


@dataclass(frozen=True)
class ChannelSpec:
    """One inbound (bind) or outbound (connect) channel of a task, after templating."""

    name: str
    type: str = ""
    transport: str = "default"
    target: str = ""
    addressing: str = "tcp"
    global_alias: str = ""
    snd_buf_size: str = "1000"
    rcv_buf_size: str = "1000"
    rate_logging: str = "0"

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ChannelSpec:
        return cls(
            name=fields.get("name", ""),
            type=fields.get("type", ""),
            transport=fields.get("transport", "") or "default",
            target=fields.get("target", ""),
            addressing=fields.get("addressing", "") or "tcp",
            global_alias=fields.get("global", ""),
            snd_buf_size=fields.get("sndBufSize", "") or "1000",
            rcv_buf_size=fields.get("rcvBufSize", "") or "1000",
            rate_logging=fields.get("rateLogging", "") or "0",
        )


@dataclass
class TaskRequest:
    """What the engine asks to deploy for one task role; the command is built once the node is known."""

    role_path: str
    class_name: str  # <repoId>/tasks/<name>@<revision>
    mode: str
    critical: bool = True
    constraints: tuple[tuple[str, str], ...] = ()
    bind: tuple[ChannelSpec, ...] = ()
    connect: tuple[ChannelSpec, ...] = ()
    hook_timeout: float = 0.0  # hook and basic tasks: hard limit of one run (0: none)
    environment_id: str = ""
    wants: Wants = NO_WANTS  # the class's wants (cpu, memory MB): what a batch system's allocation is sized by
    #: (node name, task id) -> the final command, rendered with task_hostname etc.
    build_command: Callable[[str, str], TaskCommand] | None = field(default=None, repr=False)
    #: (node name, task id) -> the task's `properties`, rendered at CONFIGURE with the role's current variables
    properties: Callable[[str, str], dict[str, str]] | None = field(default=None, repr=False)

    @property
    def is_occ(self) -> bool:
        return self.mode in OCC_MODES


@dataclass
class TaskProcess:
    """One deployed task as the executor keeps it: placement, addresses, process, last reported state.

    Hook and basic tasks have a ``process`` only while they run.
    """

    id: str
    request: TaskRequest
    node: Node
    command: TaskCommand
    control_port: int = 0
    bound: dict[str, str] = field(default_factory=dict)  # inbound channel -> address pushed to the task
    reachable: dict[str, str] = field(default_factory=dict)  # inbound channel -> address others connect to
    ports: tuple[int, ...] = ()  # every port allocated for it, released at kill
    pid: int = 0
    state: str = STANDBY
    status: str = INACTIVE
    transport: str = ""  # "direct" (OCC protobuf) or "fmq" (OCClite JSON codec) for OCC tasks
    stdout_path: str = ""
    stderr_path: str = ""
    process: ProcessHandle | None = field(default=None, repr=False)
    locked: bool = True  # owned by its environment; released tasks stay alive, unlocked
    last_result: HookResult | None = None
    #: the class properties pushed at its last CONFIGURE (kept, so a restarted core pushes them again)
    properties: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.request.class_name}#{self.id}"

    @property
    def environment_id(self) -> str:
        return self.request.environment_id

    @property
    def mode(self) -> str:
        return self.request.mode

    def record(self) -> dict[str, Any]:
        """What survives a core restart (see ``registry``)."""
        return {
            "id": self.id,
            "environment_id": self.request.environment_id,
            "role_path": self.request.role_path,
            "class_name": self.request.class_name,
            "mode": self.request.mode,
            "critical": self.request.critical,
            "hook_timeout": self.request.hook_timeout,
            "wants": [self.request.wants.cpu, self.request.wants.memory],
            "bind_channels": [vars(c) for c in self.request.bind],
            "connect_channels": [vars(c) for c in self.request.connect],
            "node": {"name": self.node.name, "address": self.node.address, "attributes": list(self.node.attributes)},
            "command": vars(self.command),
            "control_port": self.control_port,
            "bound": self.bound,
            "reachable": self.reachable,
            "ports": list(self.ports),
            "transport": self.transport,
            "state": self.state,
            "locked": self.locked,
            "stdout_path": self.stdout_path,
            "stderr_path": self.stderr_path,
            "process": self.process.record() if self.process is not None else None,
            "properties": self.properties,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], request: TaskRequest | None = None) -> TaskProcess:
        """The task a ``record()`` describes, without its process (``request``: the engine's, when it has one)."""
        request = request or TaskRequest(
            role_path=record["role_path"],
            class_name=record["class_name"],
            mode=record["mode"],
            critical=record.get("critical", True),
            bind=tuple(ChannelSpec(**c) for c in record.get("bind_channels", ())),
            connect=tuple(ChannelSpec(**c) for c in record.get("connect_channels", ())),
            hook_timeout=record.get("hook_timeout", 0.0),
            environment_id=record.get("environment_id", ""),
            wants=Wants(*record.get("wants", (0.0, 0.0))),
        )
        return cls(
            id=record["id"],
            request=request,
            node=node_of(record),
            command=TaskCommand(**record["command"]),
            control_port=record.get("control_port", 0),
            bound=dict(record.get("bound", {})),
            reachable=dict(record.get("reachable", {})),
            ports=tuple(record.get("ports", ())),
            transport=record.get("transport", ""),
            state=record.get("state", STANDBY),
            locked=record.get("locked", True),
            stdout_path=record.get("stdout_path", ""),
            stderr_path=record.get("stderr_path", ""),
            properties=record.get("properties"),
        )

    def forgotten_record(self) -> dict[str, Any]:
        """What survives a core restart of a task the executor forgot: its record, its status and how it ended
        (not a hook's output: ``taskResult.*`` is the engine's)."""
        ended = self.last_result
        kept = dataclasses.replace(ended, stdout="", stderr="") if ended is not None else None
        return {**self.record(), "status": self.status, "ended": vars(kept) if kept is not None else None}

    @classmethod
    def from_forgotten(cls, record: Mapping[str, Any]) -> TaskProcess:
        task = cls.from_record(record)
        task.status = record.get("status", INACTIVE)
        ended = record.get("ended")
        task.last_result = HookResult(**ended) if ended is not None else None
        return task


def node_of(record: Mapping[str, Any]) -> Node:
    data = record["node"]
    return Node(data["name"], data.get("address", "127.0.0.1"), tuple(map(tuple, data["attributes"])))
