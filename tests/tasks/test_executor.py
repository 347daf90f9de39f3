"""The executor with real processes on loopback: deploy, OCC transitions, data, hooks, basic tasks, kill, re-attach."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import grpc.aio
import pytest

from ecs_engine.errors import HandledError
from ecs_engine.plugins import backends
from ecs_engine.tasks import modes
from ecs_engine.tasks.executor import Executor, Timeouts
from ecs_engine.tasks.model import ChannelSpec
from ecs_engine.tasks.modes import POLL_INTERVAL, POLL_INTERVAL_MAX, POLLS_PER_SECOND, poll_interval
from ecs_engine.tasks.registry import TaskRegistry
from tests.waiting import eventually_async

from ..ports import in_own_range
from .conftest import DEVICE, DUMMY, LOCAL_SETTINGS, PY, leftovers, output, request

pytestmark = pytest.mark.slow

PRODUCER = [PY, "-m", "ecs_engine.examples.producer", "--rate", "500", "--payload-bytes", "64"]
CONSUMER = [PY, "-m", "ecs_engine.examples.consumer"]
RUNS = 5  # of the demo pair, whose counts at STOP must agree


def dataflow(**producer_flags) -> list:
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in producer_flags.items()]
    return [
        request(
            "demo.host-flp001.producer",
            PRODUCER + extra,
            bind=(ChannelSpec("data-out", type="push"),),
            constraints=(("machine_id", "flp001"),),
        ),
        request(
            "demo.host-flp001.consumer",
            CONSUMER,
            connect=(ChannelSpec("data-in", type="pull", target="demo.host-flp001.producer:data-out"),),
            constraints=(("machine_id", "flp001"),),
        ),
    ]


def listening(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at ``port`` (/proc/net/tcp: little-endian hex address, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_producer_and_consumer_move_data_through_a_run_and_exit_cleanly(executor, recorder):
    deployment = await executor.deploy(dataflow())
    assert deployment.undeployable == {}
    producer, consumer = sorted(deployment.tasks, key=lambda t: t.request.role_path, reverse=True)
    for task in (producer, consumer):
        assert (task.state, task.status, task.node.name) == ("STANDBY", "ACTIVE", "flp001")
        assert in_own_range(task.control_port) and alive(task.pid)
    port = int(producer.bound["data-out"].rsplit(":", 1)[1])
    assert producer.bound["data-out"] == f"tcp://127.0.0.1:{port}" and in_own_range(port)
    assert producer.reachable["data-out"] == f"tcp://127.0.0.1:{port}"

    assert await executor.transition([producer, consumer], "CONFIGURE") == {}
    assert f"connects to tcp://127.0.0.1:{port}" in output(consumer)
    assert listening(port) == {"127.0.0.1"}  # a virtual node of this machine: not reachable from elsewhere
    for run in range(7, 7 + RUNS):  # STOP reaches both at once: the consumer drains what the producer sent
        assert await executor.transition([producer, consumer], "START", [("runNumber", str(run))]) == {}
        assert (producer.state, consumer.state) == ("RUNNING", "RUNNING")
        await eventually_async(
            lambda run=run: re.search(rf"run {run}: received [1-9]\d* messages so far", output(consumer)), what="data"
        )
        assert await executor.transition([producer, consumer], "STOP") == {}
        received = int(re.search(rf"run {run}: received (\d+) messages, \d+ bytes", output(consumer)).group(1))
        sent = int(re.search(rf"run {run}: sent (\d+) messages", output(producer)).group(1))
        assert received == sent > 0, f"run {run}"

    pids = [producer.pid, consumer.pid]
    processes = [producer.process, consumer.process]
    killed = await executor.kill([producer, consumer])
    assert {t.id for t in killed} == {producer.id, consumer.id}
    assert [await p.wait() for p in processes] == [0, 0]  # walked to DONE: they exited by themselves
    assert not any(alive(pid) for pid in pids)
    assert executor.tasks == {}


async def test_configure_fails_for_an_outbound_target_that_matches_nothing(executor):
    requests = dataflow()
    requests[1] = request(
        "demo.host-flp001.consumer",
        CONSUMER,
        connect=(ChannelSpec("data-in", type="pull", target="demo.nowhere:data-out"),),
    )
    deployment = await executor.deploy(requests)
    errors = await executor.transition(deployment.tasks, "CONFIGURE")
    consumer = next(t for t in deployment.tasks if t.request.role_path.endswith("consumer"))
    assert list(errors) == [consumer.id]
    assert "could not match target for outbound channel 'data-in'" in errors[consumer.id]
    assert "'demo.nowhere:data-out'" in errors[consumer.id]


async def test_a_failing_transition_names_the_task_and_the_state_reached(executor):
    deployment = await executor.deploy([request("demo.dummy", [PY, str(DUMMY), "--fail-on", "START"])])
    (task,) = deployment.tasks
    assert await executor.transition([task], "CONFIGURE") == {}
    errors = await executor.transition([task], "START", [("runNumber", "1")])
    assert task.state == "ERROR"
    assert re.search(r"task demo\.dummy \(\w+\) on \S+: START ended in ERROR \(expected RUNNING", errors[task.id])


async def test_startup_timeout_names_the_setting_and_leaves_no_process(resources, recorder):
    executor = Executor(resources, timeouts=Timeouts(startup=0.5), listener=recorder)
    started = time.monotonic()
    deployment = await executor.deploy([request("demo.silent", ["sleep", "30"])])
    assert time.monotonic() - started < 5
    (message,) = deployment.undeployable.values()
    assert "did not reach STANDBY within 0.5 s: nothing listens on its control port" in message
    assert "core.startup_timeout" in message
    assert executor.tasks == {} and not deployment.tasks
    assert resources.launched and not leftovers(resources.launched)


def test_starting_tasks_share_a_rate_of_port_looks_and_the_last_few_are_looked_at_often():
    """A few starting tasks (the tail of a deploy) are looked at every 20 ms; a thousand together at most
    POLLS_PER_SECOND times a second, and each at least every 160 ms."""
    assert poll_interval(1) == poll_interval(POLLS_PER_SECOND * POLL_INTERVAL) == POLL_INTERVAL == 0.02
    assert poll_interval(50) == 50 / POLLS_PER_SECOND
    assert poll_interval(1000) == poll_interval(10_000) == POLL_INTERVAL_MAX == 0.16


async def test_a_look_at_a_starting_tasks_port_sees_its_server_without_connecting_or_keeping_it_from_binding():
    """A starting task's control port is looked at by binding it for a moment, not by connecting: its gRPC server
    binds while a look holds the port, a look sees a server on the loopback or on every address, and looks leave
    no connection in a listener's queue."""
    held = socket.socket()  # bound as a look binds, for as long as the server takes to bind
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    assert not modes.listening(port)  # bound, not listening
    server = grpc.aio.server()
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    await server.start()
    held.close()
    try:
        assert modes.listening(port)
    finally:
        await server.stop(0)
    with socket.socket() as everywhere:
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        everywhere.setblocking(False)
        assert all(modes.listening(everywhere.getsockname()[1]) for _ in range(3))
        with pytest.raises(BlockingIOError):
            everywhere.accept()  # no look connected


