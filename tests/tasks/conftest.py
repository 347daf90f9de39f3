"""Real processes for the executor: a local resource manager in a temporary state dir, requests, a recorder."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ecs_engine.plugins import backends
from ecs_engine.tasks.executor import Executor, Timeouts
from ecs_engine.tasks.model import ChannelSpec, TaskProcess, TaskRequest
from ecs_engine.tasks.registry import TaskRegistry
from ecs_engine.tasks.reports import HookResult
from ecs_engine.template.tasks import TaskCommand

from ..ports import own_port_range

ROOT = Path(__file__).resolve().parents[2]
DUMMY = ROOT / "examples" / "tasks" / "occ_dummy_process.py"
DEVICE = ROOT / "examples" / "tasks" / "fairmq_example_device.py"
PY = sys.executable


def request(
    role: str,
    argv: list[str],
    *,
    mode: str = "direct",
    shell: bool = False,
    bind: tuple[ChannelSpec, ...] = (),
    connect: tuple[ChannelSpec, ...] = (),
    critical: bool = True,
    constraints: tuple[tuple[str, str], ...] = (),
    environment_id: str = "envtest",
    stdout: str = "stdout",
    stderr: str = "all",
) -> TaskRequest:
    command = TaskCommand(argv[0], shell, "", [], list(argv[1:]), stdout, stderr)
    return TaskRequest(
        role_path=role,
        class_name=f"test/tasks/{role.rsplit('.', 1)[-1]}@local",
        mode=mode,
        critical=critical,
        constraints=constraints,
        bind=bind,
        connect=connect,
        environment_id=environment_id,
        build_command=lambda node, task_id: command,
    )


@dataclass
class Recorder:
    """Everything the executor reports, in order."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (task id, state, status)
    events: list[tuple[str, str]] = field(default_factory=list)
    ended: list[tuple[str, HookResult, bool]] = field(default_factory=list)

    def task_changed(self, task: TaskProcess) -> None:
        self.changes.append((task.id, task.state, task.status))

    def device_event(self, task: TaskProcess, event: str) -> None:
        self.events.append((task.id, event))

    def task_ended(self, task: TaskProcess, result: HookResult, expected: bool) -> None:
        self.ended.append((task.id, result, expected))


#: the local resource manager's settings in these tests: two virtual nodes, ports from the session's own range
LOCAL_SETTINGS = {"nodes": ["flp001", "flp002"], "ports": own_port_range()}


@pytest.fixture
def resources(tmp_path):
    """The local manager; ``resources.launched`` lists the pid of every process it started in this test."""
    manager = backends().open_resource_manager("local", LOCAL_SETTINGS, state_dir=tmp_path / "state")
    manager.launched = []
    launch = manager.launch

    async def recorded(node, spec):
        process = await launch(node, spec)
        manager.launched.append(process.pid)
        return process

    manager.launch = recorded
    return manager


def leftovers(leaders: list[int]) -> list[int]:
    """Live processes in the sessions these leaders started (each task is its own session), none else."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            text = (entry / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        state, _ppid, _pgrp, session = text[text.rfind(")") + 2 :].split()[:4]
        if int(session) in leaders and state not in "ZX":
            found.append(int(entry.name))
    return found


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def executor(resources, recorder, tmp_path):
    registry = TaskRegistry(tmp_path / "data" / "tasks.sqlite")
    executor = Executor(resources, timeouts=Timeouts(startup=15.0), registry=registry, listener=recorder)
    yield executor
    await executor.shutdown()
    registry.close()


def output(task: TaskProcess) -> str:
    return Path(task.stdout_path).read_text() if task.stdout_path and Path(task.stdout_path).exists() else ""
