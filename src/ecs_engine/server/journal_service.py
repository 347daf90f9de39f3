"""``ecs.journal.Journal`` (journal.proto): the core's event journal and run registry, for coconut.

The core owns the journal, so the CLI reads it here rather than opening the SQLite file. Reads cross
``offload``. ``journal_then_live`` (used by ``FollowEvents`` and o2control's ``Subscribe``) replays the
journal after a sequence number and then forwards the bus without a gap or a repeat: the bus stream opens
first, the replay ends at some number S, and live events numbered S or lower (already replayed) are skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from ecs_engine.errors import NotFoundError, UsageError
from ecs_engine.events import model
from ecs_engine.events.bus import EventStream
from ecs_engine.events.journal import EventJournal, JournalEntry
from ecs_engine.events.runs import read_runs, run_record
from ecs_engine.offload import offload
from ecs_engine.protocols import journal_pb2 as pb
from ecs_engine.protocols import journal_pb2_grpc as pb_grpc

from .rpc_errors import rpc, rpc_stream

if TYPE_CHECKING:
    from ecs_engine.environment.manager import EnvironmentManager

#: events read from the journal per query while replaying
REPLAY_PAGE = 1000
#: the most events one QueryEvents reply holds (a reply stays far below the gRPC message limit)
QUERY_PAGE = 10_000


class JournalHost(Protocol):
    """What the service reads of the running core."""

    manager: EnvironmentManager


def journal_event(entry: JournalEntry) -> pb.JournalEvent:
    return pb.JournalEvent(
        seq=entry.seq, runNumber=entry.run_number, severity=model.severity_of(entry.event), event=entry.event
    )


def _query(request: pb.EventQuery) -> dict[str, Any]:
    """``EventJournal.entries`` arguments from a request (0 and "" meaning "no bound")."""
    if request.sinceMs and request.untilMs and request.sinceMs > request.untilMs:
        raise UsageError(f"the query's since ({request.sinceMs}) is after its until ({request.untilMs})")
    return {
        "environment_id": request.environmentId or None,
        "run_number": request.runNumber or None,
        "kinds": list(request.kinds) or None,
        "since_ms": request.sinceMs or None,
        "until_ms": request.untilMs or None,
        "after_seq": request.afterSeq,
    }


def read_journal(journal: EventJournal, query: dict[str, Any], limit: int | None = None) -> list[JournalEntry]:
    return list(journal.entries(**query, limit=limit))


async def journal_then_live(
    manager: EnvironmentManager, stream: EventStream, query: dict[str, Any], after_seq: int | None
) -> AsyncIterator[tuple[model.Event, int]]:
    """(event, run number) pairs: the journal's events matching ``query`` after ``after_seq``, then those of
    ``stream`` (opened before this is called) that match; ``after_seq`` None: only ``stream``'s, all of them."""
    journal = manager.journal
    last = after_seq or 0
    replaying = after_seq is not None
    while replaying:
        page = await offload(read_journal, journal, {**query, "after_seq": last}, REPLAY_PAGE)
        for entry in page:
            yield entry.event, entry.run_number
        last = page[-1].seq if page else last
        replaying = len(page) == REPLAY_PAGE
    async for event in stream:
        environment_id = model.environment_id_of(event)
        if event.sequence <= last or query["environment_id"] not in (None, environment_id):
            continue
        run = journal.run_of(environment_id, event.sequence)
        if query["run_number"] in (None, run):
            yield event, run


class JournalService(pb_grpc.JournalServicer):
    def __init__(self, core: JournalHost) -> None:
        self.core = core

    @property
    def manager(self) -> EnvironmentManager:
        return self.core.manager

    @rpc
    async def QueryEvents(self, request: pb.EventQuery, context: grpc.aio.ServicerContext) -> pb.EventPage:
        limit = min(request.limit or QUERY_PAGE, QUERY_PAGE)
        entries = await offload(read_journal, self.manager.journal, _query(request), limit)
        return pb.EventPage(events=[journal_event(e) for e in entries])

    @rpc_stream
    async def FollowEvents(
        self, request: pb.EventQuery, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.JournalEvent]:
        query = _query(request)
        stream = self.manager.bus.stream(environment_id=query["environment_id"], kinds=query["kinds"])
        try:
            await context.send_initial_metadata(())  # following: what is published from now on is seen
            after = None if request.fromNow else request.afterSeq
            async for event, run in journal_then_live(self.manager, stream, query, after):
                yield pb.JournalEvent(seq=event.sequence, runNumber=run, severity=model.severity_of(event), event=event)
        finally:
            stream.close()

    @rpc
    async def GetRuns(self, request: pb.RunsRequest, context: grpc.aio.ServicerContext) -> pb.RunsReply:
        journal = self.manager.journal
        markers = await offload(journal.markers, request.runNumber or None)
        if request.runNumber and not markers:
            raise NotFoundError(f"run {request.runNumber} is not in the event journal")
        runs = []
        facts: dict[str, tuple[list[str], str]] = {}  # an environment's record is read once, not once per run
        for marker, entries in zip(markers, await offload(read_runs, journal, markers), strict=True):
            if marker.environment_id not in facts:
                facts[marker.environment_id] = await self._environment_facts(marker.environment_id)
            detectors, run_type = facts[marker.environment_id]
            runs.append(run_record(marker, entries, detectors=detectors, run_type=run_type))
        return pb.RunsReply(runs=runs)

    async def _environment_facts(self, environment_id: str) -> tuple[list[str], str]:
        """The environment's detectors and run type: from memory while it lives, else from its record."""
        env = self.manager.environments.get(environment_id)
        if env is not None:
            return list(env.detectors), env.stack().get("run_type", "")
        stored = await offload(self.manager.store.load, environment_id)
        if stored is None:
            return [], ""
        snapshot = stored.snapshot
        env_vars = snapshot.get("env_vars", {})
        for layer in (snapshot.get("request_vars", {}), env_vars.get("vars", {}), env_vars.get("defaults", {})):
            if layer.get("run_type"):
                return list(snapshot.get("detectors", [])), layer["run_type"]
        return list(snapshot.get("detectors", [])), ""