async def test_a_deploy_starts_its_first_processes_before_it_prepared_the_rest(resources, recorder, monkeypatch):
    """Commands are rendered and ports given a few tasks ahead of the processes' starts (twice as many as the
    resource manager starts at once), not all before the first start: the first tasks come up meanwhile."""
    order: list[str] = []
    launch = resources.launch

    async def recorded_launch(node, spec):
        process = await launch(node, spec)
        order.append("started")
        return process

    def rendered(build):
        def build_command(node, task_id):
            order.append("rendered")
            return build(node, task_id)

        return build_command

    monkeypatch.setattr(resources, "launch", recorded_launch)
    requests = [request(f"demo.t{i}", ["sleep", "30"]) for i in range(20)]
    requests = [dataclasses.replace(r, build_command=rendered(r.build_command)) for r in requests]
    executor = Executor(resources, timeouts=Timeouts(startup=0.5), listener=recorder)
    deployment = await executor.deploy(requests)
    assert len(deployment.undeployable) == 20  # (nothing listens: only the order matters here)
    assert order.count("started") == 20
    assert order.index("started") <= 2 * resources.launches_at_once
    assert resources.launched and not leftovers(resources.launched)


async def test_a_deploy_starts_every_process_before_it_looks_at_any(resources, recorder, monkeypatch):
    """All the deploy's processes are started before the first look at a control port: the first tasks' checks
    and calls do not compete with the others' starts for the loop, and go out together."""
    order: list[str] = []
    launch, look = resources.launch, modes.listening

    async def recorded_launch(node, spec):
        process = await launch(node, spec)
        order.append("started")
        return process

    def recorded_look(port):
        order.append("look")
        return look(port)

    monkeypatch.setattr(resources, "launch", recorded_launch)
    monkeypatch.setattr(modes, "listening", recorded_look)
    executor = Executor(resources, timeouts=Timeouts(startup=0.3), listener=recorder)
    deployment = await executor.deploy([request(f"demo.t{i}", ["sleep", "30"]) for i in range(12)])
    assert len(deployment.undeployable) == 12  # (nothing listens: only the order matters here)
    assert order.count("started") == 12 and "look" in order
    assert order.index("look") == 12, order[:14]
    assert not leftovers(resources.launched)


