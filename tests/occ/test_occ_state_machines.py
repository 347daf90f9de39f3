"""The OCC and FairMQ state machines as pure tables: what a controller can rely on without a process."""

from __future__ import annotations

import pytest

from ecs_engine.occ import fairmq, states


@pytest.mark.parametrize(
    ("state", "event", "reached", "ok", "trigger"),
    [
        # occ-peer-behaviour.md §6.1-6.3: how OCClib computes ok and trigger
        ("STANDBY", "CONFIGURE", "CONFIGURED", True, "EXECUTOR"),
        ("STANDBY", "START", "STANDBY", False, "DEVICE_INTENTIONAL"),  # invalid event
        ("STANDBY", "GO_ERROR", "STANDBY", False, "DEVICE_INTENTIONAL"),  # GO_ERROR is never acted on
        ("STANDBY", "RECOVER", "STANDBY", True, "EXECUTOR"),  # invalid, but already in the expected state
        ("CONFIGURED", "CONFIGURE", "CONFIGURED", True, "EXECUTOR"),
        ("RUNNING", "EXIT", "RUNNING", False, "DEVICE_INTENTIONAL"),
        ("ERROR", "GO_ERROR", "ERROR", True, "DEVICE_ERROR"),
        ("ERROR", "RESET", "ERROR", False, "DEVICE_ERROR"),
        ("ERROR", "RECOVER", "STANDBY", True, "EXECUTOR"),
    ],
)
def test_occ_outcome_follows_occlib(state, event, reached, ok, trigger):
    assert (states.next_state(state, event) or state) == reached
    assert states.outcome(event, reached) == (ok, trigger)


def test_occ_exit_only_from_standby_configured_and_error():
    assert {
        s
        for s in (states.STANDBY, states.CONFIGURED, states.RUNNING, states.PAUSED, states.ERROR)
        if states.next_state(s, states.EXIT)
    } == {states.STANDBY, states.CONFIGURED, states.ERROR}


def test_pause_and_resume_exist_but_are_not_requestable():
    assert states.next_state(states.RUNNING, states.PAUSE) == states.PAUSED
    assert states.next_state(states.PAUSED, states.RESUME) == states.RUNNING
    assert states.PAUSE not in states.REQUESTABLE_EVENTS and states.RESUME not in states.REQUESTABLE_EVENTS


def test_event_between_states_is_what_peanut_transition_sends():
    assert states.event_between("STANDBY", "CONFIGURED") == "CONFIGURE"
    assert states.event_between("CONFIGURED", "RUNNING") == "START"
    assert states.event_between("RUNNING", "CONFIGURED") == "STOP"
    assert states.event_between("CONFIGURED", "STANDBY") == "RESET"
    assert states.event_between("ERROR", "STANDBY") == "RECOVER"
    assert states.event_between("CONFIGURED", "DONE") == "EXIT"
    assert states.event_between("RUNNING", "PAUSED") is None  # not requestable
    assert states.event_between("STANDBY", "RUNNING") is None


def test_allowed_events_lists_only_state_changing_requests():
    assert states.allowed_events("STANDBY") == ["CONFIGURE", "EXIT"]
    assert states.allowed_events("RUNNING") == ["STOP"]
    assert states.allowed_events("DONE") == []


def test_fairmq_configure_sequence_walks_the_expected_states():
    state = fairmq.IDLE
    for step in fairmq.steps_for("CONFIGURE", state):
        assert step.source == state
        entered = fairmq.next_state(state, step.event)
        while entered in fairmq.AUTOMATIC:
            entered = fairmq.AUTOMATIC[entered]
        assert entered == fairmq.EXPECTED_FINAL_STATE[step.event]
        state = entered
    assert fairmq.occ_state(state) == "CONFIGURED"


def test_fairmq_sequences_and_mapping():
    assert [s.event for s in fairmq.steps_for("RESET", "READY")] == ["RESET TASK", "RESET DEVICE"]
    assert [s.event for s in fairmq.steps_for("EXIT", "READY")] == ["RESET TASK", "RESET DEVICE", "END"]
    assert [s.event for s in fairmq.steps_for("EXIT", "IDLE")] == ["END"]
    assert fairmq.steps_for("START", "IDLE") is None  # START needs READY
    assert fairmq.steps_for("CONFIGURE", "IDLE")[0].with_arguments  # the arguments travel with INIT DEVICE
    assert fairmq.occ_state("DEVICE READY") == "STANDBY" and not fairmq.is_stable("DEVICE READY")
    assert fairmq.FROM_OCC["DONE"] == "EXITING"
    assert fairmq.outcome("BIND", "ERROR") == (False, "DEVICE_ERROR")
    assert fairmq.outcome("RUN", "RUNNING") == (True, "EXECUTOR")
    assert len(fairmq.STEP_EVENTS) == 10
