"""``ecs.watchdogs.Watchdogs`` (watchdogs.proto): the core's watchdogs, their state and history, for coconut."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import grpc

from ecs_engine.errors import NotFoundError
from ecs_engine.protocols import watchdogs_pb2 as pb
from ecs_engine.protocols import watchdogs_pb2_grpc as pb_grpc

from .rpc_errors import rpc

if TYPE_CHECKING:
    from ecs_engine.environment.watchdogs import Watchdogs


class WatchdogHost(Protocol):
    """What the service reads of the running core."""

    watchdogs: Watchdogs | None


def watchdog_message(status: dict[str, Any]) -> pb.Watchdog:
    return pb.Watchdog(
        name=status["name"],
        origin=status["origin"],
        source=status["source"],
        subject=status["subject"],
        condition=status["condition"],
        graceSeconds=status["grace"],
        action=status["action"],
        user=status["user"],
        appliesTo=status["applies_to"],
        resume=status["resume"],
        state=status["state"],
        values={key: value for key, value in status["values"].items() if value is not None},
        sinceMs=status["since_ms"],
        history=[pb.HistoryEntry(timeMs=ms, message=text) for ms, text in status["history"]],
        warnings=status["warnings"],
    )


class WatchdogService(pb_grpc.WatchdogsServicer):
    def __init__(self, core: WatchdogHost) -> None:
        self.core = core

    @rpc
    async def GetWatchdogs(self, request: pb.WatchdogsRequest, context: grpc.aio.ServicerContext) -> pb.WatchdogsReply:
        statuses = self.core.watchdogs.status() if self.core.watchdogs is not None else []
        if request.name:
            statuses = [s for s in statuses if s["name"] == request.name]
            if not statuses:
                raise NotFoundError(f"no watchdog named {request.name!r}")
        return pb.WatchdogsReply(watchdogs=[watchdog_message(s) for s in statuses])
