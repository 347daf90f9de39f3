"""The event model (events.proto messages), the in-process bus and the durable journal."""

from __future__ import annotations

import threading

import pytest

from ecs_engine.errors import DeadlineError
from ecs_engine.events import EventBus, model
from ecs_engine.events.journal import EventJournal
from ecs_engine.protocols import events_pb2


def test_builders_make_the_protocol_messages_with_python_keyword_fields():
    call = model.call_event(
        "env1",
        func="odc.Start()",
        path="root.odc",
        status=model.DONE_OK,
        returned="ok",
        call_traits=model.traits("before_START_ACTIVITY+100", "after_START_ACTIVITY-10", "60s", True),
    )
    assert isinstance(call, events_pb2.Event) and call.timestamp > 0
    wire = events_pb2.Event.FromString(call.SerializeToString())
    assert getattr(wire.callEvent, "return") == "ok"
    assert getattr(wire.callEvent.traits, "await") == "after_START_ACTIVITY-10"
    assert model.kind_of(wire) == "callEvent" and model.environment_id_of(wire) == "env1"
    env = model.environment_event(
        "env1", state="RUNNING", run_number=7, variables={"a": "1"}, request_user=model.special_user("TIMER")
    )
    assert env.environmentEvent.lastRequestUser.externalId == 65 and env.environmentEvent.vars["a"] == "1"
    assert model.to_dict(env)["environmentEvent"]["runNumber"] == 7
    service = model.integrated_service_event(
        "env1", service="root.dcs", operation="dcs.StartOfRun()", status=model.ONGOING
    )
    assert service.integratedServiceEvent.name == "root.dcs"
    assert model.environment_id_of(events_pb2.Event()) == ""


def test_task_and_role_events_carry_every_field_given_and_their_kind_even_when_empty():
    traits = model.traits("before_START_ACTIVITY", "", "10s", False)
    task = model.task_event(
        "env1",
        name="t",
        task_id="1",
        state="RUNNING",
        status="ACTIVE",
        hostname="h",
        class_name="c/t",
        path="r.t",
        task_traits=traits,
    )
    expected = events_pb2.Ev_TaskEvent(
        name="t",
        taskid="1",
        state="RUNNING",
        status="ACTIVE",
        hostname="h",
        className="c/t",
        traits=traits,
        environmentId="env1",
        path="r.t",
    )
    assert events_pb2.Event.FromString(task.SerializeToString()).taskEvent == expected
    role = model.role_event("env1", name="r", path="a.r", status="ACTIVE", state="MIXED")
    assert role.roleEvent == events_pb2.Ev_RoleEvent(
        name="r", status="ACTIVE", state="MIXED", rolePath="a.r", environmentId="env1"
    )
    empty = events_pb2.Event.FromString(model.role_event("", name="", path="", status="", state="").SerializeToString())
    assert model.kind_of(empty) == "roleEvent"


def test_bus_filters_by_environment_and_kind_and_survives_a_failing_subscriber():
    bus = EventBus()
    got, all_events = [], []

    def broken(event):
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(got.append, environment_id="a", kinds=["taskEvent"])
    sub = bus.subscribe(all_events.append)
    bus.publish(model.task_event("a", name="t", task_id="1", state="RUNNING", status="ACTIVE"))
    bus.publish(model.task_event("b", name="t", task_id="2", state="RUNNING", status="ACTIVE"))
    bus.publish(model.role_event("a", name="r", path="r", status="ACTIVE", state="RUNNING"))
    assert [e.taskEvent.taskid for e in got] == ["1"]
    assert len(all_events) == 3
    sub.close()
    bus.publish(model.role_event("a", name="r", path="r", status="ACTIVE", state="RUNNING"))
    assert len(all_events) == 3


async def test_streams_deliver_in_order_also_from_other_threads():
    bus = EventBus()
    stream = bus.stream(environment_id="a")
    bus.publish(model.environment_event("a", message="first"))
    thread = threading.Thread(target=lambda: bus.publish(model.environment_event("a", message="second")))
    thread.start()
    thread.join()
    assert (await stream.next(2)).environmentEvent.message == "first"
    assert (await stream.next(2)).environmentEvent.message == "second"
    with pytest.raises(DeadlineError, match=r"no event within 0\.05s"):
        await stream.next(0.05)
    stream.close()
    assert [e async for e in stream] == []


def test_journal_keeps_events_across_reopen_and_answers_queries(tmp_path):
    path = tmp_path / "events.sqlite"
    journal = EventJournal(path, batch=1000, max_delay=60)
    bus = EventBus()
    bus.add_sink(journal)
    for i in range(5):
        bus.publish(model.environment_event("a", message=f"m{i}"))
    bus.publish(model.run_event("b", run_number=3, state="RUNNING", transition="START_ACTIVITY", status=model.STARTED))
    bus.flush()
    journal.close()
    reopened = EventJournal(path)
    try:
        entries = list(reopened.entries(environment_id="a"))
        assert [e.event.environmentEvent.message for e in entries] == [f"m{i}" for i in range(5)]
        assert [
            e.event.environmentEvent.message for e in reopened.entries(environment_id="a", after_seq=entries[2].seq)
        ] == ["m3", "m4"]
        runs = reopened.events(kinds=["runEvent"])
        assert len(runs) == 1 and runs[0].runEvent.runNumber == 3
        assert len(reopened.events(limit=2)) == 2
    finally:
        reopened.close()


def test_journal_commits_by_itself_when_the_batch_is_full(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite", batch=3, max_delay=60)
    reader = EventJournal(tmp_path / "events.sqlite")
    try:
        for i in range(3):
            journal.write(model.environment_event("a", message=str(i)))
        assert len(reader.events()) == 3  # committed without an explicit flush
    finally:
        journal.close()
        reader.close()


def test_journal_commits_a_flush_of_hundreds_of_events_whole_and_in_order(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite", batch=10_000, max_delay=60)
    try:
        for count in (1, 100, 101, 250):
            first = journal.last_seq() + 1
            for i in range(count):
                journal.write(model.task_event("a", name=f"t{i}", task_id=str(i), state="RUNNING", status="ACTIVE"))
            journal.flush()
            stored = list(journal.entries(after_seq=first - 1))
            assert [(e.seq, e.event.taskEvent.taskid) for e in stored] == [(first + i, str(i)) for i in range(count)], (
                count
            )
            assert all(e.event.sequence == e.seq for e in stored)
    finally:
        journal.close()


def test_journal_queues_one_deferred_flush_until_it_runs(tmp_path):
    """An overdue buffer hands one flush to the commit thread, not one per event while that thread is busy."""
    queued: list = []
    journal = EventJournal(tmp_path / "events.sqlite", batch=1000, max_delay=0, defer=queued.append)
    try:
        for i in range(50):
            journal.write(model.environment_event("a", message=str(i)))
        assert len(queued) == 1
        queued.pop()()
        journal.write(model.environment_event("a", message="after"))
        assert len(queued) == 1  # the flush ran: the next overdue event queues the next one
        assert len(journal.events()) == 51
    finally:
        journal.close()
