"""The FairMQ-like example device speaks OCClite exactly as protocols.md §5 describes, over real gRPC."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest

from ecs_engine.errors import RefusedError
from ecs_engine.occ import fairmq, launch
from ecs_engine.occ.client import OccClient

DEVICE = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "fairmq_example_device.py"
pytestmark = pytest.mark.slow


def device(*flags: str) -> list[str]:
    return [sys.executable, str(DEVICE), "--id", "dev-1", "-S", "/nowhere", "-P", "OCClite", "--color", "false", *flags]


async def raw_call(address: str, method: str, payload: bytes) -> bytes:
    """A call with a bare method name and raw JSON bytes, as the Go executor makes it."""
    async with grpc.aio.insecure_channel(address) as channel:
        return await channel.unary_unary(method)(payload, timeout=5)


async def drive(client: OccClient, steps, arguments=None) -> list[str]:
    reached = []
    for source, event in steps:
        result = await client.transition(source, event, arguments if event == "INIT DEVICE" else None)
        assert result.ok and result.trigger == "EXECUTOR" and result.event == event, result
        reached.append(result.state)
    return reached


CONFIGURE = [
    ("IDLE", "INIT DEVICE"),
    ("INITIALIZING DEVICE", "COMPLETE INIT"),
    ("INITIALIZED", "BIND"),
    ("BOUND", "CONNECT"),
    ("DEVICE READY", "INIT TASK"),
]


async def test_full_fairmq_cycle_and_the_end_of_the_event_stream(tmp_path):
    arguments = {
        "chans.data.numSockets": "1",
        "chans.data.0.address": "tcp://127.0.0.1:5555",
        "chans.data.0.sndBufSize": "1000",
        "chans.data.0.autoBind": "0",
        "__ptree__:json:extra": '{"k": [1]}',
        "plain": "text",
    }
    async with (
        launch.running(device(), log_path=tmp_path / "out.log") as child,
        OccClient(child.address, "fmq") as client,
    ):
        assert child.mode == "fmq"
        events = client.event_stream()
        assert await client.streams_ready()
        assert (await client.get_state()).state == "IDLE"
        assert await drive(client, CONFIGURE, arguments) == [
            "INITIALIZING DEVICE",
            "INITIALIZED",
            "BOUND",  # BIND blocks through BINDING
            "DEVICE READY",
            "READY",
        ]
        assert await drive(client, [("READY", "RUN"), ("RUNNING", "STOP")]) == ["RUNNING", "READY"]
        assert await drive(client, [("READY", "RESET TASK"), ("DEVICE READY", "RESET DEVICE")]) == [
            "DEVICE READY",
            "IDLE",
        ]
        assert await drive(client, [("IDLE", "END")]) == ["EXITING"]
        assert [e async for e in events] == ["NULL_DEVICE_EVENT"]  # one null event, then the stream ends
        assert await child.wait_exit(5) == 0
    output = child.output()
    properties = json.loads(output.split("properties: ", 1)[1].splitlines()[0])
    assert properties["chans.data.0.sndBufSize"] == 1000 and properties["chans.data.0.autoBind"] is False
    assert properties["extra"] == {"k": ["1"]} and properties["plain"] == "text"
    assert "dev-1: run ended after" in output


async def test_refusals_are_cancelled_without_a_message():
    async with launch.running(device()) as child, OccClient(child.address, "fmq") as client:
        for source, event in [("READY", "RUN"), ("IDLE", "RUN"), ("IDLE", "FLY"), ("IDLE", "init device")]:
            with pytest.raises(RefusedError, match="refused by the FairMQ device"):
                await client.transition(source, event)
        for payload in (b"", b"[]", b"nonsense"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await raw_call(child.address, "Transition", payload)
            assert refused.value.code() == grpc.StatusCode.CANCELLED and not refused.value.details()
        assert (await client.get_state()).state == "IDLE"


async def test_the_wire_json_is_exactly_the_plugins():
    async with launch.running(device()) as child:
        state = json.loads(await raw_call(child.address, "GetState", b"{}"))
        assert state == {"state": "IDLE", "pid": child.process.pid}
        request = {"srcState": "IDLE", "transitionEvent": "INIT DEVICE", "arguments": [{"key": "a"}, {"value": "b"}]}
        reply = json.loads(await raw_call(child.address, "Transition", json.dumps(request).encode()))
        assert reply == {"trigger": 0, "state": "INITIALIZING DEVICE", "transitionEvent": "INIT DEVICE", "ok": True}
        for wrong in ("/GetState", "/occ_pb.Occ/GetState"):  # only the bare names are served
            with pytest.raises(grpc.aio.AioRpcError) as unimplemented:
                await raw_call(child.address, wrong, b"{}")
            assert unimplemented.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_failing_hook_means_error_with_device_error_trigger_and_recovery():
    async with launch.running(device("--fail-in", "bind")) as child, OccClient(child.address, "fmq") as client:
        events = client.event_stream()
        assert await client.streams_ready()
        await drive(client, CONFIGURE[:2], {})
        failed = await client.transition("INITIALIZED", "BIND")
        assert (failed.state, failed.ok, failed.trigger) == ("ERROR", False, "DEVICE_ERROR")
        assert [e async for e in events] == ["NULL_DEVICE_EVENT"]
        recovered = await client.transition("ERROR", "RESET DEVICE")  # our extension of FairMQ
        assert recovered.state == fairmq.IDLE


async def test_a_run_that_ends_by_itself_goes_back_to_ready():
    async with launch.running(device("--run-for", "0.1")) as child, OccClient(child.address, "fmq") as client:
        await drive(client, CONFIGURE, {})
        await drive(client, [("READY", "RUN")])
        deadline = asyncio.get_running_loop().time() + 5
        while (await client.get_state()).state != "READY":
            assert asyncio.get_running_loop().time() < deadline, "the device stayed RUNNING"
            await asyncio.sleep(0.02)


async def test_control_port_environment_wins_for_devices(tmp_path):
    env_port, flag_port = launch.free_port(), launch.free_port()
    env = {**os.environ, "OCC_CONTROL_PORT": str(env_port)}
    proc = await asyncio.create_subprocess_exec(*device("--control-port", str(flag_port)), env=env)
    try:
        async with OccClient(f"127.0.0.1:{env_port}", "fmq") as client:
            assert (await client.wait_reachable(10)).pid == proc.pid
    finally:
        proc.terminate()
        await proc.wait()
