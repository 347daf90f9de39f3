"""A reader of coconut's or peanut's output that goes away early (``| head -1``): the command ends quietly with 141,
as a GNU tool killed by SIGPIPE does, whether its output broke off during the command or at its last flush."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DEADLINE = 60  # seconds for a command (a Python start and a little work)
KILLED_BY_SIGPIPE = 128 + signal.SIGPIPE  # what a shell shows for a GNU tool in its place: 141


def environ(tmp_path: Path) -> dict[str, str]:
    """The child's environment: this test's directories, stdout buffered as a user's is (not PYTHONUNBUFFERED)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    for name in ("CONFIG", "DATA", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    return env


def piped_to_head(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """``argv | head -1``: the command's exit status, what it wrote on stderr, what head printed."""
    command = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert command.stdout is not None and command.stderr is not None
    try:
        head = subprocess.run(["head", "-1"], stdin=command.stdout, capture_output=True, timeout=DEADLINE)
        command.stdout.close()  # head, gone, held the other reading end
        return command.wait(timeout=DEADLINE), command.stderr.read().decode(), head.stdout.decode()
    finally:
        command.kill()


def to_a_closed_pipe(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``argv`` writing into a pipe whose reader is gone before it starts: its exit status and stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, env=env, timeout=DEADLINE)
    finally:
        os.close(write)
    return done.returncode, done.stderr.decode()


def test_coconut_whose_reader_goes_away_during_its_output_exits_141_and_says_nothing(coconut, tmp_path):
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    payload = tmp_path / "big.toml"
    payload.write_text("".join(f"key{n} = {n}\n" for n in range(100_000)))  # far more than a pipe holds
    coconut("--config-endpoint", store, "config", "import", "demo/ANY/any/big", str(payload), "-n")
    shown = [sys.executable, "-m", "coconut", "--config-endpoint", store, "config", "show", "demo/ANY/any/big"]
    assert piped_to_head(shown, environ(tmp_path)) == (KILLED_BY_SIGPIPE, "", "key0 = 0\n")


@pytest.mark.parametrize("program", ["coconut", "peanut"])
def test_output_that_cannot_be_flushed_at_the_end_exits_141_and_says_nothing(program, tmp_path):
    argv = [sys.executable, "-m", program, "--version"]
    assert to_a_closed_pipe(argv, environ(tmp_path)) == (KILLED_BY_SIGPIPE, "")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["get-state", "--help"]])
def test_peanut_s_help_into_a_closed_pipe_unbuffered_exits_141(argv, tmp_path):
    """Written at once (PYTHONUNBUFFERED, or a help longer than the buffer), the write fails inside argparse, which
    swallowed it: peanut exited 0 with its help lost."""
    env = {**environ(tmp_path), "PYTHONUNBUFFERED": "1"}
    assert to_a_closed_pipe([sys.executable, "-m", "peanut", *argv], env) == (KILLED_BY_SIGPIPE, "")
