"""How a command finds its core without an RPC of its own (issue 19: a liveness RPC before each command was a round
trip through the core): something listening is taken for the core, and the command's first call says when it is not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from .conftest import Runner


@pytest.fixture
def not_a_core() -> Iterator[int]:
    """A loopback port whose listener closes every connection at once; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse() -> None:
        while True:
            try:
                listener.accept()[0].close()
            except OSError:  # shut down: the test is over
                return

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone does not)
    thread.join(timeout=10)
    listener.close()


def test_a_listener_that_is_no_core_fails_the_first_call_with_the_no_core_message(coconut: Runner, not_a_core: int):
    result = coconut("--endpoint", f"127.0.0.1:{not_a_core}", "env", "list")
    assert result.status == 3, result.err
    assert result.err.startswith(f"coconut: error: no core answers at 127.0.0.1:{not_a_core} (")
    assert "coconut core start" in result.err
    assert "started the local core" not in result.err  # something listens there: no core of its own is started
