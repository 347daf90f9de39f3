"""Run coconut in-process with its own streams and directories."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coconut.cli import main
from coconut.context import CliContext


@dataclass
class Result:
    status: int
    out: str
    err: str


class Runner:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        for d in ("config", "data", "state"):
            (tmp_path / d).mkdir(exist_ok=True)

    def __call__(self, *args: str, cwd: Path | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        cli = CliContext(
            stdout=out,
            stderr=err,
            environ={},
            config_dir=self.tmp / "config",
            data_dir=self.tmp / "data",
            state_dir=self.tmp / "state",
            cwd=cwd or self.tmp,
        )
        status = main(list(args), cli=cli)
        return Result(status, out.getvalue(), err.getvalue())


@pytest.fixture
def coconut(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


@contextlib.contextmanager
def loopback_service(servicer: Any, add: Callable[[Any, Any], None]) -> Iterator[str]:
    """A gRPC server on a free loopback port serving ``servicer`` (registered by its ``add_..._to_server``): a core
    that answers what a test says; yields its endpoint."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
