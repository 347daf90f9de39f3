"""peanut state-stream / event-stream as a user runs them: a real peanut process, stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from ecs_engine.errors import ExitStatus
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient
from tests.peanut.processes import DEVICE, DUMMY

pytestmark = pytest.mark.slow


async def start_peanut(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peanut", *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 10)).decode()


async def test_state_stream_prints_each_change_and_stops_cleanly_on_ctrl_c():
    async with launch.running(DUMMY) as child, OccClient(child.address) as client:
        watcher = await start_peanut("-addr", child.address, "-mode", "direct", "state-stream")
        assert "streaming the StateStream of" in await line(watcher.stderr)
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
        assert await line(watcher.stdout) == "type=STATE_STABLE  state=CONFIGURED\n"
        assert await line(watcher.stdout) == "type=STATE_STABLE  state=RUNNING\n"
        watcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.OK
        assert b"Traceback" not in await watcher.stderr.read()


async def test_event_stream_in_json_ends_when_the_device_exits():
    async with launch.running(DEVICE) as child, OccClient(child.address, "fmq") as client:
        watcher = await start_peanut("-addr", child.address, "-o", "json", "event-stream")
        assert "streaming the EventStream of" in await line(watcher.stderr)
        await client.transition("IDLE", "END")
        assert await line(watcher.stdout) == '{"event": "NULL_DEVICE_EVENT"}\n'
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.OK  # the stream ended by itself
        assert await line(watcher.stderr) == "peanut: the process ended the EventStream\n"


async def test_a_null_device_event_is_explained_in_text():
    async with launch.running(DEVICE) as child, OccClient(child.address, "fmq") as client:
        watcher = await start_peanut("-addr", child.address, "event-stream")
        assert "streaming the EventStream of" in await line(watcher.stderr)
        await client.transition("IDLE", "END")
        assert await line(watcher.stdout) == (
            "event=NULL_DEVICE_EVENT  (OCClite: the device reached EXITING or ERROR; the stream ends)\n"
        )
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.OK


async def test_event_stream_on_a_device_in_error_says_what_it_waits_for():
    """OCClite sends its one event as a device reaches EXITING or ERROR: one in ERROR already sent nothing, and
    peanut waited without a word past 'streaming'."""
    async with launch.running([*DEVICE, "--fail-in", "bind"]) as child, OccClient(child.address, "fmq") as client:
        for state, event in (
            ("IDLE", "INIT DEVICE"),
            ("INITIALIZING DEVICE", "COMPLETE INIT"),
            ("INITIALIZED", "BIND"),
        ):
            await client.transition(state, event)
        assert (await client.get_state()).state == "ERROR"
        watcher = await start_peanut("-addr", child.address, "event-stream")
        assert "streaming the EventStream of" in await line(watcher.stderr)
        said = await line(watcher.stderr)
        assert said.startswith("peanut: the device is in ERROR already: OCClite sends its one event")
        assert "after END" in said and said.endswith("waiting for events (Ctrl-C to stop)\n")
        await client.transition("ERROR", "END")
        assert (await line(watcher.stdout)).startswith("event=NULL_DEVICE_EVENT")
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.OK


async def test_a_stream_whose_process_dies_says_it_went_away():
    async with launch.running(DUMMY) as child:
        watcher = await start_peanut("-addr", child.address, "-mode", "direct", "state-stream")
        assert "streaming the StateStream of" in await line(watcher.stderr)
        child.signal(signal.SIGKILL)
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.UNREACHABLE
        error = (await watcher.stderr.read()).decode()
        assert error == f"peanut: error: the StateStream of {child.address} broke off: the process went away\n"


async def test_event_stream_reports_device_events_of_an_occ_process():
    async with launch.running([*DUMMY, "--end-of-data-after", "0.05"]) as child, OccClient(child.address) as client:
        watcher = await start_peanut("-addr", child.address, "-mode", "direct", "event-stream")
        assert "streaming the EventStream of" in await line(watcher.stderr)
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
        assert await line(watcher.stdout) == "event=END_OF_STREAM\n"
        watcher.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(watcher.wait(), 10) == ExitStatus.OK


async def test_a_stream_from_nowhere_is_unreachable():
    watcher = await start_peanut("-addr", f"127.0.0.1:{launch.free_port()}", "-mode", "direct", "state-stream")
    assert await asyncio.wait_for(watcher.wait(), 20) == ExitStatus.UNREACHABLE
    error = (await watcher.stderr.read()).decode()
    assert "nothing answers" in error and "streaming" not in error  # no "streaming ..." before it fails


async def test_a_stream_whose_reader_goes_away_exits_141_and_says_nothing():
    """``peanut state-stream | head -1``: the second state, written to a pipe nobody reads, ends peanut as SIGPIPE
    ends a GNU tool (the shell shows 141), without a word."""
    async with launch.running(DUMMY) as child, OccClient(child.address) as client:
        read, write = os.pipe()
        head = await asyncio.create_subprocess_exec("head", "-1", stdin=read, stdout=asyncio.subprocess.PIPE)
        watcher = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "peanut", "-addr", child.address, "-mode", "direct", "state-stream"],
            stdout=write,
            stderr=asyncio.subprocess.PIPE,
        )
        os.close(read)
        os.close(write)
        assert "streaming the StateStream of" in await line(watcher.stderr)
        await client.transition("STANDBY", "CONFIGURE")
        assert await asyncio.wait_for(head.stdout.read(), 10) == b"type=STATE_STABLE  state=CONFIGURED\n"
        assert await asyncio.wait_for(head.wait(), 10) == 0
        await client.transition("CONFIGURED", "START")
        assert await asyncio.wait_for(watcher.wait(), 10) == 128 + signal.SIGPIPE
        assert await watcher.stderr.read() == b""