async def test_a_resource_managers_bug_fails_its_task_not_the_deploy(resources, recorder, monkeypatch):
    """An unexpected exception from a launch (a bug in a resource manager plugin) makes that task undeployable
    with what it was, so the environment's create fails and is torn down as for any other failure (it escaped the
    deploy before: the environment stayed half made, holding its detectors)."""
    launch = resources.launch

    async def broken_for_one(node, spec):
        if spec.argv[-1] == "31":
            raise KeyError("getpwnam(): name not found: 'flp'")
        return await launch(node, spec)

    monkeypatch.setattr(resources, "launch", broken_for_one)
    executor = Executor(resources, timeouts=Timeouts(startup=0.3), listener=recorder)
    deployment = await executor.deploy([request("demo.ok", ["sleep", "30"]), request("demo.bug", ["sleep", "31"])])
    assert deployment.undeployable["demo.bug"] == "internal error: KeyError: \"getpwnam(): name not found: 'flp'\""
    assert "demo.ok" in deployment.undeployable  # (nothing listens there: a startup failure of its own)
    assert executor.tasks == {}
    assert not leftovers(resources.launched)


async def test_a_deploy_cancelled_while_it_starts_processes_leaves_none_behind(resources, recorder, monkeypatch):
    """A deploy cancelled (a destroy with force) after some of its processes started and while others start: the
    started ones, which no task waits on yet, are killed and forgotten as the one being started."""
    launch = resources.launch
    three_started = asyncio.Event()

    async def slow_after_three(node, spec):
        process = await launch(node, spec)
        if len(resources.launched) >= 3:
            three_started.set()
            await asyncio.sleep(30)  # the cancel comes here
        return process

    monkeypatch.setattr(resources, "launch", slow_after_three)
    executor = Executor(resources, timeouts=Timeouts(startup=30.0), listener=recorder)
    deploying = asyncio.ensure_future(executor.deploy([request(f"demo.t{i}", ["sleep", "30"]) for i in range(8)]))
    await asyncio.wait_for(three_started.wait(), 10)
    deploying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await deploying
    assert len(resources.launched) >= 3
    assert executor.tasks == {} and executor.forgotten == {}  # cancelled, not failed
    await eventually_async(lambda: not leftovers(resources.launched), what="no process of the cancelled deploy left")


