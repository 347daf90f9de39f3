"""A real etcd on 127.0.0.1 and free ports, for the tests (Debian package ``etcd-server``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EtcdServer:
    process: subprocess.Popen
    client_port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_etcd(workdir: Path, deadline_seconds: float = 20.0) -> EtcdServer:
    """Start etcd and wait until it accepts client connections (or fail with its log)."""
    binary = shutil.which("etcd")
    if binary is None:
        raise FileNotFoundError("etcd")
    client, peer = free_port(), free_port()
    log = workdir / "etcd.log"
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                binary,
                "--name=test",
                f"--data-dir={workdir / 'data'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=test=http://127.0.0.1:{peer}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = EtcdServer(process, client, log)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"etcd exited with status {process.returncode}:\n{log.read_text()[-2000:]}")
        if "ready to serve client requests" in log.read_text(errors="replace"):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"etcd not ready after {deadline_seconds} s:\n{log.read_text()[-2000:]}")
