"""Example consumer: connects its input channel at CONFIGURE and counts the messages of each run.

    python -m ecs_engine.examples.consumer

The connection is retried until the producer listens (tasks are configured in parallel). Counts are
printed every second while RUNNING and at STOP (``run N: received M messages, B bytes``), once the producer's
end of the run has come (at most ``DRAIN`` later): the count is then what the producer sent. A run's count
starts at the end of the run before, as the producer's first messages may come before this process's START.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from ecs_engine.occ.process import ControlledProcess

from . import dataflow

RETRY = 0.05  # seconds between connection attempts
DRAIN = 2.0  # seconds a STOP waits at most for the producer's end of the run (a producer gone sends none)


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
        self.end_of_run = asyncio.Event()

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
                    if message == dataflow.END_OF_RUN:
                        self.end_of_run.set()
                        continue
                    self.received += 1
                    self.total += 1
                    self.bytes += len(message)
            except (asyncio.IncompleteReadError, ConnectionError):
                say("producer went away; reconnecting")
            finally:
                writer.close()

    def on_start(self, arguments):
        self.end_of_run.clear()
        self.run = self.run_number
        say(f"run {self.run}: started")

    async def running(self):
        while True:
            await asyncio.sleep(1.0)
            say(f"run {self.run}: received {self.received} messages so far")

    async def on_stop(self, arguments):
        with contextlib.suppress(TimeoutError):  # STOP reached the producer at the same time: drain what it sent
            await asyncio.wait_for(self.end_of_run.wait(), DRAIN)
        say(f"run {self.run}: received {self.received} messages, {self.bytes} bytes")
        self.received = self.bytes = 0  # the next run counts from here, not from its START (see above)

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