async def test_a_task_that_reports_error_at_startup_is_reported_at_once_without_a_time_limit(
    resources, recorder, tmp_path
):
    broken = tmp_path / "broken.py"
    broken.write_text(
        "import sys\nfrom ecs_engine.occ.process import ControlledProcess\n"
        "class Broken(ControlledProcess):\n"
        "    def __init__(self, options=None):\n        super().__init__(options)\n        self.state = 'ERROR'\n"
        "sys.exit(Broken.main())\n"
    )
    executor = Executor(resources, timeouts=Timeouts(startup=30), listener=recorder)
    started = time.monotonic()
    deployment = await executor.deploy([request("demo.broken", [PY, str(broken)])])
    assert time.monotonic() - started < 10
    (message,) = deployment.undeployable.values()
    assert "did not reach STANDBY: it reported ERROR instead of STANDBY" in message
    assert "within" not in message and "core.startup_timeout" not in message  # no time ran out
    assert resources.launched and not leftovers(resources.launched)


async def test_a_control_port_answered_by_another_process_is_not_taken_for_the_task(executor, monkeypatch):
    (other,) = (await executor.deploy([request("demo.other", [PY, str(DUMMY)])])).tasks  # e.g. another core's
    monkeypatch.setattr(executor.resources, "allocate_port", lambda node, base: other.control_port)
    deployment = await executor.deploy([request("demo.mine", ["sleep", "30"])])
    (message,) = deployment.undeployable.values()
    assert f"is answered by another process (pid {other.pid})" in message and not deployment.tasks
    mine = [pid for pid in executor.resources.launched if pid != other.process.pid]
    assert mine and not leftovers(mine)
    monkeypatch.undo()
    (wrapped,) = (await executor.deploy([request("demo.wrapped", [f"{PY} {DUMMY}; true"], shell=True)])).tasks
    assert wrapped.state == "STANDBY" and wrapped.pid != wrapped.process.pid  # what its shell started is its own


async def test_a_process_that_exits_before_answering_is_reported_with_its_output(executor):
    deployment = await executor.deploy([request("demo.crash", ["echo boom >&2; exit 3"], shell=True)])
    (message,) = deployment.undeployable.values()
    assert "demo.crash" in message and "exited with code 3 before reaching STANDBY" in message and "boom" in message


async def test_the_latest_tasks_that_failed_to_start_are_kept_failed_once_forgotten(executor, monkeypatch, tmp_path):
    """The deploy's error names the task: the executor keeps the latest ones (a bounded number) by id, failed, saying
    why, without what holds their template."""
    monkeypatch.setattr("ecs_engine.tasks.executor.FORGOTTEN_KEPT", 2)
    for i in range(3):
        deployment = await executor.deploy([request(f"demo.t{i}", [str(tmp_path / f"missing{i}")])])
        assert list(deployment.undeployable) == [f"demo.t{i}"]
    assert executor.tasks == {}
    assert [t.request.role_path for t in executor.forgotten.values()] == ["demo.t1", "demo.t2"]
    for task_id, task in executor.forgotten.items():
        assert (task.status, task.state, task.pid, task.process) == ("INACTIVE", "ERROR", 0, None)
        missing = tmp_path / f"missing{task.request.role_path[-1]}"
        assert task.last_result.error == f"task {task_id}: cannot start '{missing}': No such file or directory"
        assert task.request.build_command is None and task.request.properties is None


async def test_kill_escalates_to_sigint_when_sigterm_is_ignored(executor, recorder, tmp_path):
    ready = tmp_path / "trap-installed"
    script = f"trap '' TERM; touch {ready}; while true; do sleep 0.1; done"
    stubborn = request("demo.stubborn", [script], mode="basic", shell=True)
    (task,) = (await executor.deploy([stubborn])).tasks
    assert await executor.transition([task], "START") == {}
    process = task.process
    await eventually_async(ready.exists)  # SIGTERM before the trap is installed would end the shell at once
    started = time.monotonic()
    await executor.kill([task])
    elapsed = time.monotonic() - started
    assert not process.alive()
    assert 1.9 < elapsed < 4.5  # SIGTERM ignored for 2 s, then SIGINT ended it
    assert (await process.wait()) == -signal.SIGINT


