"""What ``events`` and ``runs`` accept and print without a core: numbers checked before the core is asked,
times with their zone, 64-bit integers as numbers in ``-o json|yaml``."""

from __future__ import annotations

import json
import time

import pytest

from coconut.event_output import EVENT_HEADER, event_data, event_text
from coconut.output import message_dict
from ecs_engine.errors import ExitStatus
from ecs_engine.events import model
from ecs_engine.protocols import journal_pb2

from .conftest import loopback_service


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["runs", "show", "abc"], "Invalid value for 'NUMBER': expected a run number (1 or more), got 'abc'"),
        (["events", "follow", "--after", "abc"], "Invalid value for '--after': expected a sequence number (0 or more)"),
        (["events", "query", "--run", "0"], "Invalid value for '--run': expected a run number (1 or more), got '0'"),
        (["events", "query", "--limit", "-1"], "Invalid value for '--limit': expected a number of events (0 or more)"),
        (["events", "list", "--limit", "-1"], "Invalid value for '--limit': expected a number of events (0 or more)"),
    ],
)
def test_a_malformed_number_is_one_line_naming_the_argument_and_what_is_expected(coconut, args, expected):
    result = coconut("--endpoint", "127.0.0.1:9", *args)  # nothing listens there: the core is not asked
    assert result.status == ExitStatus.USAGE
    assert result.err.count("\n") == 1 and expected in result.err and "pydantic" not in result.err


@pytest.fixture
def zurich(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Zurich")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _entry(run: int = 0) -> journal_pb2.JournalEvent:
    event = model.run_event("env1", run_number=4, state="RUNNING", transition="STOP_ACTIVITY", status=model.DONE_OK)
    event.timestamp, event.sequence = 1_700_000_000_123, 91  # 2023-11-14 23:13:20.123 CET
    return journal_pb2.JournalEvent(seq=91, runNumber=run, severity="info", event=event)


def test_an_event_line_shows_its_local_time_with_the_zone_under_the_header(zurich):
    line = event_text(_entry(run=4))
    assert line.startswith("     91 2023-11-14 23:13:20.123 CET  env1")
    assert EVENT_HEADER.index("environment") == line.index("env1")
    assert EVENT_HEADER.index("run") + len("run") == line.index(" 4 ") + len(" 4")


@pytest.mark.parametrize("severity", ["info", "warning", "error"])
def test_the_kind_is_under_its_header_whatever_the_level(severity):
    entry = _entry(run=4)
    entry.severity = severity
    assert EVENT_HEADER.index("kind") == event_text(entry).index("run ")


def test_json_output_has_64_bit_integers_as_numbers_not_protobufs_strings():
    record = journal_pb2.RunRecord(runNumber=4, startMs=1_700_000_000_000, firstSeq=48)
    record.transitions.add(transition="START_ACTIVITY", startMs=1_700_000_000_001, endMs=1_700_000_000_009)
    data = message_dict(record)
    assert (data["runNumber"], data["startMs"], data["endMs"], data["firstSeq"]) == (4, 1_700_000_000_000, 0, 48)
    assert (data["transitions"][0]["startMs"], data["transitions"][0]["endMs"]) == (
        1_700_000_000_001,
        1_700_000_000_009,
    )
    event = event_data(_entry())["event"]
    assert (event["timestamp"], event["sequence"], event["runEvent"]["runNumber"]) == (1_700_000_000_123, 91, 4)
    assert json.loads(json.dumps(event)) == event


def test_runs_list_keeps_the_runs_of_an_environment_detector_outcome_and_time():
    from coconut.commands.runs import matching

    def run(number, env, start, end, outcome="ok", detectors=("TPC",)):
        return journal_pb2.RunRecord(
            runNumber=number, environmentId=env, startMs=start, endMs=end, outcome=outcome, detectors=detectors
        )

    runs = [run(1, "a", 100, 200), run(2, "b", 300, 400, "error", ("ITS",)), run(3, "a", 500, 0, "running")]

    def numbers(**filters):
        return [r.runNumber for r in matching(runs, **filters)]

    assert numbers() == [1, 2, 3]
    assert numbers(env="a") == [1, 3]
    assert numbers(detectors=["ITS", "MFT"]) == [2]
    assert numbers(outcome="error") == [2]
    assert numbers(since_ms=350, until_ms=360) == [2]  # going on then
    assert numbers(since_ms=450) == [3]  # still going on
    assert numbers(until_ms=300) == [1]  # begun before


def test_runs_list_refuses_an_outcome_it_does_not_know_before_asking_the_core(coconut):
    result = coconut("--endpoint", "127.0.0.1:9", "runs", "list", "--outcome", "failed")
    assert result.status == ExitStatus.USAGE
    assert result.err == "coconut: error: --outcome: expected one of ok, error, running, got 'failed'\n"


@pytest.fixture
def journal_of_levels():
    """A Journal service on loopback whose journal is 12 events, every third an error; yields its endpoint."""
    from ecs_engine.protocols import journal_pb2_grpc

    entries = []
    for seq in range(1, 13):
        event = model.task_event(
            "env1", name="t", task_id="t1", status="ACTIVE", state="ERROR" if seq % 3 == 0 else "RUNNING"
        )
        event.sequence = seq
        entries.append(journal_pb2.JournalEvent(seq=seq, severity=model.severity_of(event), event=event))

    class Journal(journal_pb2_grpc.JournalServicer):
        def QueryEvents(self, request, context):
            after = [e for e in entries if e.seq > request.afterSeq]
            return journal_pb2.EventPage(events=after[: request.limit or None])

    with loopback_service(Journal(), journal_pb2_grpc.add_JournalServicer_to_server) as endpoint:
        yield endpoint


def test_events_query_keeps_the_levels_asked_for_and_limits_what_it_keeps(coconut, journal_of_levels):
    result = coconut(
        "--endpoint", journal_of_levels, "events", "query", "--severity", "error", "--limit", "3", "-o", "json"
    )
    assert [(e["seq"], e["severity"]) for e in json.loads(result.out)] == [(3, "error"), (6, "error"), (9, "error")]


def test_a_map_is_printed_in_the_order_of_its_keys_whatever_order_the_core_sent():
    """The same environment shown twice gives the same JSON (a map's order changes between answers)."""
    from ecs_engine.protocols import o2control_pb2

    first, second = o2control_pb2.EnvironmentInfo(), o2control_pb2.EnvironmentInfo()
    for key in ("run_type", "detectors", "hosts"):
        first.vars[key] = key
    for key in ("hosts", "run_type", "detectors"):
        second.vars[key] = key

    assert list(message_dict(first)["vars"]) == list(message_dict(second)["vars"]) == ["detectors", "hosts", "run_type"]


def test_a_run_going_on_says_how_long_it_has_lasted_so_far():
    from coconut.commands.runs import run_duration

    going = journal_pb2.RunRecord(runNumber=5, startMs=1_000, outcome="running")
    ended = journal_pb2.RunRecord(runNumber=4, startMs=1_000, endMs=4_500, outcome="ok")
    assert run_duration(going, now_ms=629_000) == "10m28s so far"
    assert run_duration(ended, now_ms=629_000) == "3.5s"
