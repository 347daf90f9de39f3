"""The core's events on Kafka, checked the way their consumers read them (integrations.md §2.3).

A real core (the embedded default, through coconut) publishes to a real Tansu broker; the consumers filter
with the exact strings Bookkeeping, QualityControl and the AliECS GUI use.
"""

from __future__ import annotations

import json
import re

import pytest

from ecs_backends.events.kafka import START_TOPICS
from ecs_engine.protocols import events_pb2
from tests.waiting import eventually

from ..e2e.conftest import Coconut, alive, remember
from .broker import TansuBroker
from .consumer import Received, consume

pytestmark = pytest.mark.slow

HOSTS = 'hosts=["flp001","flp002"]'
TOPICS = ["aliecs.environment", "aliecs.run", "aliecs.task", "aliecs.role", "aliecs.call"]


def kafka_coconut(tmp_path, broker: TansuBroker) -> Coconut:
    return Coconut(tmp_path, {"core": {"nodes": ["flp001", "flp002"], "kafkaEndpoints": [broker.endpoint]}})


def of(environment_id: str, messages: list[Received]) -> list[Received]:
    return [m for m in messages if (m.event.WhichOneof("Payload") or "") and _env(m.event) == environment_id]


def _env(event: events_pb2.Event) -> str:
    return getattr(getattr(event, event.WhichOneof("Payload")), "environmentId", "")


def destroyed(environment_id: str):
    def done(messages: list[Received]) -> bool:
        return any(
            m.event.environmentEvent.message == "environment destroyed"
            for m in of(environment_id, messages)
            if m.topic == "aliecs.environment"
        )

    return done


def run_cycle(coconut: Coconut, environment_id: str) -> dict[str, int]:
    """START then STOP; the run's number and its start/end times as the environment's variables hold them."""
    started = coconut("env", "control", environment_id, "-e", "START_ACTIVITY", "-o", "json").json()
    coconut("env", "control", environment_id, "-e", "STOP_ACTIVITY")
    user_vars = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["userVars"]
    return {
        "run": int(started["currentRunNumber"]),
        "start": int(user_vars["run_start_time_ms"]),
        "end": int(user_vars["run_end_time_ms"]),
    }


def event_service(coconut: Coconut) -> dict:
    return coconut("info", "-o", "json").json()["services"]["services"]["events"]


def settled(coconut: Coconut, broker: TansuBroker) -> list[Received] | None:
    """What the broker holds, when that is every event the core delivered and the core delivered all it has."""
    first = json.loads(event_service(coconut)["data"])
    held = consume(broker.endpoint, TOPICS)
    then = json.loads(event_service(coconut)["data"])
    quiet = first["lag"] == then["lag"] == 0 and first["deliveredSeq"] == then["deliveredSeq"]
    return held if quiet and held and max(m.seq for m in held) >= int(first["deliveredSeq"]) else None


@pytest.fixture
def stop_core():
    started: list[Coconut] = []
    yield started.append
    for coconut in started:
        coconut("core", "stop", "--force", check=False)
        pids = getattr(coconut, "seen_pids", set())
        assert not [pid for pid in pids if alive(pid)], "task processes left behind"


def test_bookkeeping_qc_and_gui_consumers_see_the_environment_and_its_runs(tmp_path, kafka_broker, stop_core):
    coconut = kafka_coconut(tmp_path, kafka_broker)
    coconut.seen_pids = set()
    stop_core(coconut)
    created = coconut("env", "create", "-w", "dataflow-demo", "-e", HOSTS, "-o", "json").json()["environment"]
    environment_id = created["id"]
    remember(coconut)
    runs = [run_cycle(coconut, environment_id), run_cycle(coconut, environment_id)]
    coconut("env", "destroy", environment_id)

    from confluent_kafka.admin import AdminClient

    messages = of(environment_id, consume(kafka_broker.endpoint, TOPICS, destroyed(environment_id)))
    admin = AdminClient({"bootstrap.servers": kafka_broker.endpoint})
    assert set(START_TOPICS) <= set(admin.list_topics(timeout=10).topics)  # created at start, dcs/odc/trg too

    # Bookkeeping (aliecs.environment): the environment is created from the one event that carries vars
    with_vars = [m.event for m in messages if m.topic == "aliecs.environment" and m.event.environmentEvent.vars]
    assert [e.environmentEvent.transitionStep for e in with_vars] == ["after_CREATE"]
    variables = with_vars[0].environmentEvent.vars
    assert json.loads(variables["hosts"]) == ["flp001", "flp002"]
    assert variables["environment_id"] == environment_id
    booleans = {k: v for k, v in variables.items() if v.lower() in ("true", "false")}
    assert booleans and all(v in ("true", "false") for v in booleans.values()), booleans  # JSON.parse-able
    assert with_vars[0].timestampNano // 1_000_000 == with_vars[0].timestamp

    # QualityControl (aliecs.run): SOR and EOR with the run number, stamped with the run's start and end
    run_events = [m.event.runEvent for m in messages if m.topic == "aliecs.run"]
    stamps = [m.event.timestamp for m in messages if m.topic == "aliecs.run"]
    sor = [
        (r.runNumber, t)
        for r, t in zip(run_events, stamps, strict=True)
        if r.transition == "START_ACTIVITY" and r.state == "CONFIGURED" and r.transitionStatus == events_pb2.STARTED
    ]
    eor = [
        (r.runNumber, t)
        for r, t in zip(run_events, stamps, strict=True)
        if r.transition in ("STOP_ACTIVITY", "TEARDOWN")
        and r.state == "RUNNING"
        and r.transitionStatus == events_pb2.STARTED
    ]
    assert sor == [(r["run"], r["start"]) for r in runs]
    assert eor == [(r["run"], r["end"]) for r in runs]
    # Bookkeeping's timeO2Start comes with the user who asked
    assert all(r.lastRequestUser.name for r in run_events if r.transition == "START_ACTIVITY")

    # keys: the environment id, the task id for task events (the GUI follows tasks by id)
    assert {m.key for m in messages if m.topic != "aliecs.task"} == {environment_id}
    tasks = [m for m in messages if m.topic == "aliecs.task"]
    assert tasks and all(m.key == m.event.taskEvent.taskid for m in tasks)
    # one journal sequence number per event, in the message and its header, increasing on every topic
    assert all(m.event.sequence == m.seq for m in messages)
    for topic in TOPICS:
        seqs = [m.seq for m in messages if m.topic == topic]
        assert seqs == sorted(set(seqs)), topic


