"""The legacy ``kafka`` plugin while its broker is down: its init and its workflow calls do not wait for the broker
(a transition must not), and what they publish meanwhile goes out, in order, once it answers (a real broker)."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

from confluent_kafka.admin import AdminClient

from ecs_backends.integrations.kafka import ACTIVE_RUNS_TOPIC, KafkaPlugin
from ecs_engine.protocols import kafka_pb2
from tests.waiting import eventually, eventually_async

from .broker import TansuBroker
from .consumer import read
from .test_legacy_plugin import call

#: a call or init "returns at once": far above what they take (well under a ms), far below the broker's 5 s
AT_ONCE = 1.0
SOR_TOPIC = "aliecs.env_state.RUNNING"


async def timed_publish(plugin: KafkaPlugin, durations: list[float], stack: SimpleNamespace, function: str) -> None:
    began = time.monotonic()
    await getattr(plugin.call_stack(stack), function)()
    durations.append(time.monotonic() - began)
    assert "__call_error" not in stack.var_stack


async def publish_a_run(plugin: KafkaPlugin) -> list[float]:
    """envA's run 21 starts, then envB's run 22 (announced before its start), then envA's run ends; returns how long
    each call took."""
    durations: list[float] = []
    await timed_publish(plugin, durations, call("enter_RUNNING", "envA", '["TPC"]', "21"), "PublishEnterStateUpdate")
    before_b = call("before_START_ACTIVITY", "envB", '["TPC","ITS"]', "22")
    await timed_publish(plugin, durations, before_b, "PublishStartActivityUpdate")
    await timed_publish(
        plugin, durations, call("enter_RUNNING", "envB", '["TPC","ITS"]', "22"), "PublishEnterStateUpdate"
    )
    await timed_publish(plugin, durations, call("leave_RUNNING", "envA", '["TPC"]', "21"), "PublishLeaveStateUpdate")
    return durations


def read_the_run(endpoint: str, lists_before: int) -> dict[str, list[bytes]]:
    """Every message of the run's topics, once all of them (and ``lists_before`` earlier active-runs lists) are in."""
    counts = {SOR_TOPIC: 2, "aliecs.before_start_activity": 1, "aliecs.env_leave_state.RUNNING": 1}
    counts[ACTIVE_RUNS_TOPIC] = lists_before + 3

    # made by the plugin, not by the consumer's request for them below (Tansu makes a topic a consumer asks for)
    admin = AdminClient({"bootstrap.servers": endpoint})
    eventually(lambda: set(counts) <= set(admin.list_topics(timeout=2).topics), what="the topics made by the plugin")

    def complete(messages: list) -> bool:
        return all(sum(1 for m in messages if m.topic() == t) >= n for t, n in counts.items())

    messages = read(endpoint, list(counts), complete)
    return {topic: [m.value() for m in messages if m.topic() == topic] for topic in counts}


def assert_the_run(topics: dict[str, list[bytes]]) -> None:
    sor = [kafka_pb2.NewStateNotification.FromString(v).envInfo for v in topics[SOR_TOPIC]]
    assert [(i.environmentId, i.runNumber) for i in sor] == [("envA", 21), ("envB", 22)]
    announced = kafka_pb2.NewStateNotification.FromString(topics["aliecs.before_start_activity"][0]).envInfo
    assert (announced.environmentId, announced.state) == ("envB", "CONFIGURED")
    eor = kafka_pb2.NewStateNotification.FromString(topics["aliecs.env_leave_state.RUNNING"][0]).envInfo
    assert (eor.environmentId, eor.runNumber) == ("envA", 21)


def active_runs(topics: dict[str, list[bytes]]) -> list[list[str]]:
    lists = [kafka_pb2.ActiveRunsList.FromString(v) for v in topics[ACTIVE_RUNS_TOPIC]]
    return [[e.environmentId for e in runs.activeRuns] for runs in lists]


async def test_init_and_calls_do_not_wait_for_a_broker_never_up_and_all_goes_out_once_it_answers(tmp_path):
    """Before: init waited ~5 s for the broker, and each call ~5 s and then failed (its topic could not be made)."""
    broker = TansuBroker(tmp_path)  # not started: nothing listens on its port
    plugin = KafkaPlugin(broker.endpoint)
    try:
        began = time.monotonic()
        plugin.init("framework")
        took = time.monotonic() - began
        assert took < AT_ONCE, f"init took {took:.3f} s with the broker down"
        durations = await publish_a_run(plugin)
        assert max(durations) < AT_ONCE, f"calls took {durations} s with the broker down"
        assert plugin.connection_state() == "TRANSIENT_FAILURE"

        broker.start()
        await eventually_async(lambda: plugin.connection_state() == "READY", timeout=30, what="the broker answers")
        topics = read_the_run(broker.endpoint, lists_before=1)
    finally:
        plugin.destroy()
        broker.kill()
    assert_the_run(topics)
    assert active_runs(topics) == [[], ["envA"], ["envB", "envA"], ["envB"]]  # the start's, then the run's


async def test_calls_do_not_wait_for_a_broker_gone_and_their_messages_go_out_in_order_when_it_is_back(tmp_path):
    """The broker goes away after the plugin made topics on it, and comes back empty (memory storage, as one whose
    disks were lost): the calls meanwhile return at once, and their messages, for topics made before and new ones,
    are all delivered in order once it answers again (the lost topics made again). Before: each call to a new topic
    waited ~5 s and failed, and the messages to topics made before were lost with them."""
    broker = TansuBroker(tmp_path).start()
    plugin = KafkaPlugin(broker.endpoint)
    try:
        plugin.init("framework")
        await eventually_async(lambda: plugin.connection_state() == "READY", what="the broker answers")
        await timed_publish(plugin, [], call("enter_RUNNING", "env0", '["TPC"]', "20"), "PublishEnterStateUpdate")
        read(broker.endpoint, [SOR_TOPIC, ACTIVE_RUNS_TOPIC], lambda messages: len(messages) >= 3)
        broker.kill()

        durations = await publish_a_run(plugin)
        assert max(durations) < AT_ONCE, f"calls took {durations} s with the broker gone"

        await eventually_async(lambda: plugin.connection_state() == "TRANSIENT_FAILURE", what="the broker seen gone")
        broker.restart()
        await eventually_async(lambda: plugin.connection_state() == "READY", timeout=30, what="the broker back")
        topics = read_the_run(broker.endpoint, lists_before=0)  # the broker came back empty
    finally:
        plugin.destroy()
        broker.kill()
    assert_the_run(topics)
    assert active_runs(topics) == [["env0", "envA"], ["envB", "env0", "envA"], ["envB", "env0"]]


async def test_destroy_with_the_broker_down_is_bounded_and_says_what_was_not_delivered(tmp_path, caplog):
    broker = TansuBroker(tmp_path)  # never started
    plugin = KafkaPlugin(broker.endpoint)
    plugin.init("framework")
    await publish_a_run(plugin)
    with caplog.at_level(logging.WARNING):
        began = time.monotonic()
        plugin.destroy()
        took = time.monotonic() - began
    assert took < 6.0, f"destroy took {took:.1f} s"
    assert any("not delivered at the stop" in r.getMessage() for r in caplog.records), caplog.text
