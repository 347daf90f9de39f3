"""Real processes for peanut's tests (the example OCC process, the FairMQ-like device) and peanut in-process."""

from __future__ import annotations

import asyncio
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.occ import launch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"
DUMMY = [sys.executable, str(EXAMPLES / "occ_dummy_process.py")]
DEVICE = [sys.executable, str(EXAMPLES / "fairmq_example_device.py"), "--id", "dev", "-P", "OCClite"]
QUITTER = """
import sys
from ecs_engine.occ.process import ControlledProcess

class Quitter(ControlledProcess):
    def on_configure(self, arguments):
        sys.exit("cannot configure: no disk")

sys.exit(Quitter.main())
"""  # an OCC process that exits in its CONFIGURE hook, saying why


def started(command: list[str], log_path: Path, port: int | None = None) -> launch.Child:
    child = launch.start(command, log_path=log_path, port=port)
    asyncio.run(launch.wait_answering(child, 15))
    return child


@dataclass
class Result:
    status: int
    out: str
    err: str


def peanut(*argv: str, **kwargs) -> Result:
    """Run peanut in-process with its own streams."""
    from peanut.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, environ={}, **kwargs)
    return Result(status, out.getvalue(), err.getvalue())


def state_of(child: launch.Child, mode: str = "direct") -> str:
    from ecs_engine.occ.client import OccClient

    async def ask() -> str:
        async with OccClient(child.address, mode, timeout=5) as client:
            return (await client.get_state()).state

    return asyncio.run(ask())