#: an OCC process that, once DONE, stays up until its controller hangs up (20 s at most: longer than a kill waits
#: for an exit before it signals; as a gRPC server that stops gracefully waits for its clients), then writes which
#: of the two ended its wait
PATIENT = """
import asyncio, sys, time
from pathlib import Path
from ecs_engine.occ.process import ControlledProcess

def connected(port):
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False

class Patient(ControlledProcess):
    def _finish(self, exit_code):
        if self.state != "DONE":
            return super()._finish(exit_code)
        asyncio.get_running_loop().create_task(self._when_hung_up(exit_code))

    async def _when_hung_up(self, exit_code):
        deadline = time.monotonic() + 20
        while connected(self.port) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        Path(sys.argv[1]).write_text("still connected" if connected(self.port) else "hung up")
        super()._finish(exit_code)

sys.exit(Patient.main(sys.argv[2:]))
"""


async def test_a_kill_hangs_up_the_control_connection_before_it_waits_for_the_process_to_end(executor, tmp_path):
    """Nothing more is asked of a process walked down to DONE; a gRPC server stopping with its client still
    connected costs both ends more (the fast peer: 10-25 ms of its CPU and 20-30 ms of the core's per destroy of
    100 tasks), and a server that waits for its clients holds the destroy for as long as it waits."""
    script, outcome = tmp_path / "patient.py", tmp_path / "outcome"
    script.write_text(PATIENT)
    (task,) = (await executor.deploy([request("demo.patient", [PY, str(script), str(outcome)])])).tasks
    process = task.process
    started = time.monotonic()
    await executor.kill([task])
    assert outcome.read_text() == "hung up"
    assert time.monotonic() - started < 4 and await process.wait() == 0


#: an OCC process that writes the keys of the CONFIGURE it receives, in order, as sent (a process's own code sees
#: them as a map, where a key sent twice shows once)
RECORDING = """
import json, sys
from pathlib import Path
from ecs_engine.occ.process import ControlledProcess, _OccService
from ecs_engine.occ.serving import serve_control
from ecs_engine.protocols import occ_pb2_grpc

class Recording(_OccService):
    async def Transition(self, request, context):
        if request.transitionEvent == "CONFIGURE":
            Path(sys.argv[1]).write_text(json.dumps([entry.key for entry in request.arguments]))
        return await super().Transition(request, context)

class Recorded(ControlledProcess):
    async def serve(self):
        register = lambda server: occ_pb2_grpc.add_OccServicer_to_server(Recording(self), server)
        return await serve_control(self, register, "recorded")

sys.exit(Recorded.main(sys.argv[2:]))
"""


@pytest.mark.parametrize("given", [[], [("environment_id", "envtest"), ("detector", "TST")]])
async def test_configure_sends_the_environment_id_once(executor, tmp_path, given):
    script, keys = tmp_path / "recorded.py", tmp_path / "keys.json"
    script.write_text(RECORDING)
    (task,) = (await executor.deploy([request("demo.recorded", [PY, str(script), str(keys)])])).tasks
    assert await executor.transition([task], "CONFIGURE", given) == {}
    sent = json.loads(keys.read_text())
    assert sent.count("environment_id") == 1 and all(key in sent for key, _ in given)
    await executor.kill([task])


async def test_hook_task_result_carries_exit_code_and_output(executor):
    hook = request("demo.hook", ["echo out; echo err >&2; exit 3"], mode="hook", shell=True, stdout="none")
    (task,) = (await executor.deploy([hook])).tasks
    assert task.process is None  # hooks are deployed idle
    result = await executor.trigger_hook(task, timeout=10)
    assert (result.exit_code, result.stdout, result.stderr, result.final_status) == (3, "out\n", "err\n", "FAILED")
    again = await executor.trigger_hook(task, timeout=10)
    assert again.stdout == "out\n"  # each run's output, not the sum


