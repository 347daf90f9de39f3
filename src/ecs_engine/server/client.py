"""Talking to a core from a command line tool: blocking calls, errors turned back into the project's family.

The core puts the error class in the trailing metadata, so a template error raised in the core is shown
and exits like the same error found offline; with it coconut's hint (and the message without the hint the status
details give every client), so it reads as it does offline too (``rpc_errors``). Every call carries the owner's
token (``auth``), if given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from ecs_engine.errors import DeadlineError, HandledError, RefusedError, UnreachableError, never_connected
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc

from .auth import TOKEN_FILE, token_metadata
from .wire import (
    ERROR_CLASS_KEY,
    ERROR_CLASSES,
    ERROR_HINT_KEY,
    ERROR_MESSAGE_KEY,
    ERROR_REASON_KEY,
    MAX_MESSAGE_BYTES,
)

#: seconds a connection may take to become a gRPC one (TCP, TLS, HTTP/2's SETTINGS frame): gRPC's default, 20 s,
#: left a command hanging that long at a port that accepts but never speaks HTTP/2. Only connecting is bounded: a
#: call keeps its own deadline (``timeout``; a create may take minutes), and a core answers this within
#: milliseconds, even a busy one (its transport is gRPC's own threads, not its event loop).
CONNECT_TIMEOUT = 3.0

CHANNEL_OPTIONS = (
    ("grpc.enable_http_proxy", 0),
    # gRPC's MIN_CONNECT_TIMEOUT (doc/connection-backoff.md): the time a connection attempt is given
    ("grpc.min_reconnect_backoff_ms", int(CONNECT_TIMEOUT * 1000)),
    # a channel of its own connections: with gRPC's process-wide pool, a new client in a process that talked to a
    # core which since died (a test, a long-lived tool) inherits the dead connection's failure and backoff, and
    # its first call fails though a new core listens
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)


class CoreClient:
    """One channel to the core at ``endpoint``; ``timeout`` (seconds) bounds every call; ``token``: the core's
    (``auth.read_token`` of its state directory), sent with every call."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 300.0,
        timeout_setting: str = "timeout",
        tls_ca: str = "",
        token: str = "",
    ):
        self.endpoint = endpoint
        self.token = token
        self.timeout = timeout
        self.timeout_setting = timeout_setting
        if tls_ca:
            with open(tls_ca, "rb") as handle:
                credentials = grpc.ssl_channel_credentials(handle.read())
            self._channel = grpc.secure_channel(endpoint, credentials, options=CHANNEL_OPTIONS)
        else:
            self._channel = grpc.insecure_channel(endpoint, options=CHANNEL_OPTIONS)
        self.stub = pb_grpc.ControlStub(self._channel)
        #: the reason the core gave for the last failed transition (ControlEnvironment answers OK then)
        self.last_error = ""

    @functools.cached_property
    def journal(self) -> Any:
        """This project's ``ecs.journal.Journal``; imported when first used, not at every CLI start."""
        from ecs_engine.protocols import journal_pb2_grpc

        return journal_pb2_grpc.JournalStub(self._channel)

    @functools.cached_property
    def watchdogs(self) -> Any:
        """This project's ``ecs.watchdogs.Watchdogs``; imported when first used."""
        from ecs_engine.protocols import watchdogs_pb2_grpc

        return watchdogs_pb2_grpc.WatchdogsStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        rpc: str,
        request: Any,
        *,
        timeout: float | None = None,
        on_metadata: Callable[[dict[str, str]], None] | None = None,
    ) -> Any:
        """Call unary ``rpc``; raises a HandledError naming the core and what failed.

        ``on_metadata`` is given the initial metadata as soon as the core sends it, before the reply.
        """
        timeout = self.timeout if timeout is None else timeout
        self.last_error = ""
        method = self._method(rpc)
        try:
            if on_metadata is None:
                reply, call = method.with_call(request, timeout=timeout, metadata=self._metadata())
            else:
                call = self._seeing_metadata(rpc)(request, timeout=timeout, metadata=self._metadata())
                try:
                    on_metadata(dict(call.initial_metadata() or ()))
                    (reply,) = call
                finally:
                    call.cancel()  # a no-op once done; on Ctrl-C the call ends here (the core's work goes on)
        except grpc.RpcError as exc:
            raise self.error(exc, rpc, timeout) from None
        self.last_error = bytes(dict(call.trailing_metadata() or ()).get(ERROR_REASON_KEY, b"")).decode()
        return reply

    def call_all(self, calls: Sequence[tuple[str, Any]], *, timeout: float | None = None) -> list[Any]:
        """Make the unary ``calls`` (rpc, request) at once on the one channel, so their round trips overlap (a
        command that needs two replies waits for about one); their replies in order. Raises as ``call`` does, for
        the first that failed; sets no ``last_error`` (for reads)."""
        timeout = self.timeout if timeout is None else timeout
        self.last_error = ""
        metadata = self._metadata()
        futures = [
            (rpc, self._method(rpc).future(request, timeout=timeout, metadata=metadata)) for rpc, request in calls
        ]
        replies = []
        try:
            for rpc, future in futures:
                try:
                    replies.append(future.result())
                except grpc.RpcError as exc:
                    raise self.error(exc, rpc, timeout) from None
        finally:
            for _, future in futures:
                future.cancel()  # a no-op once done
        return replies

    def stream(self, rpc: str, request: Any):
        """Open a server stream (no deadline) and wait until the core confirms it; iterate the result."""
        call = self._method(rpc)(request, metadata=self._metadata())
        try:
            call.initial_metadata()
        except grpc.RpcError as exc:
            raise self.error(exc, rpc, None) from None
        return self._messages(call, rpc)

    def _messages(self, call, rpc: str):
        try:
            yield from call
        except grpc.RpcError as exc:
            raise self.error(exc, rpc, None) from None

    def _method(self, rpc: str) -> Any:
        """The callable of ``rpc``: o2control.Control's, else the journal service's, else the watchdogs'."""
        return getattr(self.stub, rpc, None) or getattr(self.journal, rpc, None) or getattr(self.watchdogs, rpc)

    def _seeing_metadata(self, rpc: str) -> Any:
        """Unary o2control ``rpc`` read as a one-message stream: the same bytes on the wire, but grpc's blocking
        API hands a stream call's initial metadata over as soon as it arrives (a unary call's with its reply)."""
        from ecs_engine.protocols import o2control_pb2 as pb

        method = pb.DESCRIPTOR.services_by_name["Control"].methods_by_name[rpc]
        return self._channel.unary_stream(
            f"/{method.containing_service.full_name}/{rpc}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=getattr(pb, method.output_type.name).FromString,
        )

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return token_metadata(self.token)

    def answers(self, timeout: float = 1.0) -> bool:
        """Whether a core answers at the endpoint now (one that refuses this client's token answers too).

        Asks for what the core holds in memory (its active detectors), never for what needs the
        configuration store: a core whose store is down still answers.
        """
        from ecs_engine.protocols import o2control_pb2 as pb

        try:
            self.stub.GetActiveDetectors(pb.Empty(), timeout=timeout, metadata=self._metadata())
        except grpc.RpcError as exc:
            return exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        return True

    def error(self, exc: grpc.RpcError, rpc: str, timeout: float | None) -> HandledError:
        code = exc.code()
        details = exc.details() or code.name
        trailing = dict(exc.trailing_metadata() or ())
        name = trailing.get(ERROR_CLASS_KEY)
        # no error class: gRPC's own status (no core there, no answer in time); with one, the core answered
        # with its error (e.g. its configuration store is unreachable), which names what failed
        transport = name is None
        if transport and code == grpc.StatusCode.UNAVAILABLE and not never_connected(details):
            return UnreachableError(
                f"{rpc}: the core at {self.endpoint} went away during the call ({details})",
                hint="it stopped or crashed; what was asked may have been done or cut short: look again (e.g. "
                "'coconut env list') once a core runs",
            )
        if transport and code == grpc.StatusCode.UNAVAILABLE:
            return UnreachableError(
                f"no core answers at {self.endpoint} ({details})",
                hint="start one with 'coconut core start', or point --endpoint at a running core",
            )
        if transport and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineError(
                f"{rpc}: the core at {self.endpoint} did not answer within {timeout:g} s",
                hint=f"raise the setting '{self.timeout_setting}' (e.g. 10m); the operation may still complete",
            )
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return RefusedError(
                f"the core at {self.endpoint} refused {rpc}: {details}",
                hint=f"only the core's owner may control it: run coconut as the user the core runs as (who can "
                f"read {TOKEN_FILE} in its state directory), set the setting 'token' to that file's content, or "
                "use a core of your own on another --endpoint",
            )
        cls = ERROR_CLASSES.get(name or "", HandledError)
        error = cls(_utf8(trailing.get(ERROR_MESSAGE_KEY)) or details, hint=_utf8(trailing.get(ERROR_HINT_KEY)) or None)
        if code == grpc.StatusCode.UNIMPLEMENTED:
            error = HandledError(f"{rpc}: {details}")
        return error


def _utf8(value: str | bytes | None) -> str:
    """A binary metadata value as text ("" if absent)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""
