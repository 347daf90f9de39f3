"""Example producer: binds its output channel at CONFIGURE and sends numbered messages while RUNNING.

    python -m ecs_engine.examples.producer --rate 200 --payload-bytes 1024 [--max-messages N]

Messages go round-robin to the connected consumers (PUSH semantics); with no consumer connected they
wait. With ``--max-messages`` the run's data ends after N messages and the process reports END_OF_STREAM.
At STOP every consumer gets the end of the run (``dataflow.END_OF_RUN``) after the last message it was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import sys

from ecs_engine.occ.process import ControlledProcess

from . import dataflow


def say(text: str) -> None:
    print(f"producer: {text}", flush=True)


class Producer(ControlledProcess):
    """Sends numbered messages on its bound channel while RUNNING."""

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--rate", type=float, default=100.0, help="messages per second (0: as fast as possible)")
        parser.add_argument("--payload-bytes", type=int, default=1024)
        parser.add_argument("--channel", help="name of the output channel (default: the only bound one)")
        parser.add_argument("--max-messages", type=int, default=0, help="end of data after N messages per run")

    def __init__(self, options=None):
        super().__init__(options)
        self.server: asyncio.AbstractServer | None = None
        self.peers: list[asyncio.StreamWriter] = []
        self.peer_ready = asyncio.Event()
        self.sent = 0
        self.run = 0  # OCC pushes runNumber at START only; STOP carries none
        self.sequence = itertools.count()

    async def on_configure(self, arguments):
        channel = dataflow.pick(arguments, "bind", self.options.extra.channel)
        self.server = await dataflow.listen(channel.address, self._accept)
        say(f"channel {channel.name} bound at {channel.address}")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer)
        self.peer_ready.set()
        try:
            await reader.read()  # consumers send nothing; returns when they go away
        finally:
            self.peers.remove(writer)
            if not self.peers:
                self.peer_ready.clear()
            writer.close()

    def on_start(self, arguments):
        self.sent = 0
        self.run = self.run_number
        say(f"run {self.run}: started")

    async def running(self):
        extra = self.options.extra
        padding = b"\0" * max(extra.payload_bytes - 8, 0)
        interval = 1.0 / extra.rate if extra.rate > 0 else 0.0
        loop = asyncio.get_running_loop()
        next_send = loop.time()
        peer = 0
        while not extra.max_messages or self.sent < extra.max_messages:
            await self.peer_ready.wait()
            writer = self.peers[peer % len(self.peers)]
            peer += 1
            writer.write(dataflow.frame(struct.pack(">Q", next(self.sequence)) + padding))
            self.sent += 1  # on its way: a STOP may cancel the drain below, not the message
            try:
                await writer.drain()
            except ConnectionError:
                continue
            if interval:
                next_send += interval
                await asyncio.sleep(max(0.0, next_send - loop.time()))
            else:
                await asyncio.sleep(0)
        say(f"run {self.run}: end of data after {self.sent} messages")

    def on_stop(self, arguments):
        for writer in self.peers:  # after the last data message: sending stopped with the running loop
            writer.write(dataflow.frame(dataflow.END_OF_RUN))
        say(f"run {self.run}: sent {self.sent} messages")

    async def _close(self):
        for writer in list(self.peers):
            writer.close()
        if self.server is not None:
            self.server.close()
            self.server = None

    async def on_reset(self, arguments):
        await self._close()

    async def on_exit(self, arguments):
        await self._close()


if __name__ == "__main__":
    sys.exit(Producer.main())
