"""A Python OCC process (examples/tasks/occ_dummy_process.py) answers like a real OCClib process.

The scenarios follow the transcript in occ-peer-behaviour.md §6, against a real child process over gRPC on
loopback, driven by our OccClient.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest

from ecs_engine.errors import DeadlineError, ExitStatus, RefusedError, UnreachableError
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient
from ecs_engine.protocols import occ_pb2, occ_pb2_grpc
from tests.waiting import eventually_async

DUMMY = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "occ_dummy_process.py"
pytestmark = pytest.mark.slow


async def collect(iterator, into: list, until: str | None = None) -> None:
    async for item in iterator:
        into.append(item)
        if until is not None and getattr(item, "state", item) == until:
            return


async def test_main_path_and_illegal_requests_like_occlib(tmp_path):
    dump = tmp_path / "config.json"
    command = [sys.executable, str(DUMMY), "--config-dump", str(dump)]
    async with launch.running(command, log_path=tmp_path / "out.log") as child, OccClient(child.address) as client:
        changes: list = []
        watcher = asyncio.create_task(collect(client.state_stream(), changes))
        assert await client.streams_ready()
        info = await client.get_state()
        assert info.state == "STANDBY" and info.pid == child.process.pid

        illegal = await client.transition("STANDBY", "START")
        assert (illegal.state, illegal.ok, illegal.trigger, illegal.event) == (
            "STANDBY",
            False,
            "DEVICE_INTENTIONAL",
            "START",
        )
        for source in ("CONFIGURED", ""):
            with pytest.raises(RefusedError, match=f"state mismatch: source: {source} current: STANDBY"):
                await client.transition(source, "CONFIGURE")
        for event in ("PAUSE", "configure"):
            with pytest.raises(RefusedError, match="unknown transition event"):
                await client.transition("STANDBY", event)

        arguments = [
            ("key1", "value1"),
            ("chans.readout.0.address", "tcp://127.0.0.1:5555"),
            ("__ptree__:json:payload", '{"a":{"b":"1","c":["x","y"]}}'),
        ]
        configured = await client.transition("STANDBY", "CONFIGURE", arguments)
        assert configured.reached("CONFIGURED")
        assert json.loads(dump.read_text()) == {
            "key1": "value1",
            "chans": {"readout": {"0": {"address": "tcp://127.0.0.1:5555"}}},
            "payload": {"a": {"b": "1", "c": ["x", "y"]}},
        }
        assert (await client.transition("CONFIGURED", "START", {"runNumber": "123456"})).reached("RUNNING")
        assert (await client.get_state()).state == "RUNNING"
        assert (await client.transition("RUNNING", "STOP")).reached("CONFIGURED")
        assert (await client.transition("CONFIGURED", "RESET")).reached("STANDBY")

        go_error = await client.transition("STANDBY", "GO_ERROR")
        assert (go_error.state, go_error.ok, go_error.trigger) == ("STANDBY", False, "DEVICE_INTENTIONAL")
        recover = await client.transition("STANDBY", "RECOVER")  # invalid here, yet ok: compare states
        assert (recover.state, recover.ok) == ("STANDBY", True)

        assert (await client.transition("STANDBY", "EXIT")).reached("DONE")
        await asyncio.wait_for(watcher, 5)  # the stream ends after DONE
        assert [(u.type, u.state) for u in changes] == [
            ("STATE_STABLE", "CONFIGURED"),
            ("STATE_STABLE", "RUNNING"),
            ("STATE_STABLE", "CONFIGURED"),
            ("STATE_STABLE", "STANDBY"),
            ("STATE_STABLE", "DONE"),
        ]
        assert await child.wait_exit(5) == 0
        with pytest.raises(UnreachableError):
            await client.get_state()
    output = child.output()
    assert "processing event start in state CONFIGURED with run number 123456" in output
    assert "invalid event START received in state STANDBY" in output


async def test_exit_only_from_standby_configured_and_error(tmp_path):
    async with launch.running([sys.executable, str(DUMMY)]) as child, OccClient(child.address) as client:
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")  # no runNumber: run number 0
        refused = await client.transition("RUNNING", "EXIT")
        assert (refused.state, refused.ok, refused.trigger) == ("RUNNING", False, "DEVICE_INTENTIONAL")
        configure_again = await client.transition("RUNNING", "CONFIGURE")
        assert configure_again.state == "RUNNING" and not configure_again.ok
        assert (await client.transition("RUNNING", "STOP")).reached("CONFIGURED")
        assert (await client.transition("CONFIGURED", "EXIT")).reached("DONE")
        assert await child.wait_exit(5) == 0


async def test_a_failing_hook_sends_the_process_to_error_and_recover_leaves_it(tmp_path):
    command = [sys.executable, str(DUMMY), "--fail-on", "START"]
    async with launch.running(command) as child, OccClient(child.address) as client:
        events: list = []
        event_watcher = asyncio.create_task(collect(client.event_stream(), events))
        assert await client.streams_ready()
        await client.transition("STANDBY", "CONFIGURE")
        failed = await client.transition("CONFIGURED", "START", {"runNumber": "42"})
        assert (failed.state, failed.ok, failed.trigger) == ("ERROR", False, "DEVICE_ERROR")
        go_error = await client.transition("ERROR", "GO_ERROR")
        assert (go_error.state, go_error.ok, go_error.trigger) == ("ERROR", True, "DEVICE_ERROR")
        reset = await client.transition("ERROR", "RESET")
        assert (reset.state, reset.ok, reset.trigger) == ("ERROR", False, "DEVICE_ERROR")
        assert (await client.transition("ERROR", "RECOVER")).reached("STANDBY")
        assert events == []  # a failed transition is not a device event
        await client.transition("STANDBY", "EXIT")
        await asyncio.wait_for(event_watcher, 5)


async def test_a_transition_its_controller_stopped_waiting_for_still_completes(tmp_path):
    """As with OCClib, a controller's time limit does not cut the process's hook off half-way (which left it
    half configured, still reporting STANDBY, and said nothing in its log)."""
    command = [sys.executable, str(DUMMY), "--hook-delay", "1"]
    async with launch.running(command, log_path=tmp_path / "out.log") as child, OccClient(child.address) as client:
        with pytest.raises(DeadlineError):
            await client.transition("STANDBY", "CONFIGURE", timeout=0.3)
        assert (await client.get_state()).state == "STANDBY"  # the hook still runs
        with pytest.raises(DeadlineError):  # a second one waits behind it, and is refused once it ran
            await client.transition("STANDBY", "CONFIGURE", timeout=0.3)
        await eventually_async(lambda: "END function executeConfigure" in child.output(), what="the hook's end")
        assert (await client.get_state()).state == "CONFIGURED"
        assert "the controller stopped waiting for CONFIGURE from STANDBY; it goes on" in child.output()
        refused = "CONFIGURE from STANDBY, its controller gone: transition not possible: state mismatch"
        await eventually_async(lambda: refused in child.output(), what="the refusal nobody waits for, logged")


MISTAKEN = """
import sys
from ecs_engine.occ.process import ControlledProcess

