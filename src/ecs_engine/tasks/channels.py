"""Channels at CONFIGURE: the bind map of an environment and the ``chans.*`` keys pushed to each task.

Inbound channels got their addresses at deploy (``tcp://<bind host>:<port>`` for the task itself, ``tcp://<node>:<port>``
for the others, or ``ipc://@o2ipc-<id>``). Outbound targets are a literal URL, ``<role.path>:<channel>``
or ``::<global alias>``, matched exactly against the bind map (reference §4.4).
"""

from __future__ import annotations

from collections.abc import Iterable

from ecs_engine.errors import HandledError

from .model import ChannelSpec, TaskProcess

URL_PREFIXES = ("tcp://", "ipc://", "inproc://")


class ChannelError(HandledError):
    """An outbound channel whose target matches nothing, or a global alias bound twice."""


def bind_map(tasks: Iterable[TaskProcess]) -> dict[str, str]:
    """``<parent role path>:<channel>`` and ``::<alias>`` -> the address to connect to."""
    out: dict[str, str] = {}
    owners: dict[str, str] = {}
    for task in tasks:
        for channel in task.request.bind:
            address = task.reachable.get(channel.name)
            if not address:
                continue
            out[f"{task.request.role_path}:{channel.name}"] = address
            if channel.global_alias:
                key = f"::{channel.global_alias}"
                if key in out and out[key] != address:
                    raise ChannelError(
                        f"global channel alias '{channel.global_alias}' is bound by both {owners[key]} and "
                        f"{task.request.role_path}:{channel.name}"
                    )
                out[key] = address
                owners[key] = f"{task.request.role_path}:{channel.name}"
    return out


def connect_address(task: TaskProcess, channel: ChannelSpec, targets: dict[str, str]) -> str:
    target = channel.target.strip()
    if target.startswith(URL_PREFIXES):
        return target
    address = targets.get(target)
    if address is None:
        raise ChannelError(
            f"could not match target for outbound channel '{channel.name}' of {task.request.role_path}: "
            f"'{target}' is no inbound channel of this environment",
            hint="targets are '<role.path>:<channel>' of a binding role, '::<global alias>' or a tcp:// or ipc:// URL",
        )
    return address


def _socket_keys(prefix: str, channel: ChannelSpec, address: str, method: str) -> list[tuple[str, str]]:
    keys = [
        (f"{prefix}.address", address),
        (f"{prefix}.method", method),
    ]
    if method == "bind":
        keys.append((f"{prefix}.autoBind", "0"))
    keys += [
        (f"{prefix}.rateLogging", channel.rate_logging),
        (f"{prefix}.rcvBufSize", channel.rcv_buf_size),
        (f"{prefix}.rcvKernelSize", "0"),
        (f"{prefix}.sndBufSize", channel.snd_buf_size),
        (f"{prefix}.sndKernelSize", "0"),
        (f"{prefix}.transport", channel.transport),
        (f"{prefix}.type", channel.type),
    ]
    return keys


def channel_arguments(task: TaskProcess, targets: dict[str, str]) -> list[tuple[str, str]]:
    """The FairMQ-style channel keys of one task (direct and fairmq modes both receive them)."""
    out: list[tuple[str, str]] = []
    for channel in task.request.bind:
        out.append((f"chans.{channel.name}.numSockets", "1"))
        out += _socket_keys(f"chans.{channel.name}.0", channel, task.bound.get(channel.name, ""), "bind")
    for channel in task.request.connect:
        out.append((f"chans.{channel.name}.numSockets", "1"))
        out += _socket_keys(f"chans.{channel.name}.0", channel, connect_address(task, channel, targets), "connect")
    return out
