"""Acceptance (issue 13): the journal through coconut — runs list/show, events query by run, follow, subscribe.

A real core (the embedded default) runs dataflow-demo for two runs; everything is read back through the CLI.
"""

from __future__ import annotations

import signal
import threading

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from ecs_engine.errors import UsageError
from ecs_engine.events import model
from ecs_engine.events.journal import DAY_MS, EventJournal, Retention
from ecs_engine.server.journal_retention import journal_retention
from tests.waiting import eventually

from .conftest import Coconut, remember

pytestmark = pytest.mark.slow


def two_runs(coconut) -> tuple[str, int]:
    """create, START, STOP, START, STOP, destroy: the environment's id and its first run number."""
    created = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
    remember(coconut)
    first = coconut("env", "control", created["id"], "-e", "START", "-o", "json").json()["currentRunNumber"]
    coconut("env", "control", created["id"], "-e", "STOP")
    coconut("env", "control", created["id"], "-e", "START")
    coconut("env", "control", created["id"], "-e", "STOP")
    coconut("env", "destroy", created["id"])
    return created["id"], first


def test_both_runs_are_in_the_registry_and_a_run_query_shows_exactly_its_events(coconut, monkeypatch):
    environment_id, first = two_runs(coconut)

    runs = coconut("runs", "list", "-o", "json").json()["runs"]
    assert [(int(r["runNumber"]), r["environmentId"], r["outcome"]) for r in runs] == [
        (first, environment_id, "ok"),
        (first + 1, environment_id, "ok"),
    ]
    for run in runs:
        assert int(run["endMs"]) > int(run["startMs"]) > 0 and run["startedBy"] and run["stoppedBy"]
        assert [(t["transition"], t["status"]) for t in run["transitions"]] == [
            ("START_ACTIVITY", "DONE_OK"),
            ("STOP_ACTIVITY", "DONE_OK"),
        ]
    shown = coconut("runs", "show", str(first)).out
    assert "outcome:     ok" in shown and "START_ACTIVITY" in shown and "STOP_ACTIVITY" in shown

    everything = coconut("events", "query", "--env", environment_id, "-o", "json").json()
    run = runs[0]
    expected = [e["seq"] for e in everything if int(run["firstSeq"]) <= e["seq"] <= int(run["lastSeq"])]
    events = coconut("events", "query", "--run", str(first), "-o", "json").json()
    assert [e["seq"] for e in events] == expected
    assert {(e["environment_id"], e["run_number"]) for e in events} == {(environment_id, first)}
    starts, ends = events[0]["event"]["environmentEvent"], events[-1]["event"]["environmentEvent"]
    assert (starts["transition"], starts["transitionStatus"]) == ("START_ACTIVITY", "STARTED")
    assert (ends["transition"], ends["transitionStatus"]) == ("STOP_ACTIVITY", "DONE_OK")
    assert any("runEvent" in e["event"] for e in events) and any("taskEvent" in e["event"] for e in events)

    header, rule, *text = coconut("events", "query", "--run", str(first + 1), "--kind", "run").out.splitlines()
    assert header.split() == ["seq", "time", "environment", "run", "level", "kind", "event"]
    assert set(rule) == {"─"} and len(rule) == len(header)
    assert text and all(f" {first + 1} " in line and " run " in line for line in text)
    assert header.index("run") + len("run") == text[0].index(f" {first + 1} ") + len(f" {first + 1}")  # aligned
    assert coconut("events", "query", "--run", str(first), "--kind", "beamMode").out.strip() == "no events"
    unknown = coconut("events", "query", "--run", "999999", check=False)
    assert (unknown.status, unknown.out) == (1, "") and "run 999999 is not in the event journal" in unknown.err

    from coconut.commands import events as events_command

    monkeypatch.setattr(events_command, "on_a_terminal", lambda cli: True)  # prompt_toolkit's pipe stands for one
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("fkind=run\r" + "q")  # the pager over the run's events, filtered, then quit
        assert coconut("events", "browse", "--run", str(first)).status == 0


def test_a_query_is_asked_for_a_page_at_a_time_and_returns_every_event_once(coconut, monkeypatch):
    from coconut.commands import events as events_command

    environment_id, _ = two_runs(coconut)
    whole = [e["seq"] for e in coconut("events", "query", "--env", environment_id, "-o", "json").json()]
    monkeypatch.setattr(events_command, "PAGE", 7)
    paged = [e["seq"] for e in coconut("events", "query", "--env", environment_id, "-o", "json").json()]
    assert paged == whole and len(whole) > 7 * 3
    limited = coconut("events", "query", "--env", environment_id, "--limit", "10", "-o", "json").json()
    assert [e["seq"] for e in limited] == whole[:10]


