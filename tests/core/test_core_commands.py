"""coconut core start|status|stop, the embedded default and its off switch, about/info, and core settings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecs_engine.errors import UsageError
from ecs_engine.server.client import CoreClient
from ecs_engine.server.core import read_pidfile
from ecs_engine.server.settings import CoreSettings

from ..e2e.conftest import Coconut, alive, free_port
from ..waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def coconut(tmp_path):
    runner = Coconut(tmp_path)
    yield runner
    runner("core", "stop")


def test_start_status_stop_and_one_core_per_state_directory(coconut):
    assert coconut("core", "status", check=False).status == 3
    started = coconut("core", "start")
    assert re.match(rf"core started \(pid \d+\) on 127\.0\.0\.1:{coconut.port}; log: .*core\.log", started.out)
    status = coconut("core", "status", "-o", "json").json()
    assert status["running"] and status["answering"] and status["environments"] == 0
    again = coconut("core", "start", check=False)
    assert again.status == 5 and "the core is already running" in again.err
    pid = coconut.core_pid()
    assert f"core stopped (pid {pid}" in coconut("core", "stop").out
    assert not alive(pid)
    assert coconut("core", "stop").out.strip() == "no core is running"


def test_a_core_is_not_started_on_a_port_something_listens_at_and_says_how_to_take_another(coconut):
    import socket

    with socket.socket() as other:  # another user's core, say, on this test's port
        other.bind(("127.0.0.1", coconut.port))
        other.listen()
        for command in (("core", "start"), ("core", "serve")):
            refused = coconut(*command, check=False)
            assert refused.status == 5, refused.err
            assert refused.err.splitlines() == [
                f"coconut: error: cannot start a core on 127.0.0.1:{coconut.port}: something listens there already",
                "  hint: another user's core, perhaps; take a port of your own: coconut --endpoint 127.0.0.1:PORT"
                " core start (and that --endpoint, or the setting 'endpoint', for every command)",
            ]
    assert read_pidfile(coconut.state_dir) is None  # nothing was started


def test_a_core_started_by_hand_or_systemd_on_a_port_in_use_says_so_not_grpc(tmp_path):
    """'python -m ecs_engine.server' (what a systemd unit runs): the same words as coconut's, in its own terms,
    and no raw gRPC line ('Failed to bind to address ...')."""
    import socket

    env = {**os.environ, **{f"XDG_{kind}_HOME": str(tmp_path / kind) for kind in ("CONFIG", "DATA", "STATE")}}
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        listen = f"127.0.0.1:{other.getsockname()[1]}"
        argv = ["-m", "ecs_engine.server", "--data-dir", str(tmp_path / "d"), "--state-dir", str(tmp_path / "s")]
        core = subprocess.run(
            [sys.executable, *argv, "--listen", listen], env=env, capture_output=True, text=True, timeout=60
        )
    assert core.returncode == 5
    assert core.stderr.splitlines()[-2:] == [
        f"core: error: cannot start a core on {listen}: something listens there already",
        "  hint: another user's core, perhaps; take a port of your own: --listen HOST:PORT, or the setting core.listen",
    ]
    assert "bind" not in core.stderr, core.stderr


def test_the_embedded_core_can_be_turned_off(tmp_path):
    coconut = Coconut(tmp_path, {"embedded_core": False})
    result = coconut("env", "list", check=False)
    assert result.status == 3
    assert f"no core answers at 127.0.0.1:{coconut.port}" in result.err and "coconut core start" in result.err
    assert "Traceback" not in result.err
    for aliases in (("e", "ls"), ("environment", "l"), ("env", "get", "x"), ("t", "cl"), ("r", "q", "x", "*")):
        assert coconut(*aliases, check=False).status == 3, aliases  # resolved, then the core is unreachable
    assert coconut("env", "lst", check=False).status == 2


def test_stopping_the_core_kills_every_task_and_the_next_core_reports_them_lost(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
    pids = [int(t["pid"]) for t in coconut.tasks() if t["pid"]]
    assert len(pids) == 2
    coconut("core", "stop")
    assert not any(alive(pid) for pid in pids)  # no child outlives the core
    coconut("core", "start")
    shown = coconut("env", "show", created["id"])
    assert re.search(r"state:\s+ERROR", shown.out)
    assert re.search(r"error:\s+2 critical task\(s\) lost while the core was down", shown.out)
    coconut("env", "destroy", created["id"])


AUTO_WITH_SLOW_TEARDOWN = """
name: slow-teardown
roles:
  - name: worker
    task:
      load: slow
  - name: cleanup
    call:
      func: testplugin.Noop()
      trigger: DESTROY
      timeout: 3s
      critical: false
"""
DUMMY = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "occ_dummy_process.py"
SLOW = f"""
name: slow
control:
  mode: direct