async def test_hook_task_timeout_and_cancellation_kill_the_process(executor):
    (task,) = (await executor.deploy([request("demo.slow", ["sleep", "30"], mode="hook")])).tasks
    result = await executor.trigger_hook(task, timeout=0.3)
    assert result.final_status == "KILLED" and not result.voluntary
    assert "timed out after 0.3s" in result.error
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(executor.trigger_hook(task, timeout=0), 0.3)
    process = task.process
    await eventually_async(lambda: not process.alive(), what="hook process killed after cancellation")


async def test_basic_task_runs_from_start_to_stop(executor, recorder):
    (task,) = (await executor.deploy([request("demo.monitor", ["sleep", "30"], mode="basic")])).tasks
    assert task.process is None and task.state == "STANDBY"
    assert await executor.transition([task], "CONFIGURE") == {}
    assert await executor.transition([task], "START") == {}
    process = task.process
    assert task.state == "RUNNING" and process.alive()
    assert await executor.transition([task], "STOP") == {}
    assert task.state == "CONFIGURED" and not process.alive()
    await eventually_async(lambda: recorder.ended, what="end reported")
    assert recorder.ended[-1][0] == task.id and recorder.ended[-1][2] is True  # expected: we stopped it


async def test_a_basic_task_ending_by_itself_is_reported_as_unexpected(executor, recorder):
    (task,) = (await executor.deploy([request("demo.once", ["echo done"], mode="basic", shell=True)])).tasks
    await executor.transition([task], "START")
    await eventually_async(lambda: recorder.ended, what="end reported")
    task_id, result, expected = recorder.ended[-1]
    assert (task_id, expected, result.exit_code, result.stdout) == (task.id, False, 0, "done\n")


async def test_a_process_killed_behind_our_back_goes_to_error(executor, recorder):
    (task,) = (await executor.deploy([request("demo.dummy", [PY, str(DUMMY)])])).tasks
    await executor.transition([task], "CONFIGURE")
    os.kill(task.pid, signal.SIGKILL)
    await eventually_async(lambda: (task.id, "ERROR", "INACTIVE") in recorder.changes, what="ERROR reported")
    task_id, result, expected = recorder.ended[-1]
    assert (task_id, expected, result.exit_code) == (task.id, False, -signal.SIGKILL)


async def test_device_events_and_state_changes_come_from_the_streams(executor, recorder):
    requests = dataflow(max_messages=5)
    requests.append(request("demo.faulty", [PY, str(DUMMY), "--internal-error-after", "0.2"]))
    tasks = (await executor.deploy(requests)).tasks
    producer = next(t for t in tasks if t.request.role_path.endswith("producer"))
    faulty = next(t for t in tasks if t.request.role_path.endswith("faulty"))
    await executor.transition(tasks, "CONFIGURE")
    await executor.transition(tasks, "START", [("runNumber", "3")])
    await eventually_async(lambda: (producer.id, "END_OF_STREAM") in recorder.events, what="END_OF_STREAM")
    await eventually_async(lambda: (faulty.id, "TASK_INTERNAL_ERROR") in recorder.events, what="TASK_INTERNAL_ERROR")
    assert faulty.state == "ERROR"  # asked (GetState) on its TASK_INTERNAL_ERROR, before the event is passed on
    assert (faulty.id, "ERROR", "ACTIVE") in recorder.changes


async def test_with_a_state_stream_a_change_the_process_makes_on_its_own_is_seen(resources, recorder):
    executor = Executor(resources, timeouts=Timeouts(startup=15.0), listener=recorder, state_stream=True)
    try:
        (task,) = (await executor.deploy([request("demo.pausing", [PY, str(DUMMY), "--pause-after", "0.1"])])).tasks
        await executor.transition([task], "CONFIGURE")
        await executor.transition([task], "START", [("runNumber", "1")])
        await eventually_async(lambda: task.state == "PAUSED", what="PAUSED told by the StateStream")
        assert (task.id, "PAUSED", "ACTIVE") in recorder.changes and not recorder.events
    finally:
        await executor.shutdown()


