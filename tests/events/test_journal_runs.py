"""The journal numbers events for good, marks the stretch each run owns, and forgets whole old days."""

from __future__ import annotations

from ecs_engine.events import model
from ecs_engine.events.journal import DAY_MS, EventJournal, Retention
from ecs_engine.events.runs import run_record


def _env(env: str, transition: str, status, *, run: int = 0, step: str = "", message: str = "") -> model.Event:
    return model.environment_event(
        env, run_number=run, transition=transition, step=step, status=status, message=message
    )


def _task(env: str, state: str) -> model.Event:
    return model.task_event(env, name="t", task_id="t1", state=state, status="ACTIVE")


def _run(journal: EventJournal, env: str, number: int) -> None:
    """What an environment publishes for one START ... STOP cycle (numbers allocated in before_START)."""
    journal.write(_env(env, "START_ACTIVITY", model.STARTED))  # the run's first event: no number yet
    journal.write(
        model.run_event(env, run_number=number, state="CONFIGURED", transition="START_ACTIVITY", status=model.STARTED)
    )
    journal.write(_task(env, "RUNNING"))
    journal.write(_env(env, "START_ACTIVITY", model.DONE_OK, run=number))
    journal.write(_env(env, "STOP_ACTIVITY", model.STARTED, run=number))
    journal.write(_task(env, "CONFIGURED"))
    journal.write(_env(env, "STOP_ACTIVITY", model.DONE_OK))  # the run is over: the number is gone


