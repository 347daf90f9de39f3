"""Run coconut in-process with its own streams and directories."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

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