async def test_fairmq_device_is_driven_through_the_fairmq_sequences(executor):
    device = request(
        "demo.device",
        [PY, str(DEVICE)],
        mode="fairmq",
        bind=(ChannelSpec("data", type="push"),),
    )
    (task,) = (await executor.deploy([device])).tasks
    argv = task.command.argv()
    assert argv[2:] == ["--id", task.id, "-P", "OCClite", "--color", "false", "--control-port", str(task.control_port)]
    assert task.transport == "fmq" and task.state == "STANDBY"
    assert await executor.transition([task], "CONFIGURE", [("detector", "TST")]) == {}
    assert task.state == "CONFIGURED"
    log = output(task)
    assert '"detector": "TST"' in log and '"method": "bind"' in log
    assert await executor.transition([task], "START", [("runNumber", "5")]) == {}
    assert task.state == "RUNNING"
    assert await executor.transition([task], "STOP") == {}
    assert await executor.transition([task], "RESET") == {}
    assert task.state == "STANDBY"
    process = task.process
    await executor.kill([task])
    assert await process.wait() == 0  # END from IDLE: the device exited by itself


async def test_a_new_executor_reattaches_to_live_tasks_and_reports_lost_ones(tmp_path, resources, recorder):
    registry = TaskRegistry(tmp_path / "registry.sqlite")
    first = Executor(resources, registry=registry, listener=recorder)
    dump = tmp_path / "configured.json"
    with_properties = request("a.one", [PY, str(DUMMY), "--config-dump", str(dump)])
    with_properties.properties = lambda node, task_id: {"detector": "TST", "task": task_id}
    tasks = (await first.deploy([with_properties, request("a.two", [PY, str(DUMMY)])])).tasks
    await first.transition(tasks, "CONFIGURE")
    one, two = sorted(tasks, key=lambda t: t.request.role_path)
    two_pid = two.pid
    os.kill(two_pid, signal.SIGKILL)
    await eventually_async(lambda: not two.process.alive())
    records = {r["id"]: r for r in registry.records()}
    for driver in list(first._drivers.values()):  # the old core goes away without killing anything
        await driver.close()

    fresh = backends().open_resource_manager("local", LOCAL_SETTINGS, state_dir=tmp_path / "state")
    second = Executor(fresh, registry=registry, listener=recorder)
    back = await second.reattach(records[one.id])
    assert (back.id, back.pid, back.state, back.status) == (one.id, one.pid, "CONFIGURED", "ACTIVE")
    assert one.control_port not in [fresh.allocate_port(back.node, one.control_port) for _ in range(1)]
    with pytest.raises(HandledError, match=rf"a\.two \({two.id}\) on \S+ is lost: its process {two_pid} is gone"):
        await second.reattach(records[two.id])
    assert await second.transition([back], "START", [("runNumber", "9")]) == {}
    assert back.state == "RUNNING"
    dump.unlink()
    for event in ("STOP", "RESET", "CONFIGURE"):  # the class properties are pushed again, templates or not
        assert await second.transition([back], event) == {}
    assert json.loads(dump.read_text())["detector"] == "TST" and json.loads(dump.read_text())["task"] == one.id
    one_pid = back.pid
    await second.shutdown()
    assert not alive(one_pid)
    registry.close()


SLOW_START = """
import asyncio, sys
from ecs_engine.occ.process import ControlledProcess

class Slow(ControlledProcess):
    async def on_start(self, arguments):
        await asyncio.sleep(30)

sys.exit(Slow.main())
"""


async def test_a_transition_without_answer_names_the_time_limit_and_its_setting(resources, recorder):
    executor = Executor(resources, timeouts=Timeouts(transition=0.5), listener=recorder)
    (task,) = (await executor.deploy([request("demo.slow", [PY, "-c", SLOW_START])])).tasks
    assert await executor.transition([task], "CONFIGURE") == {}
    started = time.monotonic()
    errors = await executor.transition([task], "START")
    assert time.monotonic() - started < 3
    assert "START got no answer within 0.5 s (setting core.transition_timeout)" in errors[task.id]
    await executor.shutdown()
