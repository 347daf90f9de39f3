"""A core started in the test's own event loop, with the fast OCC peer's tasks (tests that look inside the core)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ecs_engine.occ.multipeer import host_names, running_hub, write_repo
from ecs_engine.server.core import Core
from ecs_engine.server.settings import CoreSettings

from ..e2e.conftest import free_port
from ..ports import own_port_range


@contextlib.asynccontextmanager
async def fast_peer_core(tmp_path: Path, tasks: int) -> AsyncIterator[tuple[Core, CoreSettings, Path]]:
    """A started core (real gRPC on loopback, ``tasks`` virtual hosts, this test's ports) and the fast peer's
    workflow repository, its hub running; the core is stopped after."""
    with running_hub(tmp_path / "hub.fifo") as fifo:
        repo = write_repo(tmp_path / "repo", fifo)
        settings = CoreSettings.from_values(
            {"core": {"nodes": host_names(tasks), "ports": own_port_range()}},
            data_dir=tmp_path / "data",
            state_dir=tmp_path / "state",
            listen=f"127.0.0.1:{free_port()}",
        )
        served = Core(settings)
        await served.start()
        try:
            yield served, settings, repo
        finally:
            await served.stop()
