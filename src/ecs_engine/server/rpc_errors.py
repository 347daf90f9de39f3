"""How the service's RPCs fail: the project's errors become gRPC statuses, with their class in the metadata.

Every RPC of ``ControlService`` wears ``rpc`` (or ``rpc_stream``), so a handled error reaches the client as
the same error class and message (``wire.ERROR_CLASS_KEY``), and an unexpected one as INTERNAL, logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc

from ecs_engine.errors import (
    DeadlineError,
    HandledError,
    NotFoundError,
    RefusedError,
    TemplateError,
    UnreachableError,
    UsageError,
)

from .wire import ERROR_CLASS_KEY

log = logging.getLogger(__name__)

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


async def abort_with(context: grpc.aio.ServicerContext, exc: HandledError) -> NoReturn:
    """End the call with the status of ``exc``, naming its class in the trailing metadata."""
    context.set_trailing_metadata(((ERROR_CLASS_KEY, type(exc).__name__),))
    await abort(context, status_of(exc), exc.render())


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