command:
  shell: true
  value: "exec {sys.executable} {DUMMY} --hook-delay 60"
"""


def test_a_core_stopped_while_an_auto_environment_configures_starts_again_and_destroys_it(tmp_path):
    """The restarted core finds the auto environment's tasks gone while it destroys itself (its DESTROY call takes
    seconds): it starts all the same, and the environment goes."""
    coconut = Coconut(tmp_path, {"core": {"integrationPlugins": ["testplugin"]}})
    (tmp_path / "repo" / "workflows").mkdir(parents=True)
    (tmp_path / "repo" / "tasks").mkdir()
    (tmp_path / "repo" / "workflows" / "slow-teardown.yaml").write_text(AUTO_WITH_SLOW_TEARDOWN)
    (tmp_path / "repo" / "tasks" / "slow.yaml").write_text(SLOW)
    coconut("core", "start")
    try:
        auto = threading.Thread(
            target=coconut,
            args=("env", "create", "-a", "--repo", str(tmp_path / "repo"), "-w", "slow-teardown"),
            kwargs={"check": False},
        )
        auto.start()

        def configuring() -> bool:
            listed = coconut("env", "list", "-s", "-o", "json").json()["environments"]
            return bool(listed) and listed[0]["currentTransition"] == "CONFIGURE"

        eventually(configuring, what="the auto environment's CONFIGURE")
        coconut("core", "stop")  # kills its tasks: the next core finds them lost
        auto.join()
        coconut("core", "start")
        eventually(lambda: coconut("env", "list", "-s", "-o", "json").json()["environments"] == [], what="its end")
    finally:
        coconut("core", "stop")


def test_a_core_listening_with_tls_is_reached_with_its_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run([*request, *names, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = {"tls_ca": str(cert), "core": {"tls_cert": str(cert), "tls_key": str(key)}}
    coconut = Coconut(tmp_path, tls)
    try:
        coconut("core", "start")
        assert coconut("core", "status", "-o", "json").json()["answering"]
        assert re.search(r"environments:\s+0", coconut("info").out)
        with CoreClient(f"127.0.0.1:{coconut.port}", timeout=2.0) as plain:
            assert not plain.answers(1.0)  # no TLS, no answer
    finally:
        coconut("core", "stop")


def test_about_and_info(coconut):
    about = coconut("about", "-o", "json").json()
    assert about["endpoint"] == f"127.0.0.1:{coconut.port}" and about["settings"].endswith("settings.yaml")
    info = coconut("info")
    assert re.search(r"framework id:\s+\w+", info.out) and re.search(r"environments:\s+0", info.out)
    assert "testplugin" in info.out


def test_core_settings_are_checked(tmp_path):
    base = {"data_dir": tmp_path, "state_dir": tmp_path}
    settings = CoreSettings.from_values({"core": {"startup_timeout": "2s", "nodes": ["flp001"]}}, **base)
    assert (settings.startup_timeout, settings.nodes, settings.listen) == (2.0, ["flp001"], "127.0.0.1:32102")
    with pytest.raises(UsageError, match=r"setting core.startup_timeout: invalid duration 'soon'"):
        CoreSettings.from_values({"core": {"startup_timeout": "soon"}}, **base)
    with pytest.raises(UsageError, match=r"not a loopback address, without TLS"):
        CoreSettings.from_values({}, listen="0.0.0.0:32102", **base)
    with pytest.raises(UsageError, match=r"setting core.fmq_plugin: expected OCClite or OCC"):
        CoreSettings.from_values({"core": {"fmq_plugin": "zmq"}}, **base)
    assert CoreSettings.from_values({"core": {"occ_state_stream": True}}, **base).occ_state_stream is True
    assert CoreSettings.from_values({}, **base).occ_state_stream is False
    with pytest.raises(UsageError, match=r"setting core.occ_state_stream: expected true or false, got 'yes please'"):
        CoreSettings.from_values({"core": {"occ_state_stream": "yes please"}}, **base)


def test_serve_runs_in_the_foreground_until_interrupted(tmp_path):
    endpoint = f"127.0.0.1:{free_port()}"
    environ = {**os.environ, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    serving = subprocess.Popen(
        [sys.executable, "-m", "coconut", "--endpoint", endpoint, "core", "serve"],
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with CoreClient(endpoint) as client:
            deadline = time.monotonic() + 30
            while not client.answers(0.5):
                assert serving.poll() is None and time.monotonic() < deadline, "the core did not come up"
                time.sleep(0.05)
        serving.send_signal(signal.SIGINT)
        assert serving.wait(30) == 0
        log = serving.stderr.read()
        assert f"listening on {endpoint}" in log and "stopping: killing 0 tasks" in log
        assert not (tmp_path / "state" / "coconut" / "core.pid").exists()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
