"""How a command finds its core without an RPC of its own (issue 19: a liveness RPC before each command was a round
trip through the core): something listening is taken for the core, and the command's first call says when it is not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures

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


@pytest.fixture
def silent() -> Iterator[int]:
    """A loopback port whose listener accepts every connection and never says anything; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def keep() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:  # shut down: the test is over
                return

    thread = threading.Thread(target=keep, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)
    thread.join(timeout=10)
    listener.close()
    for connection in accepted:
        connection.close()


def test_a_listener_that_never_speaks_http2_fails_within_the_connect_timeout(coconut: Runner, silent: int):
    """gRPC's own connect timeout is 20 s: the command waited that long for a SETTINGS frame that never came."""
    from ecs_engine.server.client import CONNECT_TIMEOUT

    started = time.monotonic()
    result = coconut("--endpoint", f"127.0.0.1:{silent}", "env", "list")
    assert result.status == 3, result.err
    assert result.err.startswith(f"coconut: error: no core answers at 127.0.0.1:{silent} (")
    assert time.monotonic() - started < CONNECT_TIMEOUT + 3


def test_a_call_slower_than_the_connect_timeout_keeps_its_own_deadline():
    """Only connecting is bounded: a create may take minutes."""
    import grpc

    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CONNECT_TIMEOUT, CoreClient

    def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
        time.sleep(CONNECT_TIMEOUT + 0.5)
        return pb.GetEnvironmentsReply().SerializeToString()

    handler = grpc.method_handlers_generic_handler(
        "o2control.Control", {"GetEnvironments": grpc.unary_unary_rpc_method_handler(slow)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with CoreClient(f"127.0.0.1:{port}", timeout=60.0) as client:
            assert client.call("GetEnvironments", pb.GetEnvironmentsRequest()) == pb.GetEnvironmentsReply()
    finally:
        server.stop(grace=None)