class Mistaken(ControlledProcess):
    def on_configure(self, arguments):
        if arguments.get("fail") == "return":
            return 1  # OCClib's way to fail
        self.address = arguments["chans.data.0.address"]

    def on_start(self, arguments):
        self.internal_error("no data source")

    async def on_reset(self, arguments):
        await self.pause()  # only running() may: this hook's own transition holds the way

sys.exit(Mistaken.main())
"""


async def test_a_hook_s_mistakes_send_it_to_error_and_its_log_says_what_and_where(tmp_path):
    """A returned value (OCClib's non-zero) was taken for success; a raised exception was logged without the
    line of the author's code it came from."""
    script = tmp_path / "mistaken.py"
    script.write_text(MISTAKEN)
    command = [sys.executable, str(script)]
    async with launch.running(command, log_path=tmp_path / "out.log") as child, OccClient(child.address) as client:
        returned = await client.transition("STANDBY", "CONFIGURE", {"fail": "return"})
        assert (returned.state, returned.trigger) == ("ERROR", "DEVICE_ERROR")
        assert "on_configure failed in STANDBY: returned 1: a hook returns nothing (None)" in child.output()
        assert (await client.transition("ERROR", "RECOVER")).reached("STANDBY")

        raised = await client.transition("STANDBY", "CONFIGURE")
        assert raised.state == "ERROR"
        line = MISTAKEN.splitlines().index('        self.address = arguments["chans.data.0.address"]') + 1
        assert f"on_configure failed in STANDBY: KeyError: 'chans.data.0.address' (mistaken.py:{line})" in (
            child.output()
        )


async def test_internal_error_in_a_hook_ends_the_transition_in_error(tmp_path):
    """The hook's internal_error sent ERROR and TASK_INTERNAL_ERROR, then the transition went on to RUNNING."""
    script = tmp_path / "mistaken.py"
    script.write_text(MISTAKEN)
    async with launch.running([sys.executable, str(script)]) as child, OccClient(child.address) as client:
        changes: list = []
        events: list = []
        watchers = [
            asyncio.create_task(collect(client.state_stream(), changes)),
            asyncio.create_task(collect(client.event_stream(), events)),
        ]
        assert await client.streams_ready()
        assert (await client.transition("STANDBY", "CONFIGURE", {"chans.data.0.address": "x"})).ok
        started = await client.transition("CONFIGURED", "START")
        assert (started.state, started.ok, started.trigger) == ("ERROR", False, "DEVICE_ERROR")
        assert (await client.get_state()).state == "ERROR"
        await eventually_async(lambda: events == ["TASK_INTERNAL_ERROR"] and len(changes) >= 2)
        assert [change.state for change in changes] == ["CONFIGURED", "ERROR"]
        for watcher in watchers:
            watcher.cancel()


async def test_pause_in_a_hook_fails_the_hook_instead_of_hanging_the_process(tmp_path):
    script = tmp_path / "mistaken.py"
    script.write_text(MISTAKEN)
    command = [sys.executable, str(script)]
    async with launch.running(command, log_path=tmp_path / "out.log") as child, OccClient(child.address) as client:
        await client.transition("STANDBY", "CONFIGURE", {"chans.data.0.address": "x"})
        reset = await client.transition("CONFIGURED", "RESET", timeout=10)  # it hung: no answer, ever
        assert (reset.state, reset.trigger) == ("ERROR", "DEVICE_ERROR")
        assert "on_reset failed in CONFIGURED: RuntimeError: pause() in a hook waits for the hook's own" in (
            child.output()
        )
        assert (await client.transition("ERROR", "EXIT", timeout=10)).reached("DONE")


def test_a_plain_running_method_is_refused_when_the_class_is_defined():
    from ecs_engine.occ.process import ControlledProcess

    with pytest.raises(TypeError, match=r"Reader.running must be an async method: async def running\(self\)"):

        class Reader(ControlledProcess):
            def running(self):  # blocked the process, or failed at START with a TypeError about awaiting None
                pass


async def test_device_events_end_of_stream_and_internal_error():
    eos = [sys.executable, str(DUMMY), "--end-of-data-after", "0.1"]
    async with launch.running(eos) as child, OccClient(child.address) as client:
        events: list = []
        watcher = asyncio.create_task(collect(client.event_stream(), events))
        assert await client.streams_ready()
        await client.transition("STANDBY", "CONFIGURE")
        for run in (1, 2):
            await client.transition("CONFIGURED", "START", {"runNumber": str(run)})
            await eventually_async(lambda run=run: len(events) == run)
            assert (await client.get_state()).state == "RUNNING"  # end of data does not change the state
            await client.transition("RUNNING", "STOP")
        assert events == ["END_OF_STREAM", "END_OF_STREAM"]  # once per run (OCClib: once per process life)
        watcher.cancel()

    failing = [sys.executable, str(DUMMY), "--internal-error-after", "0.1"]
    async with launch.running(failing) as child, OccClient(child.address) as client:
        order: list = []
        watchers = [
            asyncio.create_task(collect(client.state_stream(), order)),
            asyncio.create_task(collect(client.event_stream(), order)),
        ]
        assert await client.streams_ready()
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
        await eventually_async(lambda: "TASK_INTERNAL_ERROR" in order)
        assert [getattr(x, "state", x) for x in order] == ["CONFIGURED", "RUNNING", "ERROR", "TASK_INTERNAL_ERROR"]
        with pytest.raises(RefusedError, match="source: RUNNING current: ERROR"):
            await client.transition("RUNNING", "STOP")
        assert (await client.transition("ERROR", "RECOVER")).reached("STANDBY")
        for watcher in watchers:
            watcher.cancel()


async def test_every_subscriber_is_served_and_exit_is_not_blocked_by_them():
    """Unlike OCClib (one subscriber per stream, orphans block EXIT), two independent clients both hear."""
    async with launch.running([sys.executable, str(DUMMY)]) as child:
        first, second = OccClient(child.address), OccClient(child.address)
        heard_first: list = []
        heard_second: list = []
        tasks = [
            asyncio.create_task(collect(first.state_stream(), heard_first)),
            asyncio.create_task(collect(second.state_stream(), heard_second)),
            asyncio.create_task(collect(second.event_stream(), [])),  # never read to the end by anyone else
        ]
        assert await first.streams_ready() and await second.streams_ready()
        await first.transition("STANDBY", "CONFIGURE")
        await first.transition("CONFIGURED", "EXIT")
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert [u.state for u in heard_first] == [u.state for u in heard_second] == ["CONFIGURED", "DONE"]
        assert await child.wait_exit(5) == 0
        await first.close()
        await second.close()


async def test_a_misspelt_flag_is_not_ignored_unseen(tmp_path):
    """Arguments the process declares nowhere are kept for others to read, but the log names them."""
    command = [sys.executable, str(DUMMY), "--fail-onn", "START"]
    async with launch.running(command, log_path=tmp_path / "out.log") as child:
        assert "ignored --fail-onn START: occ_dummy_process.py declares no such flags" in child.output()
    device = [sys.executable, str(DUMMY.with_name("fairmq_example_device.py")), "--id", "d", "-P", "OCClite"]
    core_flags = ["-S", "/opt/plugins", "--color", "false"]  # what a core gives every FairMQ device
    async with launch.running([*device, *core_flags], log_path=tmp_path / "device.log") as child:
        assert "ignored" not in child.output()


async def test_sigterm_ends_the_process_cleanly_and_its_log_says_so(tmp_path):
    async with launch.running([sys.executable, str(DUMMY)], log_path=tmp_path / "out.log") as child:
        child.process.terminate()
        assert await child.wait_exit(5) == 128 + 15
        assert "SIGTERM in state STANDBY: stopping" in child.output()


async def test_control_port_from_environment_and_a_clear_error_when_it_is_taken(tmp_path):
    port = launch.free_port()
    env = {**os.environ, "OCC_CONTROL_PORT": str(port)}
    # no --control-port: the environment decides
    proc = await asyncio.create_subprocess_exec(sys.executable, str(DUMMY), env=env, stderr=asyncio.subprocess.PIPE)
    try:
        async with OccClient(f"127.0.0.1:{port}") as client:
            assert (await client.wait_reachable(10)).pid == proc.pid
        clash = await asyncio.create_subprocess_exec(
            sys.executable, str(DUMMY), "--control-port", str(port), stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(clash.communicate(), 10)
        assert clash.returncode == ExitStatus.FAILED
        # one error naming the cause (it said "in use or not local", after a log line of gRPC's own)
        message, hint = err.decode().splitlines()
        assert (
            message
            == f"occ_dummy_process.py: error: cannot listen on 127.0.0.1:{port}: the port is in use by another process"
        )
        assert hint.strip().startswith("hint: give another port (--control-port")
    finally:
        proc.terminate()
        await proc.wait()


async def test_raw_grpc_client_sees_the_wire_contract():
    """A plain generated stub (what any AliECS client uses) gets the documented status codes."""
    async with launch.running([sys.executable, str(DUMMY)]) as child:
        async with grpc.aio.insecure_channel(child.address) as channel:
            stub = occ_pb2_grpc.OccStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as mismatch:
                await stub.Transition(occ_pb2.TransitionRequest(srcState="RUNNING", transitionEvent="STOP"))
            assert mismatch.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.Transition(occ_pb2.TransitionRequest(srcState="STANDBY", transitionEvent="RESUME"))
            assert unknown.value.code() == grpc.StatusCode.UNKNOWN
            reply = await stub.Transition(occ_pb2.TransitionRequest(srcState="STANDBY", transitionEvent="EXIT"))
            assert (reply.state, reply.ok, reply.trigger, reply.transitionEvent) == ("DONE", True, 0, "EXIT")
        assert await child.wait_exit(5) == 0