def test_a_broker_down_during_a_run_loses_nothing_and_blocks_nothing(tmp_path, stop_core):
    broker = TansuBroker(tmp_path).start()
    try:
        coconut = kafka_coconut(tmp_path / "core", broker)
        coconut.seen_pids = set()
        stop_core(coconut)
        environment_id = coconut("env", "create", "-w", "dataflow-demo", "-e", HOSTS, "-o", "json").json()[
            "environment"
        ]["id"]
        remember(coconut)
        coconut("env", "control", environment_id, "-e", "START_ACTIVITY")
        # all the broker has (it loses them when it is killed), once it holds every event delivered and none is on
        # its way: an event acked between this read and the kill would be the broker's loss, not the core's
        before = eventually(lambda: settled(coconut, broker), what="the run's events delivered, none on the way")

        broker.kill()
        coconut("env", "control", environment_id, "-e", "STOP_ACTIVITY")  # transitions go on without the broker
        second = run_cycle(coconut, environment_id)
        info = eventually(
            lambda: (found := event_service(coconut))["connectionState"] == "TRANSIENT_FAILURE" and found,
            what="the core reports the broker unreachable",
        )
        assert json.loads(info["data"])["lag"] > 0
        broker.restart()  # empty: its storage was in memory
        coconut("env", "destroy", environment_id)

        last_look = ["none"]  # what the last look found short, for the message of a failure

        def whole() -> list[Received] | None:
            """What the restarted broker holds once that is every event, deduplicated by sequence number, with no
            gap; None before. Each look is a new consumer, which reads the topics from their start."""
            try:
                after = consume(broker.endpoint, TOPICS, destroyed(environment_id), timeout=10)
            except AssertionError as exc:
                last_look[0] = f"reading the broker: {exc}"
                return None
            seqs = sorted({m.seq for m in before + after})
            missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
            last_look[0] = (
                f"sequence numbers {missing[:20]} missing of {seqs[0]}-{seqs[-1]} (before the kill: "
                f"{min(m.seq for m in before)}-{max(m.seq for m in before)}; after: {len(after)} messages)"
            )
            return None if missing else after

        try:
            after = eventually(whole, timeout=90, what="every event on the broker, in order, with no gap")
        except AssertionError as exc:  # say what was short (the topics made with 4 partitions did it, 2026-12-07)
            raise AssertionError(f"{exc}; last look: {last_look[0]}; core: {event_service(coconut)['data']}") from None
        for topic in TOPICS:
            in_order = [m.seq for m in after if m.topic == topic]
            assert in_order == sorted(in_order), topic
        sor = [
            m.event.runEvent.runNumber
            for m in after
            if m.topic == "aliecs.run"
            and m.event.runEvent.transition == "START_ACTIVITY"
            and m.event.runEvent.transitionStatus == events_pb2.STARTED
        ]
        assert second["run"] in sor  # the run that started while the broker was down
        status = coconut("info").out
        assert re.search(r"event service: kafka at \S+: connected, lag 0", status), status
    finally:
        broker.kill()


def test_each_core_start_is_announced_on_aliecs_core_and_in_the_journal(tmp_path, kafka_broker, stop_core):
    coconut = kafka_coconut(tmp_path, kafka_broker)
    stop_core(coconut)
    framework_id = coconut("info", "-o", "json").json()["framework"]["frameworkId"]
    coconut("core", "stop")
    coconut("info")  # the second start

    def this_core(messages: list[Received]) -> list[Received]:  # the broker is shared with other tests' cores
        return [m for m in messages if m.event.coreStartEvent.frameworkId == framework_id]

    starts = this_core(consume(kafka_broker.endpoint, ["aliecs.core"], lambda got: len(this_core(got)) >= 2))
    assert [(m.key, m.event.WhichOneof("Payload")) for m in starts] == [("", "coreStartEvent")] * 2
    journal = coconut("events", "query", "--kind", "coreStart", "-o", "json").json()
    assert [e["event"]["coreStartEvent"]["frameworkId"] for e in journal] == [framework_id] * 2
    assert [e["seq"] for e in journal] == [m.seq for m in starts]
