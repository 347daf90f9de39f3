"""Run markers: which stretch of the journal belongs to which run (ipi-ecs "event markers").

A run begins with the START_ACTIVITY transition that allocated its number and ends with the transition
that ends it (STOP_ACTIVITY, GO_ERROR, a failed START, the environment's teardown or destruction). Its
marker holds the sequence numbers of those two events; every event of its environment in between belongs
to the run. The journal asks ``MarkerTracker.observe`` about each event as it numbers it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import model

#: transitions whose end ends the environment's run (START_ACTIVITY only when it failed)
_RUN_ENDING = {"STOP_ACTIVITY", "GO_ERROR"}
_FINISHED = {model.DONE_OK, model.DONE_ERROR, model.DONE_TIMEOUT}


@dataclass(frozen=True)
class RunMarker:
    run_number: int
    environment_id: str
    begin_seq: int
    end_seq: int | None = None  # None while the run goes on

    def holds(self, seq: int) -> bool:
        return self.begin_seq <= seq and (self.end_seq is None or seq <= self.end_seq)


def run_lookup(markers: Iterable[RunMarker]) -> Callable[[str, int], int]:
    """The run whose marker holds an environment's event (0: none), found by bisection in the environment's
    markers (its runs follow one another): a scan of them for each event made reading a journal of a thousand
    runs take seconds."""
    by_environment: dict[str, list[RunMarker]] = {}
    for marker in markers:
        by_environment.setdefault(marker.environment_id, []).append(marker)
    begins: dict[str, list[int]] = {}
    for env, runs in by_environment.items():
        runs.sort(key=lambda m: m.begin_seq)
        begins[env] = [m.begin_seq for m in runs]

    def run_at(environment_id: str, seq: int) -> int:
        runs = by_environment.get(environment_id)
        if not runs:
            return 0
        i = bisect.bisect_right(begins[environment_id], seq) - 1
        return runs[i].run_number if i >= 0 and runs[i].holds(seq) else 0

    return run_at


class MarkerTracker:
    """Follows the journal's events in order and says when a run's marker begins or ends."""

    def __init__(self, markers: Iterable[RunMarker] = ()):
        self._open: dict[str, RunMarker] = {}
        self._ended: dict[str, RunMarker] = {}  # environment -> its run that ended last
        self._last_run: dict[str, int] = {}  # a run number once ended never opens again
        self._starting: dict[str, int] = {}  # environment -> seq of its START_ACTIVITY's first event
        for marker in markers:
            env = marker.environment_id
            self._last_run[env] = max(self._last_run.get(env, 0), marker.run_number)
            if marker.end_seq is None:
                self._open[env] = marker

    def run_at(self, environment_id: str, seq: int) -> int:
        """The run whose marker holds event ``seq`` of ``environment_id``, as the journal will say: the run going
        on, or the one that ended last (a live reader sees a run's ending event after it closed the run), 0 if
        neither holds it."""
        for marker in (self._open.get(environment_id), self._ended.get(environment_id)):
            if marker is not None and marker.holds(seq):
                return marker.run_number
        return 0

    def observe(self, seq: int, event: model.Event, kind: str) -> RunMarker | None:
        """The marker ``event`` (numbered ``seq``, its payload ``kind``) begins or ends, else None."""
        if kind not in ("environmentEvent", "runEvent"):
            return None
        payload = getattr(event, kind)
        env = payload.environmentId
        if kind == "environmentEvent" and _starts_start(payload):
            self._starting[env] = seq
        marker = self._open.get(env)
        number = payload.runNumber
        if number and (marker is None or marker.run_number != number) and number > self._last_run.get(env, 0):
            marker = RunMarker(number, env, self._starting.pop(env, seq))
            self._open[env] = marker
            self._last_run[env] = number
            if not _ends_run(kind, payload):
                return marker
        if marker is not None and _ends_run(kind, payload):
            del self._open[env]
            self._ended[env] = replace(marker, end_seq=seq)
            return self._ended[env]
        return None


def _starts_start(payload) -> bool:
    return (
        payload.transition == "START_ACTIVITY"
        and not payload.transitionStep
        and payload.transitionStatus == model.STARTED
    )


def _ends_run(kind: str, payload) -> bool:
    if kind == "runEvent":
        return payload.transition == "TEARDOWN" and payload.transitionStatus in _FINISHED
    if payload.message == "environment destroyed":
        return True
    if payload.transitionStep or payload.transitionStatus not in _FINISHED:
        return False
    return payload.transition in _RUN_ENDING or (
        payload.transition == "START_ACTIVITY" and payload.transitionStatus != model.DONE_OK
    )
