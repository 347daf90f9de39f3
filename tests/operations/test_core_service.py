"""The core as a systemd service: the unit renders and validates, and the core started the way the unit starts it
(its ExecStart, a NOTIFY_SOCKET) reports READY=1 once it answers and stops cleanly on SIGTERM.

Units are written into the test's own directory (``--unit-dir``): the tests never touch the real systemd.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time

import pytest

from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from ecs_engine.server.systemd import UNIT_NAME
from tests.e2e.conftest import Coconut
from tests.servers import need_program

START_DEADLINE = 60.0


@pytest.mark.parametrize("kind", ["--user", "--system"])
def test_the_unit_renders_and_systemd_analyze_verifies_it(tmp_path, kind):
    analyze = need_program("systemd-analyze", "systemd")
    coconut = Coconut(tmp_path)
    coconut("core", "install-service", kind, "--unit-dir", str(tmp_path / "units"))
    unit = tmp_path / "units" / UNIT_NAME
    text = unit.read_text()
    for line in ("Type=notify", "Restart=on-failure", "StandardError=journal", "KillMode=process"):
        assert line in text.splitlines()
    assert ("Wants=network-online.target" in text.splitlines()) == (kind == "--system")
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in done.stderr.splitlines() if UNIT_NAME in line]
    assert done.returncode == 0 and not complaints, done.stderr


def test_an_endpoint_set_where_the_service_does_not_look_becomes_its_listen(tmp_path):
    """COCONUT_ENDPOINT (the README's way to take a port of one's own) is not in the unit's environment: the unit
    carries it as --listen, so the service listens where this user's commands look; one set in the settings
    file, which the service reads, is left to it."""
    import io

    from coconut.cli import main
    from coconut.context import CliContext

    def exec_start_with(environ: dict[str, str], settings: str) -> list[str]:
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "settings.yaml").write_text(settings)
        cli = CliContext(
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            environ=environ,
            config_dir=tmp_path / "config",
            data_dir=tmp_path / "data",
            state_dir=tmp_path / "state",
            cwd=tmp_path,
        )
        assert main(["core", "install-service", "--unit-dir", str(tmp_path / "units")], cli=cli) == 0
        return exec_start((tmp_path / "units" / UNIT_NAME).read_text())

    argv = exec_start_with({"COCONUT_ENDPOINT": "127.0.0.1:32110"}, "")
    assert argv[argv.index("--listen") + 1] == "127.0.0.1:32110"
    assert "--listen" not in exec_start_with({}, "endpoint: 127.0.0.1:32110\n")


def exec_start(unit_text: str) -> list[str]:
    line = next(line for line in unit_text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


def receive(sock: socket.socket, deadline: float) -> str:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    return sock.recv(4096).decode()


def test_the_core_started_as_the_unit_starts_it_notifies_ready_and_stops_on_sigterm(tmp_path):
    coconut = Coconut(tmp_path)
    coconut("core", "install-service", "--unit-dir", str(tmp_path / "units"))
    argv = exec_start((tmp_path / "units" / UNIT_NAME).read_text())
    assert f"127.0.0.1:{coconut.port}" in argv  # the endpoint coconut reaches it at
    notify_path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(notify_path))
        core = subprocess.Popen(
            argv,
            env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "core.log").open("w"),
        )
        try:
            deadline = time.monotonic() + START_DEADLINE
            ready = receive(manager, deadline)
            assert "READY=1" in ready.splitlines()
            token = read_token(coconut.state_dir)
            with CoreClient(f"127.0.0.1:{coconut.port}", timeout=5.0, token=token) as client:
                assert client.answers(5.0)  # ready means it answers
            core.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in receive(manager, time.monotonic() + 30).splitlines()
            assert core.wait(timeout=60) == 0  # a clean stop: Restart=on-failure leaves it down
        finally:
            if core.poll() is None:
                core.kill()
                core.wait()


def test_uninstall_service_removes_the_unit(tmp_path):
    coconut = Coconut(tmp_path)
    units = str(tmp_path / "units")
    coconut("core", "install-service", "--unit-dir", units)
    result = coconut("core", "uninstall-service", "--unit-dir", units)
    assert not (tmp_path / "units" / UNIT_NAME).exists()
    assert "removed" in result.out
