"""How the service's RPCs fail: the project's errors become gRPC statuses, with their class in the metadata.

Every RPC of ``ControlService`` wears ``rpc`` (or ``rpc_stream``), so a handled error reaches the client as
the same error class and message (``wire.ERROR_CLASS_KEY``), and an unexpected one as INTERNAL, logged.

The status details are what every client shows (the AliECS GUI verbatim): the message and the hint meant for any
client (``HandledError.render_plain``), never coconut's hint line nor its flags. What coconut shows besides goes in
the trailing metadata: its hint (``wire.ERROR_HINT_KEY``) and, when the details hold a hint for everyone, the
message without it (``wire.ERROR_MESSAGE_KEY``), so coconut renders the error as it renders one raised offline.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc
from google.protobuf.message import Message

from ecs_engine.errors import (
    DeadlineError,
    HandledError,
    NotFoundError,
    RefusedError,
    TemplateError,
    UnreachableError,
    UsageError,
)

from .wire import ERROR_CLASS_KEY, ERROR_HINT_KEY, ERROR_MESSAGE_KEY, MAX_ERROR_MESSAGE_BYTES

log = logging.getLogger(__name__)

#: trailing metadata of a status with details (a serialized google.rpc.Status), gRPC's convention
STATUS_DETAILS_KEY = "grpc-status-details-bin"

Service = TypeVar("Service")
Request = TypeVar("Request")
Reply = TypeVar("Reply")

STATUS_OF = (
    (UsageError, grpc.StatusCode.INVALID_ARGUMENT),
    (TemplateError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (RefusedError, grpc.StatusCode.FAILED_PRECONDITION),
    (DeadlineError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (UnreachableError, grpc.StatusCode.UNAVAILABLE),
)


def status_of(exc: HandledError) -> grpc.StatusCode:
    for cls, code in STATUS_OF:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


async def abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    """``context.abort``, which always raises (grpc's untyped API does not say so)."""
    await context.abort(code, details)
    raise AssertionError("grpc.aio ServicerContext.abort returned")


async def abort_with(
    context: grpc.aio.ServicerContext,
    exc: HandledError,
    *,
    code: grpc.StatusCode | None = None,
    detail: Message | None = None,
    prefix: str = "",
) -> NoReturn:
    """End the call with the status of ``exc`` (or ``code``), naming its class in the trailing metadata; a
    ``detail`` goes with it as a ``google.rpc.Status`` detail (``grpc-status-details-bin``), as Go servers send.
    ``prefix``: put before the message (e.g. upstream's "cannot create new environment: ")."""
    code = code or status_of(exc)
    text = prefix + exc.render_plain()
    metadata: list[tuple[str, str | bytes]] = [(ERROR_CLASS_KEY, type(exc).__name__), *cli_metadata(exc, prefix)]
    if detail is not None:
        metadata.append((STATUS_DETAILS_KEY, status_details(code, text, detail)))
    context.set_trailing_metadata(tuple(metadata))
    await abort(context, code, text)


def cli_metadata(exc: HandledError, prefix: str = "") -> list[tuple[str, bytes]]:
    """The trailing metadata from which coconut renders ``exc`` as it does offline: its hint, and the message
    alone when the status details (``prefix`` + ``render_plain()``) carry a hint after it."""
    metadata: list[tuple[str, bytes]] = []
    hint = exc.shown_hint()
    if hint:
        metadata.append((ERROR_HINT_KEY, hint.encode()))
    message = (prefix + exc.body()).encode()
    if exc.hint and len(message) <= MAX_ERROR_MESSAGE_BYTES:
        metadata.append((ERROR_MESSAGE_KEY, message))
    return metadata


def status_details(code: grpc.StatusCode, message: str, detail: Message) -> bytes:
    """A serialized ``google.rpc.Status`` of ``code`` and ``message`` carrying ``detail`` (packed as Any)."""
    from google.protobuf import any_pb2
    from google.rpc import status_pb2

    packed = any_pb2.Any()
    packed.Pack(detail)
    return status_pb2.Status(code=code.value[0], message=message, details=[packed]).SerializeToString()


def rpc(
    method: Callable[[Service, Request, grpc.aio.ServicerContext], Awaitable[Reply]],
) -> Callable[[Service, Request, grpc.aio.ServicerContext], Awaitable[Reply]]:
    """Turn the project's errors into gRPC statuses (and unexpected ones into INTERNAL, logged)."""

    @functools.wraps(method)
    async def wrapper(self: Service, request: Request, context: grpc.aio.ServicerContext) -> Reply:
        try:
            return await method(self, request, context)
        except HandledError as exc:
            await abort_with(context, exc)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            log.exception("%s failed", method.__name__)
            await abort(context, grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")

    return wrapper


def rpc_stream(
    method: Callable[[Service, Request, grpc.aio.ServicerContext], AsyncIterator[Reply]],
) -> Callable[[Service, Request, grpc.aio.ServicerContext], AsyncIterator[Reply]]:
    """``rpc`` for server-streaming methods (async generators)."""

    @functools.wraps(method)
    async def wrapper(self: Service, request: Request, context: grpc.aio.ServicerContext) -> AsyncIterator[Reply]:
        try:
            async for message in method(self, request, context):
                yield message
        except HandledError as exc:
            await abort_with(context, exc)

    return wrapper
