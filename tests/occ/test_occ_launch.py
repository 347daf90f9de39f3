"""Starting a controlled process, waiting for it, and stopping it without leaving anything behind."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import pytest

from ecs_engine.errors import HandledError, UsageError
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient

DUMMY = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "occ_dummy_process.py"
pytestmark = pytest.mark.slow


async def test_stop_walks_a_running_process_down_to_done(tmp_path):
    child = launch.start([sys.executable, str(DUMMY)], log_path=tmp_path / "out.log")
    assert child.command[-2:] == ["--control-port", str(child.port)]
    await launch.wait_answering(child, 10)
    async with OccClient(child.address) as client:
        await client.transition("STANDBY", "CONFIGURE")
        await client.transition("CONFIGURED", "START")
    assert await launch.stop(child) == 0
    output = child.output()
    assert output.index("executeStop") < output.index("executeExit")


async def test_stop_escalates_to_signals_when_occ_does_not_work(tmp_path, caplog):
    ignores_sigterm = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    child = launch.start([sys.executable, "-c", ignores_sigterm, "--"], log_path=tmp_path / "out.log")
    deadline = asyncio.get_running_loop().time() + 10
    while "ready" not in child.output():
        assert asyncio.get_running_loop().time() < deadline, "the child never got ready"
        await asyncio.sleep(0.01)
    with caplog.at_level(logging.INFO, logger="ecs_engine.occ.shutdown"):
        assert await launch.stop(child) == -signal.SIGINT  # SIGTERM ignored, SIGINT 2 s later ends it
    assert [r.getMessage() for r in caplog.records] == [
        f"sending SIGTERM to pid {child.pid} (grace 2 s)",
        f"sending SIGINT to pid {child.pid} (grace 3 s)",
    ]


async def test_a_process_that_dies_before_answering_is_reported_with_its_output(tmp_path):
    child = launch.start(
        [sys.executable, "-c", "import sys; print('bad configuration'); sys.exit(3)", "--"],
        log_path=tmp_path / "out.log",
    )
    with pytest.raises(HandledError, match=r"ended \(exit code 3\) before answering") as died:
        await launch.wait_answering(child, 10)
    assert "bad configuration" in died.value.render()
    await launch.stop(child)


def test_start_errors_are_clear():
    with pytest.raises(HandledError, match="cannot start /no/such/program"):
        launch.start(["/no/such/program"])
    with pytest.raises(UsageError, match="no command"):
        launch.start([])
    assert launch.with_control_port(["p", "--control-port=5"], 7) == ["p", "--control-port=5"]
