"""The outbox on a real broker: integrated-service events on their service's topic, and a core restart that
neither loses nor repeats what was delivered."""

from __future__ import annotations

import json

from ecs_backends.events.kafka import START_TOPICS, KafkaPublisher
from ecs_engine.events import EventBus, model
from ecs_engine.events.journal import EventJournal, JournalEntry
from ecs_engine.events.outbox import STALLED, Outbox
from tests.waiting import eventually

from .broker import TansuBroker, free_port
from .consumer import consume, read


def trg_event(environment_id: str, operation: str, run: int) -> model.Event:
    payload = json.dumps({"trgRequest": {"runn": run}})
    return model.integrated_service_event(
        environment_id,
        service="readout-dataflow.trg.sor",
        operation=operation,
        status=model.DONE_OK,
        step_status=model.DONE_OK,
        payload=payload,
    )


def open_outbox(tmp_path, broker, bus: EventBus, journal: EventJournal) -> Outbox:
    outbox = Outbox(journal, KafkaPublisher([broker.endpoint]), tmp_path / "position.json")
    outbox.start(bus)
    return outbox


def test_trigger_events_reach_bookkeeping_and_a_restart_resumes_where_delivery_stopped(tmp_path, kafka_broker):
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    bus.add_sink(journal)
    outbox = open_outbox(tmp_path, kafka_broker, bus, journal)
    bus.publish(trg_event("envTRG", "trg.RunStart()", 7))
    eventually(lambda: outbox.status().lag == 0 and outbox.status().delivered_seq == 1, what="delivery")
    outbox.close()
    bus.publish(trg_event("envTRG", "trg.RunStop()", 7))  # while no outbox runs: delivered at the next start
    bus.publish(trg_event("envTRG", "testplugin.Test()", 7))  # a service without a topic yet: created first
    outbox = open_outbox(tmp_path, kafka_broker, bus, journal)
    try:
        topics = ["aliecs.integrated_service.trg", "aliecs.integrated_service.testplugin"]
        got = consume(kafka_broker.endpoint, topics, lambda got: {m.seq for m in got} >= {1, 2, 3})
    finally:
        outbox.close()
        journal.close()
    mine = [m for m in got if m.key == "envTRG"]
    # Bookkeeping: the run number from the payload, timeTrgStart/End from RunStart()/RunStop() DONE_OK
    trg = [m.event.integratedServiceEvent for m in mine if m.topic == "aliecs.integrated_service.trg"]
    assert [(e.operationName, e.operationStepStatus) for e in trg] == [
        ("trg.RunStart()", model.DONE_OK),
        ("trg.RunStop()", model.DONE_OK),
    ]
    assert {json.loads(e.payload)["trgRequest"]["runn"] for e in trg} == {7}
    assert sorted(m.seq for m in mine) == [1, 2, 3]  # each once: the restart resent nothing delivered


def test_an_event_too_large_for_kafka_is_skipped_and_does_not_hold_back_the_next(tmp_path, kafka_broker):
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    bus.add_sink(journal)
    outbox = open_outbox(tmp_path, kafka_broker, bus, journal)
    try:
        huge = model.integrated_service_event("envBIG", service="s", operation="odc.Configure()", status=model.DONE_OK)
        huge.integratedServiceEvent.payload = "x" * 2_000_000  # over librdkafka's 1 MB message.max.bytes
        bus.publish(huge)
        bus.publish(trg_event("envBIG", "odc.Start()", 8))
        got = consume(
            kafka_broker.endpoint, ["aliecs.integrated_service.odc"], lambda got: any(m.seq == 2 for m in got)
        )
    finally:
        outbox.close()
        journal.close()
    assert [m.seq for m in got if m.key == "envBIG"] == [2]


def test_topics_made_again_after_a_broker_came_back_empty_have_one_partition(tmp_path):
    """Each topic is one ordered stream (docs/events.md). A broker that came back empty is asked about the topics by
    the producer's reconnection before the publisher makes them again; that question must not make them (with the
    broker's own partition count: 4 on Tansu, and an environment's events then left partition 0 unread by whoever
    reads the one partition the topic has)."""
    from confluent_kafka.admin import AdminClient

    broker = TansuBroker(tmp_path).start()
    publisher = KafkaPublisher([broker.endpoint])
    try:
        publisher.prepare()
        publisher.send([JournalEntry(1, model.environment_event("envP", state="STANDBY"))])
        broker.kill()
        broker.restart()  # empty: its storage was in memory
        publisher._producer.list_topics("aliecs.environment", timeout=5)  # what the reconnection asks first
        publisher.prepare()
        publisher.send([JournalEntry(2, model.environment_event("envP", state="CONFIGURED"))])
        topics = AdminClient({"bootstrap.servers": broker.endpoint}).list_topics(timeout=5).topics
        assert {t: len(topics[t].partitions) for t in START_TOPICS} == dict.fromkeys(START_TOPICS, 1)
        assert [m.seq for m in consume(broker.endpoint, ["aliecs.environment"])] == [2]
    finally:
        publisher.close()
        broker.kill()


