"""What a core killed at any moment leaves for the next one: every process it started is on record, a task that
still runs is never started a second time, and a deploy that cannot bind its port says why at once.

A "restart" here is a second executor with its own resource manager on the first one's registry, while the
first one is dropped without killing anything, as a SIGKILLed core would be (tests/faults does it with real
cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from ecs_backends.resources.escapes import now_ticks
from ecs_engine.plugins import backends
from ecs_engine.tasks.executor import Executor
from ecs_engine.tasks.registry import TaskRegistry
from tests.waiting import eventually_async

from .conftest import DUMMY, LOCAL_SETTINGS, PY, leftovers, request

pytestmark = pytest.mark.slow


async def drop(executor: Executor) -> None:
    """The executor goes away as a killed core does: its connections close, its processes stay."""
    for driver in list(executor._drivers.values()):
        await driver.close()
    for watcher in executor._watchers.values():
        watcher.cancel()


def restarted(tmp_path, registry: TaskRegistry) -> Executor:
    fresh = backends().open_resource_manager("local", LOCAL_SETTINGS, state_dir=tmp_path / "state")
    fresh.launched = []
    launch = fresh.launch

    async def recorded(node, spec):
        process = await launch(node, spec)
        fresh.launched.append(process.pid)
        return process

    fresh.launch = recorded
    return Executor(fresh, registry=registry)


async def test_a_task_is_on_record_while_it_starts_and_off_it_when_its_deploy_fails(executor):
    deploying = asyncio.ensure_future(executor.deploy([request("demo.slow", ["sleep", "30"])]))
    await eventually_async(lambda: executor.resources.launched, what="the process launched")
    (pid,) = executor.resources.launched
    await eventually_async(
        lambda: [r["process"]["pid"] for r in executor.registry.records() if r["process"]] == [pid],
        what="the starting task on record with its process",
    )
    deploying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await deploying
    assert executor.registry.records() == [] and not leftovers([pid])


async def test_the_next_core_kills_tasks_of_a_deploy_nobody_finished(executor, tmp_path):
    deploying = asyncio.ensure_future(executor.deploy([request("demo.slow", ["sleep", "30"])]))
    await eventually_async(lambda: executor.registry.records() and executor.registry.records()[0]["process"])
    (pid,) = executor.resources.launched
    await drop(executor)
    deploying.cancel()  # (after drop: the dropped executor kills nothing)
    second = restarted(tmp_path, executor.registry)
    await second.discard(second.registry.records())
    assert not leftovers([pid]) and second.registry.records() == []


async def test_a_port_taken_between_allocation_and_bind_is_retried_on_another_port(executor):
    allocate = executor.resources.allocate_port
    squatter = socket.socket()  # another core's process, binding the port just handed to us
    # as servers do (gRPC, OCClib): a port an earlier test left in TIME_WAIT is still free for it
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken: list[int] = []

    def allocate_then_lose(node, base):
        port = allocate(node, base)
        if not taken:
            taken.append(port)
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        return port

    executor.resources.allocate_port = allocate_then_lose
    started = time.monotonic()
    with squatter:
        deployment = await executor.deploy([request("demo.dummy", [PY, str(DUMMY)])])
    assert deployment.undeployable == {}
    (task,) = deployment.tasks
    assert task.state == "STANDBY" and task.control_port != taken[0] and taken[0] not in task.ports
    assert time.monotonic() - started < 10  # not the 15 s startup time limit
    assert len(executor.resources.launched) == 2 and not leftovers(executor.resources.launched[:1])


LISTENS_THEN_DIES = """
import os, socket, sys, time
server = socket.create_server(("127.0.0.1", int(os.environ["OCC_CONTROL_PORT"])))
time.sleep(0.5)
print("bad configuration", file=sys.stderr)
sys.exit(7)
"""


async def test_a_process_that_dies_during_startup_is_reported_at_once_with_its_status(executor):
    started = time.monotonic()
    deployment = await executor.deploy([request("demo.dies", [PY, "-c", LISTENS_THEN_DIES])])
    (message,) = deployment.undeployable.values()
    assert "exited with code 7 before reaching STANDBY" in message and "bad configuration" in message
    assert time.monotonic() - started < 5


async def test_a_basic_task_running_across_a_restart_is_not_started_twice(executor, tmp_path):
    (task,) = (await executor.deploy([request("demo.basic", ["sleep", "30"], mode="basic")])).tasks
    await executor.transition([task], "CONFIGURE")
    await executor.transition([task], "START")
    pid = task.process.pid
    await drop(executor)

    second = restarted(tmp_path, executor.registry)
    (record,) = second.registry.records()
    back = await second.reattach(record)
    back.state = "CONFIGURED"  # the engine's state: the core died before START was done
    assert await second.transition([back], "START") == {}
    assert back.process.pid == pid and second.resources.launched == []
    await second.shutdown()
    assert not leftovers([pid])


async def test_a_hook_running_across_a_restart_is_killed_before_it_runs_again(executor, tmp_path):
    flag = tmp_path / "flag"
    hook = request("demo.hook", [f"test -e {flag} || sleep 30"], shell=True, mode="hook")
    (task,) = (await executor.deploy([hook])).tasks
    first_run = asyncio.ensure_future(executor.trigger_hook(task, timeout=0))
    await eventually_async(lambda: task.process is not None)
    earlier = task.process.pid
    await eventually_async(lambda: executor.registry.records()[0]["process"], what="the run on record")
    await drop(executor)

    flag.touch()
    second = restarted(tmp_path, executor.registry)
    (record,) = second.registry.records()
    back = await second.reattach(record)
    result = await second.trigger_hook(back, timeout=10)
    assert result.final_status == "FINISHED" and len(second.resources.launched) == 1
    assert not leftovers([earlier])
    await first_run
    await second.shutdown()


def test_two_cores_on_one_host_search_ports_from_different_places():
    first, second = (  # nothing is written to a state dir by allocation: two users' usual ones
        backends().open_resource_manager("local", {}, state_dir=Path(f"/home/{user}/.local/state/ecs"))
        for user in ("ana", "bob")
    )
    (node,) = first.nodes()
    ports = [manager.allocate_port(node, 30000) for manager in (first, second)]
    assert len(set(ports)) == 2 and all(port >= 30000 for port in ports)
    with socket.socket() as taken:  # whatever the place, a port someone holds is never handed out
        for held in range(ports[0] + 1, 65536):  # the next one this test can hold (others hold ports on this host)
            with contextlib.suppress(OSError):
                taken.bind(("0.0.0.0", held))
                break
        assert first.allocate_port(node, 30000) not in (ports[0], held)


async def past_its_start_tick(pid: int) -> None:
    """Wait until the clock has left the tick ``pid`` started in. /proc gives start times in clock ticks
    (10 ms): a process started in the very tick of a stop request is taken for a relaunch's, not an orphan
    of the run that ended (the sweep's known limit), so the tests stop a task only after that tick."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    await eventually_async(lambda: now_ticks() > int(fields[19]), what=f"the tick after process {pid} started")


async def started_escapee(executor, command: str, out: Path) -> tuple[Any, int]:
    """A basic task running shell ``command``, which writes to ``out`` the pid of a process it starts in a
    session of its own; the task and that pid once the escapee is out of the task's session and past its start tick."""
    (task,) = (await executor.deploy([request("demo.escape", [command], shell=True, mode="basic")])).tasks
    await executor.transition([task], "CONFIGURE")
    await executor.transition([task], "START")
    await eventually_async(lambda: out.exists() and out.read_text().strip(), what="the escaped process started")
    escaped = int(out.read_text())
    # not in the task's session or group once setsid has run (its pid is written before it runs)
    await eventually_async(lambda: os.getsid(escaped) != task.process.pid, what="the escapee in a session of its own")
    await past_its_start_tick(escaped)
    return task, escaped


@pytest.mark.parametrize(
    "escape",
    [
        "setsid sleep 300 & echo $! > {out}; exec sleep 300",  # a session of its own, a child of the task
        "(setsid sleep 300 & echo $! > {out}); exec sleep 300",  # and an orphan: its parent is gone
        "setsid sleep 300 & echo $! > {out}; while [ ! -e {out}.stop ]; do sleep 0.02; done",  # the task ends first
    ],
    ids=["child", "orphan", "outlives-the-task"],
)
async def test_what_a_task_started_outside_its_process_group_dies_with_it(executor, tmp_path, escape):
    out = tmp_path / "escaped.pid"
    task, escaped = await started_escapee(executor, escape.format(out=out), out)
    if "stop" in escape:
        Path(f"{out}.stop").touch()
        await eventually_async(lambda: task.process is None, what="the task ended by itself")
    else:
        await executor.transition([task], "STOP")
    await eventually_async(lambda: not Path(f"/proc/{escaped}").exists(), what="the escaped process gone and reaped")


async def test_a_task_started_again_at_once_is_not_taken_for_an_orphan_of_its_last_run(executor, tmp_path):
    """What a run left outside its group is killed after the run ended, off the event loop; a new run of the
    same task (same mark) started meanwhile is the task, not a leftover."""
    out = tmp_path / "escaped.pid"
    escape = f"(setsid sleep 300 & echo $! >> {out}); exec sleep 300"
    (task,) = (await executor.deploy([request("demo.again", [escape], shell=True, mode="basic")])).tasks
    await executor.transition([task], "CONFIGURE")
    await executor.transition([task], "START")
    await eventually_async(lambda: out.exists() and len(out.read_text().split()) == 1, what="the first run's escapee")
    await past_its_start_tick(int(out.read_text()))
    await executor.transition([task], "STOP")
    await executor.transition([task], "START")
    second = task.process
    await eventually_async(lambda: out.exists() and len(out.read_text().split()) == 2, what="the second run's escapee")
    first_escapee, second_escapee = map(int, out.read_text().split())
    await eventually_async(lambda: not Path(f"/proc/{first_escapee}").exists(), what="the first run's escapee gone")
    assert second is not None and second.alive() and Path(f"/proc/{second_escapee}").exists()
    await past_its_start_tick(second_escapee)
    await executor.transition([task], "STOP")
    await eventually_async(lambda: not Path(f"/proc/{second_escapee}").exists(), what="the second run's escapee gone")


async def test_the_next_core_finds_the_tasks_forgotten_last_as_they_were_kept(executor, tmp_path, monkeypatch):
    """Killed tasks and one that failed to start stay found by id after a restart (coconut task show/logs): the
    latest FORGOTTEN_KEPT, in order, each with its status, state, how it ended and its output files."""
    monkeypatch.setattr("ecs_engine.tasks.executor.FORGOTTEN_KEPT", 3)
    deployed = await executor.deploy([request(f"demo.t{i}", [PY, str(DUMMY)]) for i in range(3)])
    await executor.kill(deployed.tasks)
    failed = await executor.deploy([request("demo.missing", [str(tmp_path / "missing")])])
    assert list(failed.undeployable) == ["demo.missing"]

    def kept(executor: Executor) -> list[tuple[Any, ...]]:
        return [
            (i, t.request.role_path, t.status, t.state, t.last_result and t.last_result.how, t.stdout_path, t.locked)
            for i, t in executor.forgotten.items()
        ]

    before = kept(executor)
    assert [row[2:4] for row in before] == [("INACTIVE", "DONE")] * 2 + [("INACTIVE", "ERROR")]  # the first dropped
    assert {row[1] for row in before[:2]} < {"demo.t0", "demo.t1", "demo.t2"} and before[2][1] == "demo.missing"
    assert before[-1][4].startswith("task ") and all(Path(row[5]).exists() for row in before[:2])
    again = restarted(tmp_path, executor.registry)
    assert again.forgotten == {}
    await again.recall()
    assert kept(again) == before
