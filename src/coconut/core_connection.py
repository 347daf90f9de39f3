"""How every core command reaches the core: the configured endpoint, timeout, TLS certificate and token.

The token (what the core admits its owner by): the setting ``token`` if set, else, for a core on this
machine, the one the core wrote in coconut's state directory (``core.token``), read after starting it.

The embedded default: when the endpoint is on this machine and nothing listens there, the local core is
started in the background first, and coconut says so (setting ``embedded_core: false`` turns that off). Whether
anything listens is a TCP connect, not an RPC (issue 19: a liveness RPC before each command was a round trip
through the core); a listener that is no core fails the command's first call, as with no core at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ecs_engine.errors import UnreachableError, UsageError

from .context import CliContext
from .output import spinner

if TYPE_CHECKING:
    from ecs_engine.server.client import CoreClient


@contextlib.contextmanager
def connect(cli: CliContext) -> Iterator[CoreClient]:
    """A ``CoreClient`` to the configured core, starting the local one if it is the embedded default."""
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.endpoints import is_loopback, split_endpoint

    settings = cli.settings
    endpoint = str(settings.get("endpoint"))
    host, port = split_endpoint(endpoint, what=settings.layers.where("endpoint"))
    local = is_loopback(host)
    if settings.flag("embedded_core") and local and not _listening(host, port):
        _start_embedded(cli, endpoint)
    client = CoreClient(endpoint, timeout=settings.timeout(), tls_ca=settings.tls_ca, token=core_token(cli, local))
    try:
        if cli.options.get("config_endpoint"):
            _check_config_endpoint(client, str(cli.options["config_endpoint"]))
        yield client
    finally:
        client.close()


def _listening(host: str, port: int) -> bool:
    """Whether anything on this machine accepts connections at ``host:port`` (a socket of the address's family:
    ``socket.create_connection`` asks the resolver even for an address, ~11M instructions)."""
    import socket

    address = host.strip("[]")
    try:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.settimeout(2.0)
            probe.connect((address, port))
    except OSError:
        return False
    return True


def _check_config_endpoint(client: CoreClient, wanted: str) -> None:
    """``--config-endpoint`` with a core command: the core's commands use the store the core opened, so a
    flag naming another one is refused rather than ignored (a core coconut starts opens the flag's store)."""
    from ecs_engine.protocols import o2control_pb2 as pb

    used = client.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest()).configurationEndpoint
    if used != wanted:
        raise UsageError(
            f"--config-endpoint {wanted}: the core at {client.endpoint} uses the configuration store {used}",
            hint="leave --config-endpoint out, or restart the core with that store:"
            f" coconut core stop, then coconut --config-endpoint {wanted} core start",
        )


def core_token(cli: CliContext, local: bool) -> str:
    """The token to send: the setting ``token``, or the local core's (never sent to a core elsewhere)."""
    from ecs_engine.server.auth import read_token

    configured = str(cli.settings.get("token") or "")
    return configured or (read_token(cli.state_dir) if local else "")


def _start_embedded(cli: CliContext, endpoint: str) -> None:
    from ecs_engine.server import daemon
    from ecs_engine.server.core import read_pidfile

    running = read_pidfile(cli.state_dir)
    if running is not None:
        raise UnreachableError(
            f"no core answers at {endpoint}, but the local core (pid {running['pid']}) runs at {running.get('listen')}",
            hint=f"use --endpoint {running.get('listen')}, or 'coconut core stop' it first",
        )
    with spinner(cli, "Starting the local core..."):
        started = daemon.start(
            endpoint=endpoint,
            data_dir=cli.data_dir,
            state_dir=cli.state_dir,
            settings_path=cli.settings.user_file,
            tls_ca=cli.settings.tls_ca,
            config_endpoint=cli.options.get("config_endpoint") or "",
        )
    cli.error(
        f"coconut: no core answered at {endpoint}: started the local core (pid {started.pid}, log {started.log_path}); "
        "stop it with 'coconut core stop'"
    )
