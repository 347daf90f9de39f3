"""The walk down to DONE (occ/shutdown.py) from a state the caller believes the process is in."""

from __future__ import annotations

import pytest

from ecs_engine.occ import launch, shutdown
from ecs_engine.occ.client import OccClient
from ecs_engine.occ.multipeer import running_hub

from .test_multipeer import ended, start_task

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("believed", ["CONFIGURED", "RUNNING"], ids=["right", "wrong"])
async def test_the_walk_starts_from_the_believed_state_and_asks_when_refused(tmp_path, believed):
    with running_hub(tmp_path / "hub.fifo") as fifo:
        port = launch.free_port()
        task = start_task(fifo, port)
        try:
            async with OccClient(f"127.0.0.1:{port}") as client:
                await client.wait_reachable(10)
                assert (await client.transition("STANDBY", "CONFIGURE")).reached("CONFIGURED")
                seen: list[str] = []
                assert await shutdown.walk_to_done(client, on_state=seen.append, state=believed)
                assert seen == ["DONE"]  # CONFIGURED -> EXIT, also after RUNNING's STOP was refused
            await ended(task)
        finally:
            task.kill()
            task.wait()
