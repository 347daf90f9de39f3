"""The legacy ``kafka`` integration plugin on a real broker, read as BKP-LHC-Client and Monitoring read it."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from ecs_backends.integrations.kafka import ACTIVE_RUNS_TOPIC, KafkaPlugin
from ecs_engine.environment import Integrations
from ecs_engine.plugins import plugin_manager
from ecs_engine.protocols import kafka_pb2
from tests.waiting import eventually_async

from .broker import TansuBroker
from .consumer import consume_raw


def call(trigger: str, environment_id: str, detectors: str, run: str = "") -> SimpleNamespace:
    stack = {
        "__call_trigger": trigger,
        "environment_id": environment_id,
        "detectors": detectors,
        "enter_state_time_ms": "1700000000123",
        "run_number": run,
        "run_type": "PHYSICS",
    }
    return SimpleNamespace(var_stack=stack)


async def test_start_and_end_of_run_notifications_and_the_active_runs_list(kafka_broker):
    plugin = KafkaPlugin(kafka_broker.endpoint)
    plugin.init("framework")
    try:
        for environment_id, detectors, run in (("envTPC", '["TPC"]', "11"), ("envITS", '["TPC","ITS"]', "12")):
            await plugin.call_stack(call("enter_RUNNING", environment_id, detectors, run)).PublishEnterStateUpdate()
        await plugin.call_stack(call("leave_RUNNING", "envTPC", '["TPC"]', "11")).PublishLeaveStateUpdate()
        no_detectors = call("enter_RUNNING", "envX", "")
        await plugin.call_stack(no_detectors).PublishEnterStateUpdate()
    finally:
        plugin.destroy()
    assert "detectors" in no_detectors.var_stack["__call_error"]  # nothing sent without them, as upstream

    sor = [
        kafka_pb2.NewStateNotification.FromString(v)
        for v in consume_raw(kafka_broker.endpoint, "aliecs.env_state.RUNNING")
    ]
    assert [(n.envInfo.environmentId, n.envInfo.runNumber) for n in sor][-2:] == [("envTPC", 11), ("envITS", 12)]
    assert all(n.timestamp > 0 and n.envInfo.enterStateTimestamp == 1700000000123 for n in sor)
    eor = kafka_pb2.NewStateNotification.FromString(
        consume_raw(kafka_broker.endpoint, "aliecs.env_leave_state.RUNNING")[-1]
    )
    assert (eor.envInfo.environmentId, eor.envInfo.runNumber, eor.envInfo.state) == ("envTPC", 11, "RUNNING")

    lists = [
        kafka_pb2.ActiveRunsList.FromString(v) for v in consume_raw(kafka_broker.endpoint, "aliecs.env_list.RUNNING")
    ]
    both, after_eor = lists[-2], lists[-1]
    # two detectors beat one; detectors sorted within each environment
    assert [(e.environmentId, list(e.detectors)) for e in both.activeRuns] == [
        ("envITS", ["ITS", "TPC"]),
        ("envTPC", ["TPC"]),
    ]
    assert [e.environmentId for e in after_eor.activeRuns] == ["envITS"]


async def test_enable_kafka_false_turns_the_legacy_plugin_off_too(kafka_broker):
    """``enableKafka: false`` turns all Kafka off (docs/events.md); the plugin still published to ``kafkaEndpoint``."""
    plugin = KafkaPlugin(kafka_broker.endpoint)
    plugin.settings = {"enableKafka": False}
    plugin.init("framework")
    try:
        stack = call("enter_RUNNING", "envOFF", '["TPC"]', "13")
        await plugin.call_stack(stack).PublishEnterStateUpdate()
    finally:
        plugin.destroy()
    assert plugin.connection_state() == "IDLE"
    assert "enableKafka" in stack.var_stack["__call_error"]


async def test_the_state_is_the_broker_s_from_a_start_with_the_broker_down_on(tmp_path, caplog):
    """Before: READY while the broker was down, and a start with it down was logged with a traceback."""
    broker = TansuBroker(tmp_path)  # not started yet: nothing listens on its port
    integrations = Integrations.from_plugins(
        plugin_manager(), {"integrationPlugins": "kafka", "kafkaEndpoint": broker.endpoint}
    )

    def state() -> str:
        return integrations.services()["kafka"]["connectionState"]

    try:
        with caplog.at_level(logging.INFO):
            await integrations.init("framework")
            assert state() == "TRANSIENT_FAILURE"
            # init returns at once: its thread's first look (not init) finds the broker down, before it starts
            await eventually_async(lambda: any(r.levelno == logging.WARNING for r in caplog.records), what="a look")
            broker.start()
            await eventually_async(lambda: state() == "READY", what="the plugin sees the broker answer")
            # the list of active runs of the start goes out once the broker answers
            listed = await eventually_async(lambda: consume_raw(broker.endpoint, ACTIVE_RUNS_TOPIC), what="the list")
            broker.kill()
            await eventually_async(lambda: state() == "TRANSIENT_FAILURE", what="the plugin sees the broker gone")
    finally:
        integrations.destroy()
        broker.kill()
    assert [list(kafka_pb2.ActiveRunsList.FromString(v).activeRuns) for v in listed] == [[]]
    ours = [r for r in caplog.records if r.name.startswith(("ecs_backends.integrations", "ecs_engine.environment"))]
    warnings = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert len(warnings) == 2 and not any(r.exc_info for r in ours), warnings  # one line each time it went away
    assert all(w.startswith(f"kafka: Kafka at {broker.endpoint}") and "\n" not in w for w in warnings)
    assert [r.getMessage() for r in ours if "answers again" in r.getMessage()] == [
        f"kafka: Kafka at {broker.endpoint} answers again"
    ]