def test_bad_query_arguments_are_one_clear_error_naming_the_argument(coconut):
    coconut("core", "start")
    bad_time = coconut("events", "query", "--since", "the day before", check=False)
    assert bad_time.status == 2 and "--since: cannot read 'the day before' as a time" in bad_time.err
    bad_kind = coconut("events", "query", "--kind", "tsk", check=False)
    assert bad_kind.status == 2 and "--kind: unknown kind 'tsk'" in bad_kind.err
    missing = coconut("runs", "show", "424242", check=False)
    assert missing.status != 0 and "run 424242 is not in the event journal" in missing.err
    unknown = coconut("env", "subscribe", "2rE9AV3m1HL", check=False)
    assert unknown.status != 0 and "error: no environment with id 2rE9AV3m1HL" in unknown.err


def test_a_subscriber_that_reconnects_with_its_last_sequence_number_misses_nothing(coconut):
    environment_id, _ = two_runs(coconut)
    everything = coconut("events", "query", "--env", environment_id, "-o", "json").json()
    middle = everything[len(everything) // 2]["seq"]
    # the second half, as a client that saw up to `middle` gets it when it subscribes again
    resumed = coconut("env", "subscribe", environment_id, "--after", str(middle)).out.splitlines()
    assert len(resumed) == len([e for e in everything if e["seq"] > middle])
    assert "environment destroyed" in resumed[-1]  # the stream ends with the environment, as upstream


def test_env_subscribe_goes_from_the_journal_to_live_events_without_a_gap_or_a_repeat(coconut):
    environment_id = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]["id"]
    remember(coconut)
    seen = coconut("events", "query", "--env", environment_id, "-o", "json").json()[-1]["seq"]
    lines: list[str] = []
    subscriber = threading.Thread(
        target=lambda: lines.extend(coconut("env", "subscribe", environment_id, "--after", str(seen)).out.splitlines())
    )
    subscriber.start()  # replays what follows `seen`, then goes live: no wait for it to be subscribed is needed
    coconut("env", "control", environment_id, "-e", "START")
    coconut("env", "control", environment_id, "-e", "STOP")
    coconut("env", "destroy", environment_id)
    subscriber.join(timeout=30)
    assert not subscriber.is_alive(), "env subscribe did not end with the environment"
    stored = [e for e in coconut("events", "query", "--env", environment_id, "-o", "json").json() if e["seq"] > seen]
    assert len(lines) == len(stored) and "environment destroyed" in lines[-1]
    assert any("START_ACTIVITY transition completed successfully" in line for line in lines)


def test_follow_prints_events_as_they_happen_and_ctrl_c_ends_it_cleanly(coconut):
    coconut("core", "start")
    follower, lines = coconut.follower("--kind", "environment")
    try:
        # following starts when the core confirms the stream; create environments until one is seen
        def seen() -> bool:
            if not any("environment destroyed" in line for line in lines):
                environment_id = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
                coconut("env", "destroy", environment_id["id"])
            return any("environment destroyed" in line for line in lines)

        eventually(seen, timeout=60, what="the follower printing an environment's destruction")
    finally:
        follower.send_signal(signal.SIGINT)
        status = follower.wait(timeout=15)
    assert status == 0, follower.stderr.read()
    assert all(" environment " in line for line in lines)


def test_the_core_deletes_whole_days_older_than_journal_keep_days(tmp_path):
    runner = Coconut(tmp_path, {"core": {"journal_keep_days": 5}})
    journal = EventJournal(runner.root / "data" / "events.sqlite")  # a journal of an earlier life of the core
    for days_ago in (10, 9, 0):
        event = model.task_event("old", name="t", task_id="t1", state="RUNNING", status="ACTIVE")
        event.timestamp = model.now_ms() - days_ago * DAY_MS
        journal.write(event)
    journal.close()
    try:
        runner("core", "start")
        # pruned at start: the two events of 9 and 10 days ago are gone, today's stays
        eventually(lambda: [e["seq"] for e in runner("events", "query", "--env", "old", "-o", "json").json()] == [3])
    finally:
        runner("core", "stop")


def test_journal_retention_settings_are_checked():
    assert journal_retention({}) == Retention(days=90, megabytes=2000)
    assert journal_retention({"journal_keep_days": 0, "journal_keep_mb": 50}) == Retention(None, 50)
    with pytest.raises(UsageError, match=r"setting core.journal_keep_days: expected a number, 0 or more .* got 'lots'"):
        journal_retention({"journal_keep_days": "lots"})
