"""What the example producer and consumer share: channel addresses pushed at CONFIGURE and message framing.

The core pushes FairMQ-style channel keys (``chans.<name>.0.address``, ``.method`` ...). ZeroMQ is not
needed: data moves over plain TCP (or abstract unix sockets for ``ipc://@name``) with asyncio streams, each
message a 4-byte big-endian length followed by the payload. An empty message ends a run (``END_OF_RUN``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ecs_engine.errors import UsageError

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 1024 * 1024
#: what the producer sends each consumer at STOP, after its last data message (which is never empty): STOP reaches
#: both at once, so a consumer reads on until this comes, as a data-taking process drains its input at the end of a run
END_OF_RUN = b""


@dataclass(frozen=True)
class Channel:
    name: str
    address: str
    method: str  # bind | connect
    type: str = ""


def channels(arguments: Mapping[str, str]) -> list[Channel]:
    """The channels in a CONFIGURE's arguments (sub-socket 0 of each)."""
    found: dict[str, dict[str, str]] = {}
    for key, value in arguments.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "chans" and parts[2] == "0":
            found.setdefault(parts[1], {})[parts[3]] = value
    return [
        Channel(name, fields.get("address", ""), fields.get("method", ""), fields.get("type", ""))
        for name, fields in found.items()
        if fields.get("address")
    ]


def pick(arguments: Mapping[str, str], method: str, name: str | None = None) -> Channel:
    """The channel to use: the named one, else the only one with this method."""
    candidates = [c for c in channels(arguments) if c.method == method and (name is None or c.name == name)]
    if len(candidates) != 1:
        got = ", ".join(f"{c.name} ({c.method})" for c in channels(arguments)) or "none"
        wanted = f"'{name}'" if name else f"exactly one {method} channel"
        raise UsageError(f"CONFIGURE: expected {wanted} in the pushed channels, got: {got}")
    return candidates[0]


def split_address(address: str) -> tuple[str, str, int]:
    """``tcp://host:port`` -> ("tcp", host, port); ``ipc://path`` -> ("ipc", path, 0); ``*`` means any address."""
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "ipc"):
        raise UsageError(f"channel address '{address}': expected tcp://HOST:PORT or ipc://PATH")
    if scheme == "ipc":
        return scheme, "\0" + rest[1:] if rest.startswith("@") else rest, 0
    host, _, port = rest.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"channel address '{address}': the port is not a number") from None
    return scheme, "0.0.0.0" if host in ("*", "") else host, number


async def listen(address: str, on_peer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]):
    scheme, host, port = split_address(address)
    if scheme == "ipc":
        return await asyncio.start_unix_server(on_peer, path=host)
    return await asyncio.start_server(on_peer, host, port)


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    scheme, host, port = split_address(address)
    if scheme == "ipc":
        return await asyncio.open_unix_connection(path=host)
    return await asyncio.open_connection(host, port)


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """One message; raises asyncio.IncompleteReadError when the peer closed the connection."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is larger than {MAX_MESSAGE}")
    return await reader.readexactly(size)
