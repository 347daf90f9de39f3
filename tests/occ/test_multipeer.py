"""The fast OCC peer (occ/multipeer.py): one hub process serves each task's control port as a full OCC endpoint."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import weakref

import pytest

from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient
from ecs_engine.occ.multipeer import Hub, running_hub, task_argv
from ecs_engine.occ.options import PORT_ENV

pytestmark = pytest.mark.slow


def start_task(fifo, port: int) -> subprocess.Popen:
    return subprocess.Popen(task_argv(fifo), env={**os.environ, PORT_ENV: str(port)}, start_new_session=True)


async def ended(process: subprocess.Popen, timeout: float = 10.0) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while process.poll() is None:
        assert asyncio.get_running_loop().time() < deadline, f"pid {process.pid} still runs after {timeout} s"
        await asyncio.sleep(0.02)
    return process.returncode


async def test_each_task_is_served_with_its_own_pid_and_exit_ends_it(tmp_path):
    with running_hub(tmp_path / "hub.fifo") as fifo:
        ports = [launch.free_port() for _ in range(2)]
        tasks = [start_task(fifo, port) for port in ports]
        clients = [OccClient(f"127.0.0.1:{port}") for port in ports]
        try:
            infos = [await client.wait_reachable(10) for client in clients]
            assert [(i.state, i.pid) for i in infos] == [("STANDBY", t.pid) for t in tasks]
            first = clients[0]
            for source, event, target in (
                ("STANDBY", "CONFIGURE", "CONFIGURED"),
                ("CONFIGURED", "START", "RUNNING"),
                ("RUNNING", "STOP", "CONFIGURED"),
                ("CONFIGURED", "EXIT", "DONE"),
            ):
                assert (await first.transition(source, event)).reached(target)
            assert await ended(tasks[0]) != 0  # ended by the hub, as a real process exits after DONE
            assert (await clients[1].get_state()).state == "STANDBY"  # the other endpoint is untouched
        finally:
            for client in clients:
                await client.close()
            for task in tasks:
                task.kill()
                task.wait()


async def test_a_task_that_ends_closes_its_endpoint(tmp_path):
    with running_hub(tmp_path / "hub.fifo") as fifo:
        port = launch.free_port()
        task = start_task(fifo, port)
        async with OccClient(f"127.0.0.1:{port}") as client:
            await client.wait_reachable(10)
        task.kill()
        task.wait()
        deadline = asyncio.get_running_loop().time() + 10
        while _listening(port):
            assert asyncio.get_running_loop().time() < deadline, f"port {port} still served after its task ended"
            await asyncio.sleep(0.02)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_several_hubs_share_the_tasks_by_control_port(tmp_path):
    with running_hub(tmp_path / "hub.fifo", hubs=2) as fifo:
        ports = _neighbours()  # one even, one odd: both hubs serve
        tasks = [subprocess.Popen(task_argv(fifo, 2), env={**os.environ, PORT_ENV: str(p)}) for p in ports]
        try:
            for port, task in zip(ports, tasks, strict=True):
                async with OccClient(f"127.0.0.1:{port}") as client:
                    assert (await client.wait_reachable(10)).pid == task.pid
        finally:
            for task in tasks:
                task.kill()
                task.wait()


def _neighbours() -> list[int]:
    """Two adjacent free ports (the kernel hands out only even ones for bind(0))."""
    while True:
        port = launch.free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return [port, port + 1]


async def test_an_ended_endpoint_is_freed_without_a_full_collection(tmp_path):
    """The hub runs full collections rarely (GC_THRESHOLDS): what an endpoint held, long-lived by then, must go
    when its task ends by reference counting and the young generations' collections (each call leaves a small
    cycle in gRPC that refers to the service), or a hub serving thousands of tasks would keep them."""
    hub = Hub(tmp_path / "hub.fifo")
    enabled = gc.isenabled()
    gc.disable()
    serving = asyncio.create_task(hub.serve())
    try:
        port = launch.free_port()
        while not hub.fifo.exists():
            await asyncio.sleep(0.01)
        task = start_task(hub.fifo, port)
        async with OccClient(f"127.0.0.1:{port}") as client:
            await client.wait_reachable(10)
            assert (await client.transition("STANDBY", "CONFIGURE")).reached("CONFIGURED")
            gc.collect()  # what the endpoint holds is now in the oldest generation, as in a hub that served a while
            assert (await client.transition("CONFIGURED", "START")).reached("RUNNING")
        endpoint = weakref.ref(hub.endpoints[port])
        task.kill()
        task.wait()
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            gc.collect(1)  # the young generations only
            if endpoint() is None:
                break
            assert asyncio.get_running_loop().time() < deadline, f"port {port}'s endpoint is kept after its task ended"
            await asyncio.sleep(0.02)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        if enabled:
            gc.enable()
