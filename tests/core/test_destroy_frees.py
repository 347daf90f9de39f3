"""A destroyed environment is freed at once, by reference counting (issue 19: the core's RSS flat over cycles).

A real core in this test's event loop (real gRPC on loopback, fast OCC peer tasks), with Python's automatic
collections off: only reference counting frees anything, so what a destroy leaves in reference cycles (freed
only by a full collection, which in the core came every 8-11 destroys of 100 tasks) stays visible.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import weakref

import grpc
import pytest

from ecs_engine.occ.multipeer import host_names
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc
from ecs_engine.server.auth import read_token, token_metadata

from .conftest import fast_peer_core

pytestmark = pytest.mark.slow

TASKS = 20


@pytest.fixture
def no_automatic_collection():
    """Python's collector off for the test; the core's start froze this process's objects: thawed after."""
    thresholds = gc.get_threshold()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.enable()


@pytest.fixture
async def core(tmp_path, no_automatic_collection):
    """A started core, a Control stub to it (with its token) and the fast peer's workflow repository."""
    async with (
        fast_peer_core(tmp_path, TASKS) as (served, settings, repo),
        grpc.aio.insecure_channel(settings.listen) as channel,
    ):
        yield served, Stub(channel, read_token(tmp_path / "state")), repo


class Stub:
    def __init__(self, channel: grpc.aio.Channel, token: str):
        self._stub = pb_grpc.ControlStub(channel)
        self._metadata = token_metadata(token)

    async def create(self, repo) -> str:
        request = pb.NewEnvironmentRequest(
            workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": json.dumps(host_names(TASKS))}
        )
        reply = await self._stub.NewEnvironment(request, metadata=self._metadata, timeout=120)
        assert reply.environment.numberOfTasks == TASKS
        return reply.environment.id

    async def destroy(self, environment_id: str) -> None:
        request = pb.DestroyEnvironmentRequest(id=environment_id)
        await self._stub.DestroyEnvironment(request, metadata=self._metadata, timeout=120)


async def gone(refs: list[weakref.ref], timeout: float = 10.0) -> list[str]:
    """Waits (on the loop: the core runs on it) until every referent is freed; the type names of those left.
    (The reply may come a loop turn before the destroy's own work has let go of the environment.)"""
    deadline = time.monotonic() + timeout
    while (left := [type(r()).__name__ for r in refs if r() is not None]) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return left


async def test_a_destroyed_environments_task_processes_are_freed_without_a_collection(core):
    served, stub, repo = core
    environment_id = await stub.create(repo)
    processes = [weakref.ref(t) for t in served.executor.tasks_of(environment_id)]
    assert len(processes) == TASKS
    await stub.destroy(environment_id)
    # the executor keeps the latest forgotten tasks for GetTask (a bounded number): once it lets go, they are freed
    kept = served.executor.forgotten
    assert all(ref() is None or kept.get(ref().id) is ref() for ref in processes)
    kept.clear()
    assert await gone(processes) == []


async def test_a_destroyed_environment_its_tasks_and_roles_are_freed_without_a_collection(core):
    served, stub, repo = core
    environment_id = await stub.create(repo)
    env = served.manager.environments[environment_id]
    left = [weakref.ref(env), *(weakref.ref(t) for t in env.tasks.values()), weakref.ref(env.root)]
    del env
    await stub.destroy(environment_id)
    assert await gone(left) == []
