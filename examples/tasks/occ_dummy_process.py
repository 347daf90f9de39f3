#!/usr/bin/env python3
"""An OCC-controlled example process, like OCClib's dummy process, built on ecs_engine.occ.

It logs every transition, prints the configuration pushed at CONFIGURE as a JSON tree (the way OCClib nests
the arguments), and can be told to misbehave so that ERROR, RECOVER and the device events can be tried:

    python examples/tasks/occ_dummy_process.py --control-port 47100
        [--fail-on START]             the START hook raises: the process goes to ERROR
        [--end-of-data-after 0.3]     0.3 s into each run, report END_OF_STREAM (the state stays RUNNING)
        [--internal-error-after 0.3]  0.3 s into each run, fail on its own: ERROR + TASK_INTERNAL_ERROR
        [--config-dump FILE]          also write the configuration tree to FILE
        [--hook-delay 2]              every transition takes this long (to try time limits)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ecs_engine.occ.arguments import to_tree
from ecs_engine.occ.process import ControlledProcess


def say(text: str) -> None:
    print(text, flush=True)


class DummyProcess(ControlledProcess):
    """OCC example process: logs transitions and prints the configuration it receives."""

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--fail-on", action="append", default=[], metavar="EVENT", help="hook that raises")
        parser.add_argument("--end-of-data-after", type=float, metavar="SECONDS")
        parser.add_argument("--internal-error-after", type=float, metavar="SECONDS")
        parser.add_argument("--pause-after", type=float, metavar="SECONDS", help="go to PAUSED on its own")
        parser.add_argument("--config-dump", type=Path, metavar="FILE")
        parser.add_argument("--hook-delay", type=float, default=0.0, metavar="SECONDS")

    async def _step(self, event: str, body=None) -> None:
        name = f"execute{event.capitalize()}"
        say(f"BEGIN function {name}")
        if body is not None:
            body()
        await asyncio.sleep(self.options.extra.hook_delay)
        if event in (e.upper() for e in self.options.extra.fail_on):
            say(f"END function {name} (failing on purpose)")
            raise RuntimeError(f"{event} fails on purpose (--fail-on {event})")
        say(f"END function {name}")

    async def on_configure(self, arguments):
        def show() -> None:
            tree = to_tree(arguments)
            say("received runtime configuration:")
            say(json.dumps(tree, indent=4))
            if self.options.extra.config_dump:
                self.options.extra.config_dump.write_text(json.dumps(tree, indent=4))

        await self._step("CONFIGURE", show)

    async def on_start(self, arguments):
        say(f"processing event start in state {self.state} with run number {self.run_number}")
        await self._step("START")

    async def on_stop(self, arguments):
        await self._step("STOP")

    async def on_reset(self, arguments):
        await self._step("RESET")

    async def on_recover(self, arguments):
        await self._step("RECOVER")

    async def on_exit(self, arguments):
        await self._step("EXIT")

    async def running(self):
        extra = self.options.extra
        if extra.end_of_data_after is not None:
            await asyncio.sleep(extra.end_of_data_after)
            say("end of data")
            return
        if extra.internal_error_after is not None:
            await asyncio.sleep(extra.internal_error_after)
            raise RuntimeError("internal check failed")
        if extra.pause_after is not None:
            await asyncio.sleep(extra.pause_after)
            await self.pause()
        await asyncio.Event().wait()  # runs until STOP


if __name__ == "__main__":
    sys.exit(DummyProcess.main())