def test_an_idle_outbox_shows_a_broker_gone_and_back_empty_and_makes_its_topics_again(tmp_path):
    """``coconut info`` said 'connected, lag 0' for as long as no event was sent after the broker went away."""
    broker = TansuBroker(tmp_path).start()
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    bus.add_sink(journal)
    outbox = open_outbox(tmp_path, broker, bus, journal)
    try:
        eventually(lambda: outbox.status().connected, what="connected")
        broker.kill()  # nothing to send meanwhile
        eventually(lambda: not outbox.status().connected, timeout=15, what="the idle outbox sees the broker gone")
        assert "Kafka at" in outbox.status().error
        broker.restart()  # empty: its storage was in memory
        eventually(lambda: outbox.status().connected, timeout=30, what="connected again")
        from confluent_kafka.admin import AdminClient

        topics = AdminClient({"bootstrap.servers": broker.endpoint}).list_topics(timeout=5).topics
        assert set(START_TOPICS) <= set(topics)  # made again before anything was sent
    finally:
        outbox.close()
        journal.close()
        broker.kill()


def test_a_journal_replaced_behind_the_outbox_position_is_delivered_from_its_first_event(tmp_path, kafka_broker):
    """events.sqlite removed (or restored from a copy) while kafka-outbox.json stayed: the outbox waited for the new
    journal's numbers to pass its position, so its first events never went out, and the status said lag only."""
    (tmp_path / "position.json").write_text(json.dumps({"delivered_seq": 50}))
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    bus.add_sink(journal)
    outbox = open_outbox(tmp_path, kafka_broker, bus, journal)
    try:
        bus.publish(trg_event("envNEW", "trg.RunStart()", 9))
        bus.publish(trg_event("envNEW", "trg.RunStop()", 9))
        got = consume(
            kafka_broker.endpoint,
            ["aliecs.integrated_service.trg"],
            lambda got: len([m for m in got if m.key == "envNEW"]) == 2,
            timeout=15,
        )
        eventually(lambda: outbox.status().lag == 0, what="nothing left to deliver")
    finally:
        outbox.close()
        journal.close()
    assert [m.seq for m in got if m.key == "envNEW"] == [1, 2]
    assert json.loads((tmp_path / "position.json").read_text())["delivered_seq"] == 2


def test_the_status_says_why_before_the_broker_first_answers(tmp_path):
    """A core started while the broker was down showed 'unreachable ()' until the first attempt failed (5 s)."""
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    outbox = Outbox(journal, KafkaPublisher([f"127.0.0.1:{free_port()}"]), tmp_path / "position.json")
    outbox.start(bus)
    try:
        status = outbox.status()
        assert not status.connected and status.error
    finally:
        outbox.close()
        journal.close()


def test_a_batch_waiting_on_a_broker_gone_shows_it_unreachable_before_the_batch_fails(tmp_path):
    """The docs promise 'unreachable within about 3 s'; a batch on its way waits 5 s for its failure, and 'coconut
    info' said 'connected' with a growing lag meanwhile."""
    broker = TansuBroker(tmp_path).start()
    bus = EventBus()
    journal = EventJournal(tmp_path / "events.sqlite")
    bus.add_sink(journal)
    outbox = open_outbox(tmp_path, broker, bus, journal)
    try:
        bus.publish(trg_event("envGONE", "trg.RunStart()", 10))
        eventually(lambda: outbox.status().delivered_seq == 1, what="the first event delivered")
        broker.kill()
        bus.publish(trg_event("envGONE", "trg.RunStop()", 10))
        eventually(lambda: not outbox.status().connected, timeout=STALLED + 1.5, what="the broker shown gone")
        assert outbox.status().error
    finally:
        outbox.close()
        journal.close()
        broker.kill()


def test_a_record_is_stamped_with_its_event_s_time_also_when_sent_late(tmp_path, kafka_broker):
    """Records carried the time they were sent: after an outage, hours late, and a consumer looking for the events
    since a time (``offsets_for_times``) or showing record times (kcat, Kafka UIs) placed them at delivery."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME

    publisher = KafkaPublisher([kafka_broker.endpoint])
    late = model.environment_event("envLATE", state="RUNNING")
    late.timestamp -= 3_600_000  # an hour ago: held back by an outage
    try:
        publisher.prepare()
        publisher.send([JournalEntry(1, late)])
        messages = read(
            kafka_broker.endpoint, ["aliecs.environment"], lambda got: any(m.key() == b"envLATE" for m in got)
        )
    finally:
        publisher.close()
    assert [m.timestamp() for m in messages if m.key() == b"envLATE"] == [(TIMESTAMP_CREATE_TIME, late.timestamp)]
