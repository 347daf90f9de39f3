"""coconut in-process against a real core it starts itself (the embedded default) on a free loopback port.

Each test gets its own directories, port and core; the core is stopped at the end and no task process may
be left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from coconut.cli import main
from coconut.context import CliContext
from ecs_engine.server.core import read_pidfile

from ..ports import own_port_range


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Coconut:
    """Runs ``coconut --endpoint 127.0.0.1:<port> ...`` with this test's directories.

    The core it starts takes its tasks' ports from the test session's own range (``core.ports``).
    """

    def __init__(self, root: Path, settings: dict | None = None):
        self.root = root
        self.port = free_port()
        for name in ("config", "data", "state", "work"):
            (root / name).mkdir(parents=True, exist_ok=True)
        settings = dict(settings or {})
        settings["core"] = {"ports": own_port_range(), **(settings.get("core") or {})}
        (root / "config" / "settings.yaml").write_text(yaml.safe_dump(settings))

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def __call__(self, *args: str, check: bool = True) -> Result:
        out, err = io.StringIO(), io.StringIO()
        cli = CliContext(
            stdout=out,
            stderr=err,
            environ={},
            config_dir=self.root / "config",
            data_dir=self.root / "data",
            state_dir=self.root / "state",
            cwd=self.root / "work",
        )
        status = main(["--endpoint", f"127.0.0.1:{self.port}", "--nospinner", *args], cli=cli)
        result = Result(status, out.getvalue(), err.getvalue())
        if check:
            assert status == 0, f"coconut {' '.join(args)} -> {status}\n{result.out}\n{result.err}"
        return result

    def follower(self, *args: str) -> tuple[subprocess.Popen, list[str]]:
        """``coconut events follow ARGS`` in a process of its own (Ctrl-C and a core that stops reach it as a user's
        would) and the lines it prints, read as they come."""
        xdg = self.root / "xdg"
        xdg.mkdir(exist_ok=True)
        if not (xdg / "coconut").exists():
            (xdg / "coconut").symlink_to(self.state_dir)  # the follower finds the core's token where coconut keeps it
        options = ["--endpoint", f"127.0.0.1:{self.port}", "--config", str(self.root / "config" / "settings.yaml")]
        process = subprocess.Popen(
            [sys.executable, "-m", "coconut", *options, "events", "follow", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(xdg)},
        )
        lines: list[str] = []

        def read() -> None:
            for line in process.stdout:
                lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        return process, lines

    def core_pid(self) -> int:
        running = read_pidfile(self.state_dir)
        assert running is not None, "no core is running"
        return int(running["pid"])

    def tasks(self) -> list[dict]:
        return self("task", "list", "-o", "json").json()["tasks"]

    def state(self, environment_id: str) -> str:
        return self("env", "show", environment_id, "-o", "json").json()["environment"]["state"]


def write_example_tasks(root: Path) -> None:
    """Task templates ``producer`` and ``consumer`` under ``root/tasks``: ecs_engine.examples' OCC pair."""
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    for name in ("producer", "consumer"):
        bind = "bind: [{name: out, type: push}]\n" if name == "producer" else ""
        (root / "tasks" / f"{name}.yaml").write_text(
            f"name: {name}\ncontrol:\n  mode: direct\n{bind}command:\n  stdout: stdout\n  stderr: all\n"
            f"  value: python3\n  arguments: ['-m', 'ecs_engine.examples.{name}']\n"
        )


def core_gone(coconut: Coconut, pid: int) -> bool:
    """Whether the core ``pid`` has ended with all its threads: its leader shows as a zombie while the others end,
    and until the last has, the core's port still accepts connections, so coconut takes the dying core for a
    running one (its first call then fails with 'no core answers') instead of starting a new core."""
    if alive(pid):
        return False
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", coconut.port)) != 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except OSError:
        return False
    return text[text.rfind(")") + 2] not in "ZX"


@pytest.fixture
def coconut(tmp_path):
    runner = Coconut(tmp_path, {"core": {"nodes": ["flp001", "flp002"]}})
    pids: set[int] = set()
    runner.seen_pids = pids
    yield runner
    if read_pidfile(runner.state_dir) is not None:
        runner("core", "stop", "--force")  # a failed test may leave a run going
    leftovers = [pid for pid in pids if alive(pid)]
    for pid in leftovers:  # the test fails; its processes must not outlive it (they hold ports others use)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    assert not leftovers, f"task processes left behind: {leftovers}"


def remember(coconut: Coconut) -> list[dict]:
    """The core's tasks now; their pids are checked to be gone when the test ends."""
    tasks = coconut.tasks()
    coconut.seen_pids.update(int(t["pid"]) for t in tasks if t.get("pid"))
    return tasks
