"""OccClient against servers run in-process on loopback (real gRPC): shared streams, errors, hooks."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ecs_engine.errors import DeadlineError, UnreachableError, UsageError
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient, probe_mode
from ecs_engine.occ.device import FairMQDevice
from ecs_engine.occ.errors import WrongModeError
from ecs_engine.occ.options import ControlOptions
from ecs_engine.occ.process import ControlledProcess


class Recorder(ControlledProcess):
    """Remembers what its hooks received; CONFIGURE with slow=SECONDS takes that long."""

    def __init__(self, options):
        super().__init__(options)
        self.calls: list[tuple[str, dict]] = []

    async def on_configure(self, arguments):
        self.calls.append(("configure", arguments))
        await asyncio.sleep(float(arguments.get("slow", 0)))

    def on_start(self, arguments):
        self.calls.append(("start", arguments))

    def on_pause(self, arguments):
        self.calls.append(("pause", arguments))

    def on_resume(self, arguments):
        self.calls.append(("resume", arguments))


@contextlib.asynccontextmanager
async def serving(cls):
    server = cls(ControlOptions(port=launch.free_port()))
    task = asyncio.create_task(server.serve())
    async with OccClient(f"127.0.0.1:{server.options.port}", "fmq" if cls is FairMQDevice else "direct") as client:
        await client.wait_reachable(10)
        try:
            yield server, client
        finally:
            server.stop()
            await asyncio.wait_for(task, 10)


async def test_hooks_receive_the_pushed_arguments_and_run_number():
    async with serving(Recorder) as (process, client):
        await client.transition("STANDBY", "CONFIGURE", [("a", "1"), ("a", "2"), ("chans.x.0.address", "tcp://h:1")])
        await client.transition("CONFIGURED", "START", {"runNumber": "99"})
        assert process.calls == [
            ("configure", {"a": "2", "chans.x.0.address": "tcp://h:1"}),
            ("start", {"runNumber": "99"}),
        ]
        assert process.run_number == 99 and process.arguments["a"] == "2"


async def test_each_process_gets_the_arguments_of_its_own_transition_when_others_send_the_same_event():
    async with serving(Recorder) as (first, one), serving(Recorder) as (second, two):
        for client in (one, two):
            await client.transition("STANDBY", "CONFIGURE", [])
        await asyncio.gather(
            one.transition("CONFIGURED", "START", {"runNumber": "7", "x": "a"}),
            two.transition("CONFIGURED", "START", [("runNumber", "8")]),
        )
        await one.transition("RUNNING", "STOP", [])
        await one.transition("CONFIGURED", "START", {"runNumber": "8"})
        assert [c for c in first.calls if c[0] == "start"] == [
            ("start", {"runNumber": "7", "x": "a"}),
            ("start", {"runNumber": "8"}),
        ]
        assert [c for c in second.calls if c[0] == "start"] == [("start", {"runNumber": "8"})]


async def test_one_server_subscription_per_stream_however_many_local_readers():
    async with serving(Recorder) as (process, client):
        readers = [client.state_stream(), client.state_stream(), client.event_stream()]
        assert await client.streams_ready()
        assert len(process._state_queues) == 1 and len(process._event_queues) == 1
        await client.transition("STANDBY", "CONFIGURE")
        first, second = readers[0], readers[1]
        assert (await anext(first)).state == (await anext(second)).state == "CONFIGURED"
        process.end_of_stream()
        assert await anext(readers[2]) == "END_OF_STREAM"
        assert len(process._state_queues) == 1  # reading did not re-subscribe


async def test_callback_readers_share_the_stream_and_a_failing_one_stops_nothing(caplog):
    async with serving(Recorder) as (process, client):
        seen: list[str] = []

        def broken(update):
            raise RuntimeError("reader bug")

        client.on_state(broken)
        client.on_state(lambda update: seen.append(update.state))
        queued = client.state_stream()
        assert await client.streams_ready()
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
        assert [(await anext(queued)).state for _ in range(2)] == ["CONFIGURED", "RUNNING"]
        assert seen == ["CONFIGURED", "RUNNING"] and len(process._state_queues) == 1
        assert f"a reader of the StateStream of {client.address} failed" in caplog.text


async def test_pause_and_resume_are_process_initiated_and_streamed():
    async with serving(Recorder) as (process, client):
        changes = client.state_stream()
        assert await client.streams_ready()
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
        assert await process.pause() == "PAUSED"
        assert (await client.get_state()).state == "PAUSED"
        assert await process.resume() == "RUNNING"
        assert [(await anext(changes)).state for _ in range(4)] == ["CONFIGURED", "RUNNING", "PAUSED", "RUNNING"]
        assert [name for name, _ in process.calls] == ["configure", "start", "pause", "resume"]


async def test_errors_name_the_address_and_what_to_do():
    port = launch.free_port()
    with pytest.raises(UnreachableError, match=f"127.0.0.1:{port}") as unreachable:
        async with OccClient(f"127.0.0.1:{port}", timeout=2) as client:
            await client.get_state()
    assert "control port" in unreachable.value.render()

    async with serving(Recorder) as (_, client):
        async with OccClient(client.address, "fmq") as wrong:
            with pytest.raises(WrongModeError) as wrong_mode:
                await wrong.get_state()
        assert (
            wrong_mode.value.suggested_mode == "direct"
            and "it may speak OCC protobuf (direct)" in wrong_mode.value.render()
        )
        assert await probe_mode(client.address) == "direct"
        with pytest.raises(UsageError, match="no StateStream"):
            OccClient(client.address, "fmq").state_stream()
        with pytest.raises(DeadlineError, match=r"within 0\.2 s") as late:
            await client.transition("STANDBY", "CONFIGURE", {"slow": "1"}, timeout=0.2)
        assert "-timeout" in late.value.render()


@contextlib.asynccontextmanager
async def relay(target: str, delay: float):
    """A TCP relay to ``target`` that connects only ``delay`` seconds after each accept: a peer whose handshake
    comes late (a starved process, a distant host). Yields its address."""

    async def pipe(reader, writer):
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader, writer):
        await asyncio.sleep(delay)
        host, port = target.rsplit(":", 1)
        their_reader, their_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, their_writer), pipe(their_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_a_process_whose_handshake_comes_late_is_not_taken_for_absent():
    """The connection attempt was given 100 ms (gRPC's min_reconnect_backoff): 'nothing answers' for a live one."""
    async with (
        serving(Recorder) as (_, direct),
        relay(direct.address, 0.5) as late,
        OccClient(late, timeout=10) as client,
    ):
        assert (await client.get_state()).state == "STANDBY"


async def test_wait_reachable_gives_up_with_the_time_limit_in_the_message():
    async with OccClient(f"127.0.0.1:{launch.free_port()}") as client:
        with pytest.raises(DeadlineError, match=r"within 0\.3 s"):
            await client.wait_reachable(0.3)


async def test_probe_finds_a_fairmq_device():
    async with serving(FairMQDevice) as (_, client):
        assert await probe_mode(client.address) == "fmq"
        with pytest.raises(WrongModeError, match="OCC protobuf"):
            async with OccClient(client.address, "direct") as wrong:
                await wrong.get_state()
