"""Only the core's owner controls it: a secret token in a file only the owner can read, sent with every call.

The core creates ``<state dir>/core.token`` (0600, in a 0700 directory) at its first start and keeps it;
coconut reads it from the same state directory and sends it as gRPC metadata (``authorization: bearer
<token>``), as Jupyter does with its server token. A server interceptor checks every RPC: a call without
the token, or with another, is refused UNAUTHENTICATED. ``core.require_token: false`` admits clients that
cannot send it (the AliECS GUI): whoever reaches the port then controls the core (docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

TOKEN_FILE = "core.token"
TOKEN_KEY = "authorization"
SCHEME = "bearer "


def read_token(state_dir: Path) -> str:
    """The token of the core of ``state_dir``; "" if there is none or this user cannot read it."""
    try:
        return (state_dir / TOKEN_FILE).read_text().strip()
    except OSError:
        return ""


def ensure_token(state_dir: Path) -> str:
    """The core's token: the one of an earlier start (kept, so copies given to remote clients stay valid), or a
    new one written 0600."""
    path = state_dir / TOKEN_FILE
    token = read_token(state_dir)
    if token:
        path.chmod(0o600)
        return token
    import secrets  # here: a client reading the token does not load it (issue 19)

    token = secrets.token_urlsafe(32)
    tmp = path.with_name(TOKEN_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(fd, 0o600)
        handle.write(token + "\n")
        handle.flush()
        os.fsync(fd)
    tmp.replace(path)
    return token


def token_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """What a client sends with each call ("" token: nothing)."""
    return ((TOKEN_KEY, SCHEME + token),) if token else ()


class TokenCheck(grpc.aio.ServerInterceptor):
    """Refuses every RPC that does not carry ``token`` (compared in constant time); ``service`` is who refuses, in
    the refusal (the core, or a standalone apricot). The scheme is case-insensitive (RFC 7235): gRPC's own
    ``access_token_call_credentials`` sends ``Bearer``."""

    def __init__(self, token: str, service: str = "the core"):
        import hmac  # here: a client sending the token does not load it (issue 19)

        self._expected = token.encode()
        self._same = hmac.compare_digest
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        sent = str(metadata.get(TOKEN_KEY, ""))
        scheme, _, value = sent.partition(" ")
        if handler is None or (scheme.lower() == SCHEME.strip() and self._same(value.encode(), self._expected)):
            return handler
        reason = "a wrong token" if sent else "no token"
        return _refusal(handler, f"{self._service} admits only its owner: this call carries {reason}")


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that answers UNAUTHENTICATED with ``message``."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    make = grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
