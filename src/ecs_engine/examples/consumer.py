"""Example consumer: connects its input channel at CONFIGURE and counts the messages of each run.

    python -m ecs_engine.examples.consumer

The connection is retried until the producer listens (tasks are configured in parallel). Counts are
printed every second while RUNNING and at STOP (``run N: received M messages, B bytes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from ecs_engine.occ.process import ControlledProcess

from . import dataflow

RETRY = 0.05  # seconds between connection attempts


def say(text: str) -> None:
    print(f"consumer: {text}", flush=True)


class Consumer(ControlledProcess):
    """Counts the messages arriving on its connected channel."""

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--channel", help="name of the input channel (default: the only connected one)")

    def __init__(self, options=None):
        super().__init__(options)
        self.reader_task: asyncio.Task | None = None
        self.received = 0
        self.bytes = 0
        self.total = 0
        self.run = 0  # OCC pushes runNumber at START only; STOP carries none

    def on_configure(self, arguments):
        channel = dataflow.pick(arguments, "connect", self.options.extra.channel)
        say(f"channel {channel.name} connects to {channel.address}")
        self.reader_task = asyncio.get_running_loop().create_task(self._read(channel.address))

    async def _read(self, address: str) -> None:
        while True:
            try:
                reader, writer = await dataflow.connect(address)
            except OSError:
                await asyncio.sleep(RETRY)
                continue
            say(f"connected to {address}")
            try:
                while True:
                    message = await dataflow.read_message(reader)
                    self.received += 1
                    self.total += 1
                    self.bytes += len(message)
            except (asyncio.IncompleteReadError, ConnectionError):
                say("producer went away; reconnecting")
            finally:
                writer.close()

    def on_start(self, arguments):
        self.received = 0
        self.bytes = 0
        self.run = self.run_number
        say(f"run {self.run}: started")

    async def running(self):
        while True:
            await asyncio.sleep(1.0)
            say(f"run {self.run}: received {self.received} messages so far")

    def on_stop(self, arguments):
        say(f"run {self.run}: received {self.received} messages, {self.bytes} bytes")

    async def _disconnect(self):
        if self.reader_task is not None:
            self.reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader_task
            self.reader_task = None

    async def on_reset(self, arguments):
        await self._disconnect()

    async def on_exit(self, arguments):
        await self._disconnect()


if __name__ == "__main__":
    sys.exit(Consumer.main())
