"""How the core's gRPC servers listen: one set of options, one way to bind (TLS if configured), one error.

Shared by the control service (``core.listen``) and the configuration service (``apricot.listen``,
``coconut apricot serve``); ``port_in_use`` also by coconut, which checks a core's port before starting it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import grpc

from ecs_engine.errors import HandledError, RefusedError

from .wire import MAX_MESSAGE_BYTES

SERVER_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
)


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (bound as gRPC binds, with SO_REUSEADDR): asked before
    gRPC binds, whose failure is a RuntimeError that never says why and a raw line of its own on stderr (the
    mocks ask it too)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_in_use(who: str, listen: str, *, hint: str, cli_hint: str | None = None) -> RefusedError:
    """The one error for a port something listens at already (another user's core, most likely): a core's or
    apricot's bind, and coconut's check before it starts a core; ``hint`` says how to take another."""
    return RefusedError(
        f"cannot start {who} on {listen}: something listens there already", hint=hint, cli_hint=cli_hint
    )


def bind(server: grpc.aio.Server, listen: str, *, tls_cert: str, tls_key: str, who: str, hint: str) -> int:
    """Add the port ``listen`` to ``server`` (with TLS when both files are set); the bound port number.

    ``who`` names the service and ``hint`` how to take another port, for the error a port in use gives.
    """
    host, _, digits = listen.rpartition(":")
    if digits.isdigit() and int(digits) and not port_free(host.strip("[]"), int(digits)):  # 0: any free port
        raise port_in_use(who, listen, hint=hint)
    try:
        if tls_cert and tls_key:
            credentials = grpc.ssl_server_credentials([(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())])
            port = server.add_secure_port(listen, credentials)
        else:
            port = server.add_insecure_port(listen)
    except (RuntimeError, OSError) as exc:
        raise HandledError(f"cannot start {who} on {listen}: {exc}") from None
    if not port:  # gRPC versions that answer 0 instead of raising
        raise port_in_use(who, listen, hint=hint)
    return port
