"""The mock-service framework through ``coconut mock``: listing, help, start-up, ports in use, scripts, records."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc

from ecs_backends.mocks.framework import MockService
from ecs_engine.plugins import plugin_manager
from ecs_engine.protocols import dcs_pb2, dcs_pb2_grpc

from .mocks import MockProcess, run_mock


def test_coconut_mock_lists_the_mocks_the_plugins_contribute():
    contributed = [m for found in plugin_manager().hook.ecs_mock_services() for m in found or []]
    assert all(isinstance(m, MockService) for m in contributed)
    listing = run_mock()
    assert listing.returncode == 0, listing.stderr
    listed = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert {m.name for m in contributed} == set(listed)
    assert "dcs.Configurator" in listed["dcs"]


def test_a_mocks_help_says_what_its_script_may_say():
    result = run_mock("dcs", "--help")
    assert result.returncode == 0
    assert "--script" in result.stdout and "--record" in result.stdout and "--port" in result.stdout
    assert "      StartOfRun: 200:SOR_PROGRESSING,300:SOR_FAILURE" in result.stdout  # kept as written


def test_a_command_mocks_help_and_errors_name_its_own_options():
    lhc_help = run_mock("lhc", "--help").stdout
    assert "--broker HOST:PORT" in lhc_help and "Arguments" not in lhc_help
    assert "Arguments:\n  -- ARGS...  o2-ecs-grp-create's arguments" in run_mock("ccdb", "--help").stdout
    missing = run_mock("lhc")
    assert missing.returncode == 2 and missing.stderr.startswith("coconut: error: Missing option '--broker'.")
    unknown = run_mock("lhc", "--port", "5")
    assert unknown.returncode == 2 and unknown.stderr.startswith("coconut: error: No such option: --port")
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        unreachable = run_mock("lhc", "--broker", f"127.0.0.1:{port}", timeout=5.0)
    assert unreachable.returncode != 0
    assert (
        unreachable.stderr
        == f"coconut: error: the Kafka broker at 127.0.0.1:{port} is unreachable: connection refused\n"
    )


def test_a_mock_says_where_it_listens_and_answers_there(tmp_path: Path):
    """How fast it starts is bench/mocks.py's figure, not a timed test."""
    with MockProcess("dcs", tmp_path) as mock:
        with grpc.insecure_channel(mock.address) as channel:
            reply = dcs_pb2_grpc.ConfiguratorStub(channel).GetStatus(dcs_pb2.StatusRequest(), timeout=5)
        assert list(reply.detectorMatrix) == []


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_mock("dcs", "--port", str(port))
    assert result.returncode == 5
    first = result.stderr.splitlines()[0]
    assert first == f"coconut: error: cannot start mock dcs on 127.0.0.1:{port}: something listens there already"


def test_a_bad_script_is_one_error_naming_the_file_and_line(tmp_path: Path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("detectors:\n  TPC:\n    sor: [SOR_AVAILABLE\n")
    unknown_state = tmp_path / "unknown.yaml"
    unknown_state.write_text("heartbeat: 1s\ndetectors:\n  TPC:\n    sor: SOR_MAYBE\n")
    unknown_key = tmp_path / "typo.json"
    unknown_key.write_text('{"heartbeat": "1s",\n "detector": {}}\n')
    for script, line, words in (
        (bad_yaml, 4, "invalid YAML"),
        (unknown_state, 4, "unknown state 'SOR_MAYBE'"),
        (unknown_key, 2, "unknown key 'detector'"),
    ):
        result = run_mock("dcs", "--port", "0", "--script", str(script))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"coconut: error: {script}:{line}: "), result.stderr
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_each_request_is_recorded_as_a_json_line_before_the_reply(tmp_path: Path):
    with MockProcess("dcs", tmp_path, script={"detectors": {"TPC": {"sor": "SOR_UNAVAILABLE"}}}) as mock:
        with grpc.insecure_channel(mock.address) as channel:
            stub = dcs_pb2_grpc.ConfiguratorStub(channel)
            stub.GetStatus(dcs_pb2.StatusRequest(detector=[dcs_pb2.TPC]), timeout=5)
            assert mock.operations() == ["GetStatus"]
            stub.GetStatus(dcs_pb2.StatusRequest(), timeout=5)
        first, second = mock.records()
    assert first["request"] == {"detector": ["TPC"]}
    assert second["request"] == {"detector": []}
    assert first["time_ms"] <= second["time_ms"]
