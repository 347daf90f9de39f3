"""The ``lhc`` plugin on a real Kafka-protocol broker (Tansu): the beam mode from ``dip.lhc.beam_mode`` as
BKP-LHC-Client publishes it, the last message taken at start without being acted on, ``UpdateFillInfo``."""

from __future__ import annotations

import queue
import struct
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from ecs_backends.events.kafka import client_config, create_topics
from ecs_backends.integrations.lhc import TOPIC, LhcPlugin
from ecs_engine.protocols import common_pb2, events_pb2
from tests.e2e.conftest import remember
from tests.kafka.broker import TansuBroker
from tests.waiting import eventually
from tests.watchdogs.conftest import core_with, pair

__all__ = ["core_with", "pair"]  # fixtures


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[TansuBroker]:
    tansu = TansuBroker(tmp_path_factory.mktemp("tansu")).start()
    yield tansu
    tansu.kill()


def send(endpoint: str, fill: int, *modes: str) -> None:
    """What BKP-LHC-Client sends: an events.Event with beamModeEvent, the fill number as an integer key."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    config = client_config([endpoint])
    create_topics(AdminClient(config), [TOPIC], endpoint)
    producer = Producer({**config, "acks": "all"})
    for mode in modes:
        info = common_pb2.BeamInfo(
            fillNumber=fill, beamMode=common_pb2.BeamMode.Value(mode), beamType="PROTON-PROTON", stableBeamsStart=1700
        )
        event = events_pb2.Event(timestamp=1, beamModeEvent=events_pb2.Ev_BeamModeEvent(timestamp=1, beamInfo=info))
        producer.produce(TOPIC, value=event.SerializeToString(), key=struct.pack(">i", fill))
    assert producer.flush(10) == 0


def update_fill_info(plugin: LhcPlugin) -> dict[str, str]:
    root = SimpleNamespace(user_vars={"fill_info_fill_number": "stale"}, root=lambda: root)
    plugin.call_stack(SimpleNamespace(role=root, var_stack={})).UpdateFillInfo()
    return root.user_vars


@pytest.mark.slow
def test_the_last_beam_mode_is_taken_at_start_without_acting_and_each_new_one_is_published(broker):
    send(broker.endpoint, 8001, "INJECTION_PHYSICS_BEAM", "STABLE_BEAMS")
    published: queue.Queue[events_pb2.Event] = queue.Queue()
    plugin = LhcPlugin(f"kafka://{broker.endpoint}")
    plugin.publish = published.put
    plugin.init("framework")
    try:
        replayed = plugin.beam()
        assert replayed is not None and (replayed.beamMode, replayed.fillNumber) == (common_pb2.STABLE_BEAMS, 8001)
        assert published.empty()  # the state at start is not an event: nothing acts on it
        fill = update_fill_info(plugin)
        assert fill["fill_info_beam_mode"] == "STABLE_BEAMS" and fill["fill_info_fill_number"] == "8001"
        assert fill["fill_info_beam_type"] == "PROTON-PROTON" and fill["fill_info_stable_beams_start_ms"] == "1700"

        send(broker.endpoint, 8001, "BEAM_DUMP")
        event = published.get(timeout=5)
        assert event.beamModeEvent.beamInfo.beamMode == common_pb2.BEAM_DUMP
        send(broker.endpoint, 8001, "NO_BEAM")
        assert published.get(timeout=5).beamModeEvent.beamInfo.beamMode == common_pb2.NO_BEAM
        assert update_fill_info(plugin) == {"fill_info_beam_mode": "NO_BEAM"}  # no beam: the rest removed
    finally:
        plugin.destroy()


@pytest.mark.slow
def test_a_beam_dump_from_the_mock_lhc_stops_within_2_s_as_user_lhc_only_the_runs_that_asked(
    broker, core_with, pair, tmp_path
):
    coconut = core_with({"core": {"integrationPlugins": ["lhc"], "lhcEndpoint": broker.endpoint}})
    runs = {}
    for asked in ("true", "false"):
        args = ("env", "create", "-w", "pair", "--repo", str(pair), "-e", f"stop_at_beam_dump={asked}", "-o", "json")
        environment_id = coconut(*args).json()["environment"]["id"]
        coconut("env", "control", environment_id, "-e", "START")
        shown = coconut("env", "show", environment_id, "-o", "json").json()["environment"]
        runs[asked] = (environment_id, shown["currentRunNumber"])
    remember(coconut)
    script = tmp_path / "dump.yaml"
    script.write_text("fill: 9001\nsteps:\n  - {mode: STABLE_BEAMS}\n  - {mode: BEAM_DUMP}\n")

    coconut("mock", "lhc", "--script", str(script), "--broker", broker.endpoint)
    sent = time.monotonic()
    stops, keeps = runs["true"], runs["false"]
    eventually(lambda: coconut.state(stops[0]) == "CONFIGURED", timeout=5, what="the beam-dump stop")
    assert time.monotonic() - sent < 2.0
    assert coconut("runs", "show", str(stops[1]), "-o", "json").json()["run"]["stoppedBy"] == "LHC"
    run_events = [e["event"]["runEvent"] for e in coconut("events", "query", "--kind", "run", "-o", "json").json()]
    stop_users = {
        (e["lastRequestUser"]["name"], e["lastRequestUser"]["externalId"])
        for e in run_events
        if e["environmentId"] == stops[0] and e["transition"] == "STOP_ACTIVITY"
    }
    assert stop_users == {("LHC", 60)}  # what Bookkeeping reads as the EOR reason "Dump"
    assert coconut.state(keeps[0]) == "RUNNING"
    history = coconut("watchdog", "show", "beam-dump", "-o", "json").json()["watchdog"]["history"]
    assert any(f"stopping {stops[0]}" == h["message"] for h in history)
    for environment_id, _ in runs.values():
        coconut("env", "destroy", environment_id, "--allow-in-running-state")


@pytest.mark.slow
def test_a_broker_down_when_the_core_starts_is_followed_once_it_is_up(tmp_path):
    tansu = TansuBroker(tmp_path)  # its port chosen, not started yet
    published: queue.Queue[events_pb2.Event] = queue.Queue()
    plugin = LhcPlugin(tansu.endpoint)
    plugin.publish = published.put
    plugin.init("framework")
    try:
        assert plugin.connection_state() == "TRANSIENT_FAILURE" and plugin.data()["error"]
        tansu.start()
        deadline = time.monotonic() + 30
        while plugin.connection_state() != "READY":
            assert time.monotonic() < deadline, f"not following the broker: {plugin.data()['error']}"
            time.sleep(0.05)
        send(tansu.endpoint, 8002, "BEAM_DUMP")
        assert published.get(timeout=5).beamModeEvent.beamInfo.fillNumber == 8002
    finally:
        plugin.destroy()
        tansu.kill()


@pytest.mark.slow
def test_a_broker_restarted_empty_shows_as_an_outage_and_beam_modes_are_followed_again(tmp_path):
    tansu = TansuBroker(tmp_path).start()
    send(tansu.endpoint, 8003, "STABLE_BEAMS")
    published: queue.Queue[events_pb2.Event] = queue.Queue()
    plugin = LhcPlugin(tansu.endpoint)
    plugin.publish = published.put
    plugin.init("framework")
    try:
        assert plugin.connection_state() == "READY"
        tansu.kill()
        eventually(lambda: plugin.connection_state() == "TRANSIENT_FAILURE", timeout=10, what="the outage shown")
        assert "the broker does not answer" in plugin.data()["error"]
        tansu.restart()  # in memory: back without the topic
        eventually(lambda: plugin.connection_state() == "READY", timeout=30, what="following the broker again")
        assert plugin.data()["error"] == "" and published.empty()
        send(tansu.endpoint, 8003, "BEAM_DUMP")
        assert published.get(timeout=5).beamModeEvent.beamInfo.beamMode == common_pb2.BEAM_DUMP
    finally:
        plugin.destroy()
        tansu.kill()


def test_without_kafka_the_beam_mode_is_read_from_a_runtime_entry():
    from ecs_engine.config import Configuration

    config = Configuration.from_tree({"o2": {"runtime": {"lhc": {"beam_mode": "STABLE_BEAMS"}}}})
    published: queue.Queue[events_pb2.Event] = queue.Queue()
    plugin = LhcPlugin("runtime://lhc/beam_mode")
    plugin.config, plugin.publish = config, published.put
    plugin.init("framework")
    try:
        assert plugin.beam().beamMode == common_pb2.STABLE_BEAMS and published.empty()  # taken, not acted on
        config.runtime_set("lhc", "beam_mode", '{"beamMode": "BEAM_DUMP", "fillNumber": 9003}')
        dump = published.get(timeout=5).beamModeEvent.beamInfo
        assert (dump.beamMode, dump.fillNumber) == (common_pb2.BEAM_DUMP, 9003)
        config.runtime_set("lhc", "beam_mode", "NO_BEAM")
        assert published.get(timeout=5).beamModeEvent.beamInfo.beamMode == common_pb2.NO_BEAM
        shown = plugin.data()  # GetIntegratedServices
        assert (shown["source"], shown["beamMode"], plugin.connection_state()) == (
            "runtime://lhc/beam_mode",
            "NO_BEAM",
            "READY",
        )
    finally:
        plugin.destroy()


@pytest.mark.slow
def test_a_beam_dump_written_to_the_runtime_entry_stops_the_run_as_user_lhc(core_with, pair):
    settings = {"integrationPlugins": ["lhc"], "lhcEndpoint": "runtime://lhc/beam_mode"}
    coconut = core_with({"core": settings})
    coconut("config", "runtime", "set", "lhc", "beam_mode", "STABLE_BEAMS")
    args = ("env", "create", "-w", "pair", "--repo", str(pair), "-e", "stop_at_beam_dump=true", "-o", "json")
    environment_id = coconut(*args).json()["environment"]["id"]
    coconut("env", "control", environment_id, "-e", "START")
    run = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["currentRunNumber"]
    remember(coconut)

    coconut("config", "runtime", "set", "lhc", "beam_mode", "BEAM_DUMP")
    eventually(lambda: coconut.state(environment_id) == "CONFIGURED", timeout=10, what="the beam-dump stop")
    assert coconut("runs", "show", str(run), "-o", "json").json()["run"]["stoppedBy"] == "LHC"
    beam = coconut("events", "query", "--kind", "beamMode", "-o", "json").out
    assert "BEAM_DUMP" in beam and "STABLE_BEAMS" not in beam  # the value at start is not an event
    coconut("env", "destroy", environment_id)
