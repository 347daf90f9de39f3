"""Mock services as the tests run them: ``coconut mock NAME`` in a process of its own, on a free port.

``MockProcess.start`` returns once the mock has printed where it listens (the port is the one the kernel gave
it, so no test races another for a port); ``records()`` reads what it recorded (``--record``, JSON lines
flushed per request) and ``wait_for`` waits, with a deadline, until a recorded request matches.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..ports import own_port_range

COCONUT = Path(sys.executable).parent / "coconut"
#: how long a mock may take to say it listens (it must in under a second; the machine may be busy)
START_TIMEOUT = 10.0


class MockProcess:
    """One mock service process; use as a context manager (it is stopped at the end, killed if need be).

    ``prefix`` goes before its command: ``nsenter --net=...`` serves it inside a network namespace (tests/slurm's
    cluster), where a core in that namespace reaches it."""

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        script: dict[str, Any] | str | None = None,
        port: int = 0,
        prefix: Sequence[str] = (),
    ):
        self.name = name
        self.prefix = list(prefix)
        self.directory = directory
        self.record_file = directory / f"{name}-requests.jsonl"
        self.script_file: Path | None = None
        if script is not None:
            self.script_file = directory / f"{name}-script.yaml"
            self.script_file.write_text(script if isinstance(script, str) else yaml.safe_dump(script))
        self.port = port
        self.address = ""
        self.process: subprocess.Popen[str] | None = None
        self.error_output = ""  # what it wrote on stderr (once stopped)

    def command(self) -> list[str]:
        argv = [*self.prefix, str(COCONUT), "mock", self.name, "--port", str(self.port)]
        argv += ["--record", str(self.record_file)]
        if self.script_file is not None:
            argv += ["--script", str(self.script_file)]
        return argv

    def start(self) -> MockProcess:
        """Start the mock and wait for its 'listening on' line; fails with its stderr if it exits first."""
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        line = read_line(self.process, START_TIMEOUT)
        if " listening on " not in line:
            self.stop()
            raise AssertionError(f"mock {self.name} did not start: {line!r} {self.error_output}")
        self.address = line.rsplit(" ", 1)[1]
        self.port = int(self.address.rsplit(":", 1)[1])
        return self

    def records(self) -> list[dict[str, Any]]:
        """The requests recorded so far, in order."""
        if not self.record_file.exists():
            return []
        lines = self.record_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def operations(self) -> list[str]:
        return [r["operation"] for r in self.records()]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The first recorded request for which ``predicate`` holds, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records():
                if predicate(record):
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"mock {self.name}: no matching request in {timeout}s; got {self.operations()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 5 s; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        assert self.process.stdout is not None and self.process.stderr is not None
        if not self.process.stderr.closed:
            self.error_output = self.process.stderr.read()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
        return self.process.returncode

    def __enter__(self) -> MockProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reserved_port() -> int:
    """A free port of this test session's own block (tests/ports.py), from its top (the core's task ports are
    taken from its bottom): for a mock that must come back on the port it had, which a port the kernel chose
    does not promise (another session's server may be given it as soon as it is free)."""
    lo, _, hi = own_port_range().partition("-")
    for port in range(int(hi), int(lo) - 1, -1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port not in _RESERVED:
                _RESERVED.add(port)
                return port
    raise AssertionError(f"no free port left in this session's block {lo}-{hi}")


_RESERVED: set[int] = set()


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line ``process`` writes on stdout, waiting at most ``timeout`` ("" if it exits or is slow)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().strip()


def run_mock(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """``coconut mock ARGS...`` to its end (the list, help, bad scripts, ports in use)."""
    return subprocess.run(
        [str(COCONUT), "mock", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )
