"""One core per data directory, and a pid file is trusted only while its pid is still the core that wrote it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ecs_engine.errors import ExitStatus
from ecs_engine.processes import start_ticks
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient

from ..e2e.conftest import Coconut, free_port

pytestmark = pytest.mark.slow


def test_a_second_core_on_the_same_data_directory_is_refused_naming_the_first(tmp_path):
    data, first_state = tmp_path / "data", tmp_path / "state1"
    endpoint = f"127.0.0.1:{free_port()}"
    first = daemon.start(endpoint=endpoint, data_dir=data, state_dir=first_state, settings_path=None)
    try:
        argv = [sys.executable, "-m", "ecs_engine.server", "--data-dir", str(data), "--state-dir"]
        second = subprocess.run(
            [*argv, str(tmp_path / "state2"), "--listen", f"127.0.0.1:{free_port()}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == ExitStatus.REFUSED, second.stderr
        assert f"the data directory {data} is in use by another core (pid {first.pid})" in second.stderr
        with CoreClient(endpoint, timeout=5.0, token=read_token(first_state)) as client:
            assert client.answers()  # the first core is untouched
    finally:
        daemon.stop(first_state)


def test_a_core_refused_for_its_directories_says_what_chooses_others(tmp_path):
    """'use other --data-dir/--state-dir' was no help to a 'coconut core serve' user (coconut has no such flags): the
    hint names what chooses the directories, for coconut and for python -m ecs_engine.server."""
    data, state = tmp_path / "data", tmp_path / "state"
    first = daemon.start(endpoint=f"127.0.0.1:{free_port()}", data_dir=data, state_dir=state, settings_path=None)
    try:
        argv = [sys.executable, "-m", "ecs_engine.server", "--listen", f"127.0.0.1:{free_port()}"]
        for directories in (
            ["--data-dir", str(tmp_path / "other"), "--state-dir", str(state)],
            ["--data-dir", str(data), "--state-dir", str(tmp_path / "state2")],
        ):
            second = subprocess.run([*argv, *directories], capture_output=True, text=True, timeout=60)
            assert second.returncode == ExitStatus.REFUSED, second.stderr
            hint = second.stderr.splitlines()[-1]
            assert hint.endswith(
                "coconut takes them from XDG_DATA_HOME and XDG_STATE_HOME (their coconut/ folders),"
                " python -m ecs_engine.server (a systemd unit) from --data-dir and --state-dir"
            ), hint
            assert f"(pid {first.pid}" in second.stderr
    finally:
        daemon.stop(state)


@pytest.fixture
def bystander():
    """A live process of this test's own, unrelated to any core."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield process
    process.kill()
    process.wait()


def test_a_pid_file_naming_a_reused_pid_is_not_the_core(tmp_path, bystander):
    coconut = Coconut(tmp_path)
    pidfile = coconut.state_dir / "core.pid"
    ticks = start_ticks(bystander.pid)
    assert ticks is not None
    died = {"listen": f"127.0.0.1:{coconut.port}", "data_dir": str(tmp_path / "data")}
    # a core that had this pid and died; the kernel gave the pid to the bystander, which started later
    pidfile.write_text(json.dumps({"pid": bystander.pid, "start_ticks": ticks - 1, **died, "started_ms": 1}))
    assert coconut("core", "status", check=False).status == ExitStatus.UNREACHABLE
    assert coconut("core", "stop").out.strip() == "no core is running"
    # a pid file written by a core before pid files had start_ticks: it started before writing it
    pidfile.write_text(json.dumps({"pid": bystander.pid, **died, "started_ms": int(time.time() * 1000) - 3_600_000}))
    assert coconut("core", "stop").out.strip() == "no core is running"
    assert bystander.poll() is None, "coconut core stop signalled an unrelated process"
    try:
        coconut("core", "start")  # not refused as "already running"
        assert coconut("core", "status").status == ExitStatus.OK
    finally:
        coconut("core", "stop")
    assert bystander.poll() is None
