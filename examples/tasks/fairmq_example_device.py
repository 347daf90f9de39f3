#!/usr/bin/env python3
"""A FairMQ-like example device speaking the OCClite JSON codec, built on ecs_engine.occ.device.

It walks the FairMQ state machine (IDLE -> ... -> READY -> RUNNING), prints the properties and channels pushed
with INIT DEVICE, counts iterations while RUNNING, and can be told to fail in one of its hooks:

    python examples/tasks/fairmq_example_device.py --id dev-1 -P OCClite --control-port 47100
        [--fail-in bind]    that hook raises: the device goes to ERROR
        [--run-for 0.5]     the run ends by itself after 0.5 s (the device goes back to READY)
"""

from __future__ import annotations

import asyncio
import json
import sys

from ecs_engine.occ.device import ENTRY_HOOKS, FairMQDevice


def say(text: str) -> None:
    print(text, flush=True)


class ExampleDevice(FairMQDevice):
    """FairMQ-like example device."""

    @classmethod
    def add_arguments(cls, parser):
        hooks = sorted({*ENTRY_HOOKS.values(), "run"})
        parser.add_argument("--fail-in", choices=hooks, help="hook that raises")
        parser.add_argument("--run-for", type=float, metavar="SECONDS", help="end each run by itself after this")

    def _hook(self, name: str) -> None:
        say(f"{self.id}: {name}")
        if self.options.extra.fail_in == name:
            raise RuntimeError(f"{name} fails on purpose (--fail-in {name})")

    def init(self):
        say("properties: " + json.dumps(self.properties, sort_keys=True))
        say("channels: " + json.dumps(self.channels(), sort_keys=True))
        self._hook("init")

    def bind(self):
        self._hook("bind")

    def connect(self):
        self._hook("connect")

    def init_task(self):
        self._hook("init_task")

    def reset_task(self):
        self._hook("reset_task")

    def reset(self):
        self._hook("reset")

    async def run(self):
        self._hook("run")
        loop = asyncio.get_running_loop()
        started, iterations = loop.time(), 0
        run_for = self.options.extra.run_for
        try:
            while run_for is None or loop.time() - started < run_for:
                await asyncio.sleep(0.05)
                iterations += 1
        finally:
            say(f"{self.id}: run ended after {iterations} iterations")


if __name__ == "__main__":
    sys.exit(ExampleDevice.main())
