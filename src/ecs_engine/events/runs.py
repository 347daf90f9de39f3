"""The run registry, read from the journal: what ``coconut runs`` shows of each run.

A run's record is derived from the events its marker holds: the run events give its start (SOR, stamped
with the run's start time) and end (EOR, stamped with its end time) and who asked for each; the environment events give each transition's start, end and outcome, and
the reason of a GO_ERROR (its own events carry none).
Detectors and run type are the environment's, which the caller knows (the journal does not repeat them).
"""

from __future__ import annotations

from collections.abc import Iterable

from ecs_engine.protocols import events_pb2, journal_pb2

from . import model
from .journal import EventJournal, JournalEntry
from .markers import RunMarker

#: what a run's record is read from; its task and role events, most of a run's, are not read
RECORD_KINDS = ("runEvent", "environmentEvent")
_ENDING = {"STOP_ACTIVITY", "GO_ERROR", "TEARDOWN"}
_FAILED = (model.DONE_ERROR, model.DONE_TIMEOUT)


def read_runs(journal: EventJournal, markers: Iterable[RunMarker]) -> list[list[JournalEntry]]:
    """The entries each run's record is read from, in one trip to the journal's thread for all runs (a marker
    begins and ends at events of these kinds, so the last entry is the run's last event)."""
    return [list(journal.entries(run_number=m.run_number, kinds=RECORD_KINDS)) for m in markers]


def run_record(
    marker: RunMarker, entries: Iterable[JournalEntry], *, detectors: Iterable[str] = (), run_type: str = ""
) -> journal_pb2.RunRecord:
    """The record of the run ``marker`` names, from the journal ``entries`` it holds (in order)."""
    record = journal_pb2.RunRecord(
        runNumber=marker.run_number,
        environmentId=marker.environment_id,
        detectors=sorted(detectors),
        runType=run_type,
        firstSeq=marker.begin_seq,
        lastSeq=marker.end_seq or 0,
        outcome="running" if marker.end_seq is None else "ok",
    )
    spans: dict[str, journal_pb2.TransitionSpan] = {}
    last_timestamp = 0
    cause = ""  # the last error an environment event gave: why the core went to GO_ERROR, which says no reason
    for entry in entries:
        event = entry.event
        last_timestamp = event.timestamp
        kind = model.kind_of(event)
        if kind == "runEvent":
            _run_event(record, event)
        elif kind == "environmentEvent":
            cause = event.environmentEvent.error or cause
            if not event.environmentEvent.transitionStep:
                _transition_event(record, spans, event)
    if marker.end_seq is not None and not record.endMs:
        record.endMs = last_timestamp
    if record.outcome == "error" and not record.error:
        record.error = cause
    return record


def _run_event(record: journal_pb2.RunRecord, event: events_pb2.Event) -> None:
    run = event.runEvent
    if run.transition == "START_ACTIVITY" and run.transitionStatus == model.STARTED:
        record.startMs, record.startedBy = event.timestamp, run.lastRequestUser.name
    elif run.transition in _ENDING and run.transitionStatus == model.STARTED:  # EOR: stamped with the run's end
        record.stoppedBy, record.endMs = run.lastRequestUser.name, event.timestamp
    elif run.transition in _ENDING and run.transitionStatus not in (model.NULL, model.ONGOING):
        record.endMs = record.endMs or event.timestamp
    if run.transitionStatus in _FAILED or run.transition == "GO_ERROR":
        record.outcome, record.error = "error", run.error or record.error


def _transition_event(
    record: journal_pb2.RunRecord, spans: dict[str, journal_pb2.TransitionSpan], event: events_pb2.Event
) -> None:
    env = event.environmentEvent
    status = env.transitionStatus
    if status == model.STARTED:
        span = record.transitions.add(transition=env.transition, startMs=event.timestamp, user=env.lastRequestUser.name)
        spans[env.transition] = span
    elif env.transition in spans and status not in (model.NULL, model.ONGOING):
        span = spans.pop(env.transition)
        span.endMs, span.status = event.timestamp, model.OpStatus.Name(status)
        if status in _FAILED:
            record.outcome, record.error = "error", env.error or record.error
