"""Only the core's owner controls it: every RPC needs the token the core keeps in its private state directory."""

from __future__ import annotations

import os
import subprocess
import sys

import grpc
import pytest

from ecs_engine.errors import RefusedError
from ecs_engine.protocols import apricot_pb2, apricot_pb2_grpc
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc
from ecs_engine.server.auth import read_token, token_metadata
from ecs_engine.server.client import CoreClient

from ..e2e.conftest import Coconut, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def coconut(tmp_path):
    runner = Coconut(tmp_path)
    runner("core", "start")
    yield runner
    runner("core", "stop")


def test_a_call_without_the_token_or_with_a_wrong_one_is_refused(coconut):
    endpoint = f"127.0.0.1:{coconut.port}"
    with grpc.insecure_channel(endpoint) as channel:
        stub = pb_grpc.ControlStub(channel)
        for metadata, reason in ((), "no token"), (token_metadata("guessed"), "a wrong token"):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetEnvironments(pb.GetEnvironmentsRequest(), timeout=5, metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert refused.value.details() == f"the core admits only its owner: this call carries {reason}"
            stream = stub.Subscribe(pb.SubscribeRequest(id="x"), timeout=5, metadata=metadata)
            with pytest.raises(grpc.RpcError) as refused:
                next(stream)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with CoreClient(endpoint, timeout=5.0) as client, pytest.raises(RefusedError) as error:
        client.call("NewEnvironment", pb.NewEnvironmentRequest(workflowTemplate="dataflow-demo"))
    assert "refused NewEnvironment: the core admits only its owner: this call carries no token" in error.value.message
    assert "core.token" in (error.value.hint or "")
    assert coconut("env", "list").status == 0  # coconut itself sends the token, with no configuration


def test_the_token_is_admitted_whatever_the_case_of_its_scheme(coconut):
    """``Bearer <token>`` is what gRPC's ``access_token_call_credentials`` sends (RFC 7235: the scheme is
    case-insensitive); it was refused as "a wrong token"."""
    token = read_token(coconut.state_dir)
    with grpc.insecure_channel(f"127.0.0.1:{coconut.port}") as channel:
        stub = pb_grpc.ControlStub(channel)
        for scheme in ("Bearer", "BEARER"):
            metadata = (("authorization", f"{scheme} {token}"),)
            assert stub.GetEnvironments(pb.GetEnvironmentsRequest(), timeout=5, metadata=metadata).environments == []
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetEnvironments(
                pb.GetEnvironmentsRequest(), timeout=5, metadata=(("authorization", f"Basic {token}"),)
            )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_core_keeps_its_files_to_its_owner(coconut):
    token_file = coconut.state_dir / "core.token"
    assert len(read_token(coconut.state_dir)) >= 32
    for directory in (coconut.state_dir, coconut.root / "data"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
        for path in directory.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, f"{path} is open to other users"
    assert token_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_local_user_cannot_control_the_core(coconut):
    """As ``nobody``: the token file is out of reach, and the core refuses the call."""
    script = f"""
import os
from pathlib import Path
from ecs_engine.errors import RefusedError
from ecs_engine.protocols import apricot_pb2, apricot_pb2_grpc
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
client = CoreClient("127.0.0.1:{coconut.port}", timeout=5.0)
assert client.answers()  # every module is loaded before the user changes
os.setgid(65534)
os.setuid(65534)
try:
    open({str(coconut.state_dir / "core.token")!r}).read()
except PermissionError:
    print("token unreadable")
client.token = read_token(Path({str(coconut.state_dir)!r}))
try:
    client.call("GetEnvironments", pb.GetEnvironmentsRequest())
except RefusedError as exc:
    print(exc.message)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "token unreadable",
        f"the core at 127.0.0.1:{coconut.port} refused GetEnvironments: "
        "the core admits only its owner: this call carries no token",
    ]


def test_clients_without_a_token_only_where_the_operator_allows_it(tmp_path):
    """docs/gui.md's set-up: the core and apricot admit the GUI, and the core's log and `core status` say where
    apricot is (they did not)."""
    apricot = f"127.0.0.1:{free_port()}"
    coconut = Coconut(tmp_path, {"core": {"require_token": False}, "apricot": {"listen": apricot}})
    coconut("core", "start")
    try:
        with CoreClient(f"127.0.0.1:{coconut.port}", timeout=5.0) as gui:  # as the AliECS GUI: no token
            assert gui.call("GetEnvironments", pb.GetEnvironmentsRequest()).environments == []
        with grpc.insecure_channel(apricot) as channel:
            apricot_pb2_grpc.ApricotStub(channel).ListDetectors(apricot_pb2.DetectorsRequest(), timeout=5)
        log = (coconut.state_dir / "core.log").read_text()
        assert "core.require_token is false" in log and f"apricot listening on {apricot} (configuration " in log
        assert f"apricot (the configuration service) on {apricot}" in coconut("core", "status").out
        assert coconut("core", "status", "-o", "json").json()["apricot"] == apricot
    finally:
        coconut("core", "stop")


def test_core_status_and_stop_of_another_home_say_the_core_refuses_them(coconut, tmp_path):
    """A HOME with no token, at the endpoint of a running core: refused (exit 5), never "no core is running"."""
    stranger = Coconut(tmp_path / "stranger")
    stranger.port = coconut.port
    refusal = f"a core is listening at 127.0.0.1:{coconut.port} but refused this user (no token)"
    for command in ("status", "stop"):
        result = stranger("core", command, check=False)
        assert result.status == 5, (command, result.out, result.err)
        assert refusal in result.err and "not running" not in result.out + result.err
    assert coconut("core", "status").status == 0  # still running