def test_sequence_numbers_never_repeat_across_restarts_and_deletion(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    for _ in range(3):
        journal.write(_task("a", "RUNNING"))
    journal.prune(Retention(days=0), now_ms=model.now_ms() + 3 * DAY_MS)  # all but today's: nothing
    journal.close()
    journal = EventJournal(tmp_path / "events.sqlite")
    event = _task("a", "CONFIGURED")
    journal.write(event)
    assert event.sequence == 4  # stamped at write: what subscribers and Kafka see
    assert [e.seq for e in journal.entries()] == [1, 2, 3, 4]
    assert [e.event.sequence for e in journal.entries(after_seq=2)] == [3, 4]


def test_a_run_owns_exactly_the_events_between_its_start_and_its_stop(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    journal.write(_env("a", "CONFIGURE", model.DONE_OK))
    _run(journal, "a", 11)
    journal.write(_task("b", "RUNNING"))  # another environment meanwhile: not run 11's
    journal.write(_env("a", "RESET", model.DONE_OK))
    _run(journal, "a", 12)
    journal.close()
    journal = EventJournal(tmp_path / "events.sqlite")

    run11 = list(journal.entries(run_number=11))
    assert [e.seq for e in run11] == [2, 3, 4, 5, 6, 7, 8]
    assert {e.run_number for e in run11} == {11}
    assert [m.run_number for m in journal.markers()] == [11, 12]
    assert (journal.markers(12)[0].begin_seq, journal.markers(12)[0].end_seq) == (11, 17)
    assert [e.run_number for e in journal.entries(environment_id="b")] == [0]
    assert list(journal.entries(run_number=99)) == []


def test_a_live_reader_gets_the_run_the_journal_gives_each_event_even_the_one_that_ended_it(tmp_path):
    """FollowEvents asks ``run_of`` when it sends an event, after the journal wrote it and maybe more: by then
    a run's ending event has closed its run (it was shown with no run), and the next run may have begun."""
    journal = EventJournal(tmp_path / "events.sqlite")
    journal.write(_env("a", "CONFIGURE", model.DONE_OK))
    _run(journal, "a", 11)
    assert journal.run_of("a", journal.last_seq()) == 11  # STOP_ACTIVITY DONE_OK, read just after it was written
    journal.write(_env("a", "START_ACTIVITY", model.STARTED))
    journal.write(_env("a", "START_ACTIVITY", model.DONE_OK, run=12))
    stored = {e.seq: e.run_number for e in journal.entries(environment_id="a")}
    assert set(stored.values()) == {0, 11, 12}
    assert {seq: journal.run_of("a", seq) for seq in stored} == stored


def test_a_run_still_going_on_is_open_and_stays_open_across_a_restart(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    journal.write(_env("a", "START_ACTIVITY", model.STARTED))
    journal.write(_env("a", "START_ACTIVITY", model.DONE_OK, run=5))
    journal.close()
    journal = EventJournal(tmp_path / "events.sqlite")
    journal.write(_task("a", "RUNNING"))
    journal.write(_env("a", "STOP_ACTIVITY", model.DONE_OK))
    assert [e.seq for e in journal.entries(run_number=5)] == [1, 2, 3, 4]
    assert journal.markers(5)[0].end_seq == 4


def test_retention_deletes_whole_old_days_and_keeps_today(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    today = model.now_ms() // DAY_MS * DAY_MS
    for day in (3, 2, 0):
        for _ in range(10):
            event = _task("a", "RUNNING")
            event.timestamp = today - day * DAY_MS + 1000
            journal.write(event)
    assert journal.prune(Retention(days=1.5), now_ms=today + 1000) == 10  # day -3 only: day -2 ends within 1.5 days
    assert journal.prune(Retention(megabytes=0), now_ms=today + 1000) == 10  # over any size: all but today
    assert [e.seq for e in journal.entries()] == list(range(21, 31))


def test_severity_is_error_for_failures():
    assert model.severity_of(_env("a", "STOP_ACTIVITY", model.DONE_ERROR)) == "error"
    assert model.severity_of(_task("a", "ERROR")) == "error"
    assert model.severity_of(_env("a", "STOP_ACTIVITY", model.DONE_OK)) == "info"


def test_the_run_record_takes_its_times_from_sor_and_eor_and_its_outcome_from_how_it_ended(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    alice, bob = model.user("alice"), model.user("bob")

    def at(ms: int, event: model.Event) -> None:
        event.timestamp = ms
        journal.write(event)

    def run_event(transition: str, status, **fields) -> model.Event:
        return model.run_event("a", run_number=3, state="RUNNING", transition=transition, status=status, **fields)

    at(1000, model.environment_event("a", transition="START_ACTIVITY", status=model.STARTED, request_user=alice))
    at(1100, run_event("START_ACTIVITY", model.STARTED, request_user=alice))  # SOR, stamped with the start
    at(1500, _env("a", "START_ACTIVITY", model.DONE_OK, run=3))
    at(9000, _env("a", "GO_ERROR", model.STARTED, run=3))
    at(8900, run_event("GO_ERROR", model.STARTED, request_user=bob, error="a critical task died"))  # EOR
    at(9400, _env("a", "GO_ERROR", model.DONE_OK))
    (marker,) = journal.markers()
    record = run_record(marker, journal.entries(run_number=3), detectors=["TPC", "ITS"], run_type="PHYSICS")

    assert (record.startMs, record.endMs, record.startedBy, record.stoppedBy) == (1100, 8900, "alice", "bob")
    assert (record.outcome, record.error) == ("error", "a critical task died")
    assert list(record.detectors) == ["ITS", "TPC"] and (record.firstSeq, record.lastSeq) == (1, 6)
    spans = [(t.transition, t.endMs - t.startMs, t.status) for t in record.transitions]
    assert spans == [("START_ACTIVITY", 500, "DONE_OK"), ("GO_ERROR", 400, "DONE_OK")]


def test_retention_never_deletes_what_the_outbox_has_not_delivered(tmp_path):
    journal = EventJournal(tmp_path / "events.sqlite")
    today = model.now_ms() // DAY_MS * DAY_MS
    for seq in range(1, 7):
        event = _task("a", "RUNNING")
        event.timestamp = today - (3 if seq <= 4 else 0) * DAY_MS  # 1-4 three days old, 5-6 today
        journal.write(event)
    assert journal.prune(Retention(days=1), now_ms=today, keep_after=2) == 2  # delivered up to 2
    assert [e.seq for e in journal.entries()] == [3, 4, 5, 6]


def test_a_run_the_core_ended_with_go_error_gives_the_reason_the_environment_gave(tmp_path):
    """A critical task killed: the GO_ERROR run events carry no error, the environment's warning before them does."""
    journal = EventJournal(tmp_path / "events.sqlite")
    journal.write(_env("a", "START_ACTIVITY", model.STARTED))
    journal.write(
        model.run_event("a", run_number=4, state="CONFIGURED", transition="START_ACTIVITY", status=model.STARTED)
    )
    journal.write(_env("a", "START_ACTIVITY", model.DONE_OK, run=4))
    died = "critical task 'producer#t1' on host 'flp002' transitioned to ERROR"
    journal.write(model.environment_event("a", run_number=4, error=died, message="GO_ERROR transition imminent"))
    journal.write(_env("a", "GO_ERROR", model.STARTED, run=4))
    journal.write(model.run_event("a", run_number=4, state="RUNNING", transition="GO_ERROR", status=model.STARTED))
    journal.write(_env("a", "GO_ERROR", model.DONE_OK))
    (marker,) = journal.markers()

    record = run_record(marker, journal.entries(run_number=4))

    assert (record.outcome, record.error) == ("error", died)


def test_reading_a_journal_of_many_runs_looks_at_one_marker_per_event(tmp_path, monkeypatch):
    """Each event's run is found by bisection, not by trying every run of its environment: a journal of a
    thousand runs took seconds to read (events query, runs list) as each event tried them all."""
    from ecs_engine.events.markers import RunMarker

    journal = EventJournal(tmp_path / "events.sqlite")
    for number in range(1, 51):
        _run(journal, "a", number)
    journal.write(_task("a", "CONFIGURED"))  # between runs: none
    looked = []
    holds = RunMarker.holds
    monkeypatch.setattr(RunMarker, "holds", lambda marker, seq: looked.append(seq) or holds(marker, seq))

    entries = list(journal.entries())

    assert [e.run_number for e in entries[7:14]] == [2] * 7 and entries[-1].run_number == 0
    assert len(looked) <= len(entries)


def test_the_run_registry_reads_a_gone_environments_record_once_for_all_its_runs(tmp_path):
    """runs list of a shift's runs: one read of each destroyed environment's record, not one per run."""
    import asyncio
    from types import SimpleNamespace

    from ecs_engine.protocols import journal_pb2
    from ecs_engine.server.journal_service import JournalService

    journal = EventJournal(tmp_path / "events.sqlite")
    for number in range(1, 6):
        _run(journal, "gone", number)
    loaded = []
    store = SimpleNamespace(load=lambda environment_id: loaded.append(environment_id))  # no record: None
    manager = SimpleNamespace(journal=journal, environments={}, store=store)
    service = JournalService(SimpleNamespace(manager=manager))

    reply = asyncio.run(service.GetRuns(journal_pb2.RunsRequest(), None))

    assert [r.runNumber for r in reply.runs] == [1, 2, 3, 4, 5]
    assert loaded == ["gone"]


def test_a_run_is_read_from_its_own_stretch_of_the_journal_not_from_its_environments_first_event(tmp_path):
    """`runs list`, `runs show N`, `events query --run N`: reading the last of 200 runs costs what reading the
    first does. Given two lower bounds on seq, SQLite ranged over the index from the looser (the environment's
    first event), so each run cost as much as every run before it: `runs list` was quadratic in the runs."""
    journal = EventJournal(tmp_path / "events.sqlite")
    for number in range(1, 201):
        _run(journal, "a", number)
    journal.flush()
    steps: list[int] = []

    def count() -> int:
        steps[-1] += 1
        return 0

    journal._db.set_progress_handler(count, 100)  # SQLite's virtual machine steps, by hundreds: no clock involved
    for number in (1, 200):
        steps.append(0)
        assert len(list(journal.entries(run_number=number))) == 7
    assert steps[1] <= 2 * steps[0] + 2, steps
