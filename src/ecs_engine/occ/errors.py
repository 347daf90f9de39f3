"""What a failed OCC call means for the user: gRPC status codes turned into the project's error family."""

from __future__ import annotations

import grpc

from ecs_engine.errors import (
    DeadlineError,
    ExitStatus,
    HandledError,
    RefusedError,
    UnreachableError,
    never_connected,
)

DIRECT = "direct"  # OCC protobuf (occ_pb.Occ), OCClib processes
FMQ = "fmq"  # OCClite JSON codec, FairMQ devices
TRANSPORT_NAMES = {DIRECT: "OCC protobuf", FMQ: "the FairMQ OCClite JSON codec"}  # each client adds its own flags


class WrongModeError(HandledError):
    """A process answers, but speaks the other OCC transport."""

    exit_status = ExitStatus.WRONG_MODE

    def __init__(self, message: str, *, suggested_mode: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.suggested_mode = suggested_mode


#: what gRPC says of a peer that took the connection but sent no HTTP/2 (a data port, a web server, a silent one)
_NOT_GRPC = ("settings frame", "failed parsing http/2")


def other_mode(mode: str) -> str:
    return FMQ if mode == DIRECT else DIRECT


def seconds(value: float) -> str:
    """A time limit as the user gave it: what is left of a deadline (2.99998) reads as 3."""
    return f"{round(value, 3):g}"


def from_rpc_error(exc: grpc.RpcError, *, what: str, address: str, mode: str, timeout: float | None) -> HandledError:
    """One clear error for a failed call ``what`` (e.g. "Transition STANDBY/CONFIGURE") to ``address``."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    if code == grpc.StatusCode.UNAVAILABLE and "resol" in details.lower():  # gRPC's name resolver failed
        host = address.rpartition(":")[0]
        return UnreachableError(
            f"{what}: cannot resolve the host name {host!r} of {address}", hint="check the host name in the address"
        )
    if code == grpc.StatusCode.UNAVAILABLE and any(words in details.lower() for words in _NOT_GRPC):
        return UnreachableError(
            f"{what}: something at {address} accepts connections but does not speak gRPC ({details})",
            hint="is that the process's control port (its --control-port / OCC_CONTROL_PORT)?",
        )
    gone = code == grpc.StatusCode.UNAVAILABLE and details and not never_connected(details)
    if gone or (code == grpc.StatusCode.CANCELLED and mode == DIRECT):  # an OCC server cancels only as it stops
        return UnreachableError(
            f"{what}: the process at {address} went away during the call ({details or code.name})",
            hint="it ended or crashed (its output may say why); what was asked may have been done or cut short",
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnreachableError(
            f"{what}: nothing answers at {address} ({details or 'unavailable'})",
            hint="is the process running and is its control port right?",
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineError(
            f"{what}: no answer from {address} within {seconds(timeout)} s"
            if timeout
            else f"{what}: deadline exceeded",
            hint="raise the time limit with -timeout (e.g. -timeout 2m)",
        )
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return WrongModeError(
            f"{what}: the process at {address} does not speak {TRANSPORT_NAMES[mode]}",
            suggested_mode=other_mode(mode),
            hint=f"it may speak {TRANSPORT_NAMES[other_mode(mode)]} ({other_mode(mode)})",
        )
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNKNOWN):
        return RefusedError(f"{what} refused by {address}: {details or code.name}")
    if code == grpc.StatusCode.CANCELLED and mode == FMQ:
        return RefusedError(
            f"{what} refused by the FairMQ device at {address}",
            hint="OCClite gives no reason: the source state does not match, the event is unknown, "
            "or it is not allowed in the current state",
        )
    return HandledError(f"{what} to {address} failed: {code.name}: {details}")
