"""How the core's gRPC servers listen: one set of options, one way to bind (TLS if configured), one error.

Shared by the control service (``core.listen``) and the configuration service (``apricot.listen``,
``coconut apricot serve``).
"""

from __future__ import annotations

from pathlib import Path

import grpc

from ecs_engine.errors import HandledError

from .wire import MAX_MESSAGE_BYTES

SERVER_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
)


def bind(server: grpc.aio.Server, listen: str, *, tls_cert: str, tls_key: str, who: str, setting: str) -> int:
    """Add the port ``listen`` to ``server`` (with TLS when both files are set); the bound port number.

    ``who`` names the service and ``setting`` where ``listen`` came from, for the error a port in use gives.
    """
    try:
        if tls_cert and tls_key:
            credentials = grpc.ssl_server_credentials([(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())])
            port = server.add_secure_port(listen, credentials)
        else:
            port = server.add_insecure_port(listen)
    except (RuntimeError, OSError) as exc:
        raise HandledError(f"{who} cannot listen on {listen}: {exc}") from None
    if not port:
        raise HandledError(
            f"{who} cannot listen on {listen}: the port is in use",
            hint=f"another core or program listens there; change {setting}",
        )
    return port
