"""``coconut events browse``: the full-screen pager driven by keys through prompt_toolkit's pipe input."""

from __future__ import annotations

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from coconut.events_browser import EventBrowser
from ecs_engine.errors import ExitStatus
from ecs_engine.events import model
from ecs_engine.protocols import journal_pb2


def _entry(seq: int, event: model.Event, run: int = 0) -> journal_pb2.JournalEvent:
    event.sequence = seq
    return journal_pb2.JournalEvent(seq=seq, runNumber=run, severity=model.severity_of(event), event=event)


EVENTS = [
    _entry(1, model.environment_event("envA", state="CONFIGURED", transition="CONFIGURE", status=model.DONE_OK)),
    _entry(2, model.run_event("envA", run_number=7, state="CONFIGURED", transition="START_ACTIVITY", status=1), 7),
    _entry(3, model.task_event("envA", name="reader", task_id="t1", state="RUNNING", status="ACTIVE"), 7),
    _entry(4, model.task_event("envB", name="writer", task_id="t2", state="ERROR", status="ACTIVE")),
    _entry(5, model.run_event("envA", run_number=8, state="CONFIGURED", transition="START_ACTIVITY", status=1), 8),
    _entry(6, model.task_event("envA", name="reader", task_id="t1", state="RUNNING", status="ACTIVE"), 8),
]


def browse(keys: str) -> EventBrowser:
    """A browser over EVENTS after ``keys`` were typed (the last of them quits)."""
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        browser = EventBrowser(EVENTS)
        pipe.send_text(keys)
        browser.run()
    return browser


def test_a_filter_shows_only_matching_events_and_a_jump_lands_on_the_runs_first_event():
    browser = browse("fkind=task\r" + "r8\r" + "q")
    assert [e.seq for e in map(EVENTS.__getitem__, browser.shown)] == [3, 4, 6]
    assert browser.selected().seq == 6  # run 8's first task event

    browser = browse("fenv=envA run=7\r" + "q")
    assert [EVENTS[i].seq for i in browser.shown] == [2, 3]


def test_search_moves_to_the_next_match_and_wraps():
    browser = browse("/running\r" + "q")
    assert browser.selected().seq == 3
    browser = browse("/running\r" + "n" + "n" + "q")
    assert browser.selected().seq == 3  # 3, then 6, then around to 3


def test_scrolling_stays_within_the_events():
    assert browse("G" + "j" + "q").selected().seq == 6
    assert browse("jjj" + "k" + "q").selected().seq == 3
    assert browse("G" + "g" + "q").selected().seq == 1


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("fcolour=red\r", "filter: 'colour=red' is not kind=, env=, run= or severity="),
        ("fkind=tsk\r", "filter: --kind: unknown kind 'tsk'"),
        ("rseven\r", "run: expected a run number, got 'seven'"),
        ("r99\r", "run 99: no events shown"),
    ],
)
def test_bad_input_in_a_prompt_is_one_message_and_changes_nothing(keys, message):
    browser = browse(keys + "q")
    assert browser.message.startswith(message)
    assert len(browser.shown) == len(EVENTS) and browser.selected().seq == 1


def test_browse_without_a_terminal_is_a_usage_error_before_the_core_is_asked(coconut):
    result = coconut("--endpoint", "127.0.0.1:9", "events", "browse")  # nothing listens there: not asked
    assert result.status == ExitStatus.USAGE
    assert result.err.splitlines()[0] == "coconut: error: events browse needs a terminal"


def test_errors_and_warnings_stand_out_from_the_other_lines():
    warning = model.environment_event("envA", message="task t1 killed by signal 9", severity="warning")
    events = [*EVENTS[3:5], _entry(7, warning)]  # an error, an info, a warning
    browser = EventBrowser(events)
    browser.cursor = len(events)  # on no line: each in its own style
    assert [style for style, _ in browser._page()] == ["fg:ansired", "", "fg:ansiyellow"]
