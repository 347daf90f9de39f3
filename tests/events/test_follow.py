"""``coconut events follow`` when the core it follows stops: the message says how to go on without a gap."""

from __future__ import annotations

from ecs_engine.errors import ExitStatus
from ecs_engine.server.core import read_pidfile
from tests.waiting import eventually

from ..e2e.conftest import Coconut


def test_follow_ended_by_the_core_stopping_names_the_last_event_to_go_on_from(tmp_path):
    """It said only 'no core answers at ... (Cancelling all calls)': a consumer that restarted it from now missed
    what the core published while it was away, and nothing said which sequence number to resume after."""
    coconut = Coconut(tmp_path)
    coconut("core", "start")
    follower, lines = coconut.follower("--after", "0", "--kind", "coreStart")
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
