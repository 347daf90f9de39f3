"""Start a controlled process on a control port, wait until it answers, and stop it without leaving it behind.

Used by ``peanut exec`` and by tests. Stopping is ``shutdown.stop``, the executor's sequence: walk the
state machine down to DONE (5 s per step), then SIGTERM, 2 s, SIGINT, 3 s, SIGKILL to the process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ecs_engine.errors import HandledError, UsageError

from . import shutdown
from .client import MODES, OccClient
from .errors import DIRECT, FMQ, WrongModeError
from .options import PORT_ENV


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def with_control_port(command: Sequence[str], port: int) -> list[str]:
    """The command with ``--control-port PORT`` appended unless it already names one."""
    command = list(command)
    if any(arg == "--control-port" or arg.startswith("--control-port=") for arg in command):
        return command
    return [*command, "--control-port", str(port)]


@dataclass
class Child:
    """A controlled process started by us, in its own process group."""

    command: list[str]
    port: int
    process: subprocess.Popen
    log_path: Path | None = None
    mode: str | None = None
    _log: IO | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's process group (gone already: nothing to do)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    async def wait(self) -> int | None:
        while self.process.poll() is None:
            await asyncio.sleep(0.02)
        return self.process.returncode

    def output(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def last_output(self, lines: int = 10) -> str:
        """``; its last output:`` and the log's last ``lines`` lines, to end an error with ("" if none): the
        process's own words often say why."""
        tail = "\n".join(self.output().splitlines()[-lines:])
        return f"; its last output:\n{tail}" if tail else ""

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the child still runs after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait(), timeout)
        return self.process.poll()

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def start(
    command: Sequence[str],
    *,
    port: int | None = None,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> Child:
    """Start ``command`` with ``OCC_CONTROL_PORT`` and ``--control-port`` set; output goes to ``log_path``."""
    if not command:
        raise UsageError("no command to run: give it after --, e.g. peanut exec -- ./my-process --flag")
    port = port or free_port()
    environment = dict(os.environ if env is None else env)
    environment[PORT_ENV] = str(port)
    argv = with_control_port(command, port)
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - closed by Child.close_log
    try:
        process = subprocess.Popen(
            argv,
            env=environment,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        if log is not None:
            log.close()
        raise HandledError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    return Child(argv, port, process, log_path, _log=log)


async def wait_answering(child: Child, timeout: float, mode: str | None = None) -> str:
    """Wait until the child answers GetState; returns the transport it speaks (probing both unless given)."""
    deadline = time.monotonic() + timeout
    for candidate in [mode] if mode else list(MODES):
        async with OccClient(child.address, candidate, timeout=timeout) as client:
            try:
                await client.wait_reachable(max(deadline - time.monotonic(), 0.05), alive=child.alive)
            except WrongModeError:
                if mode:
                    raise
                continue
            except HandledError:
                if child.alive():
                    raise
                raise HandledError(
                    f"{child.command[0]} ended ({exit_text(child.process.returncode)}) before answering"
                    + child.last_output()
                ) from None
        child.mode = candidate
        return candidate
    raise WrongModeError(f"the process at {child.address} answers neither OCC protobuf nor OCClite")


def exit_text(code: int | None) -> str:
    """The shell's form for a signalled process (143, not Popen's -15), so it reads like one exiting itself."""
    if code is None:
        return "still running"
    if code < 0:
        return f"exit code {128 - code}, {signal.Signals(-code).name}"
    return f"exit code {code}"


async def _walk_to_done(address: str, mode: str) -> bool:
    async with OccClient(address, mode, timeout=shutdown.STEP_TIMEOUT) as client:
        return await shutdown.walk_to_done(client)


async def stop(child: Child, *, use_occ: bool = True) -> int | None:
    """Stop the child (``shutdown.stop``: OCC walk to DONE, then signals to its group); its exit code."""
    try:
        mode = child.mode if use_occ and child.mode in (DIRECT, FMQ) else None
        await shutdown.stop(child, functools.partial(_walk_to_done, child.address, mode) if mode else None)
        return child.process.poll()
    finally:
        child.close_log()


@contextlib.asynccontextmanager
async def running(
    command: Sequence[str],
    *,
    mode: str | None = None,
    timeout: float = 30.0,
    port: int | None = None,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Child]:
    """Start a controlled process, wait until it answers, and stop it (EXIT, then signals) on the way out."""
    child = start(command, port=port, log_path=log_path, env=env)
    try:
        await wait_answering(child, timeout, mode)
        yield child
    finally:
        await stop(child)
