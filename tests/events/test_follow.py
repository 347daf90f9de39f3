"""``coconut events follow`` when the core it follows stops: the message says how to go on without a gap."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from ecs_engine.errors import ExitStatus
from ecs_engine.server.core import read_pidfile
from tests.waiting import eventually

from ..e2e.conftest import Coconut


def test_follow_ended_by_the_core_stopping_names_the_last_event_to_go_on_from(tmp_path):
    """It said only 'no core answers at ... (Cancelling all calls)': a consumer that restarted it from now missed
    what the core published while it was away, and nothing said which sequence number to resume after."""
    coconut = Coconut(tmp_path)
    coconut("core", "start")
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "coconut").symlink_to(coconut.state_dir)  # the follower finds the core's token where coconut keeps it
    command = ["--endpoint", f"127.0.0.1:{coconut.port}", "--config", str(coconut.root / "config" / "settings.yaml")]
    follower = subprocess.Popen(
        [sys.executable, "-m", "coconut", *command, "events", "follow", "--after", "0", "--kind", "coreStart"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(xdg)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: [lines.append(line) for line in follower.stdout], daemon=True)
    reader.start()
    try:
        eventually(lambda: lines, what="the core's start replayed")  # the stream is open
        seq = int(lines[-1].split()[0])
        coconut("core", "stop")
        status = follower.wait(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
        if read_pidfile(coconut.state_dir) is not None:
            coconut("core", "stop", "--force")
    error = follower.stderr.read()
    assert status == ExitStatus.UNREACHABLE, error
    assert "stopped answering while its events were followed" in error
    assert f"'coconut events follow --after {seq}' with the same options" in error
