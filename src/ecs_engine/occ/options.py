"""Where a controlled process listens and which role it plays: flags, environment, defaults.

OCClib processes take ``--control-port`` / ``OCC_CONTROL_PORT`` and ``--o2-role`` / ``O2_ROLE``; the core sets
both spellings. A flag beats the environment here (the OCClite plugin reads the environment first; both are
given the same value by the core, so the difference only shows when a user sets them apart); FairMQ-like
devices follow OCClite and read the environment first.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ecs_engine.errors import UsageError

DEFAULT_CONTROL_PORT = 47100
DEFAULT_CONTROL_HOST = "127.0.0.1"
PORT_ENV = "OCC_CONTROL_PORT"
ROLE_ENV = "O2_ROLE"


@dataclass
class ControlOptions:
    port: int = DEFAULT_CONTROL_PORT
    host: str = DEFAULT_CONTROL_HOST
    role: str = field(default_factory=socket.gethostname)
    extra: argparse.Namespace = field(default_factory=argparse.Namespace)  # the process's own flags
    rest: list[str] = field(default_factory=list)  # arguments nobody declared


def control_parser(prog: str | None = None, description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    parser.add_argument("--control-port", type=int, help=f"OCC control port (default ${PORT_ENV} or 47100; 0: any)")
    parser.add_argument("--control-host", help=f"address to listen on (default {DEFAULT_CONTROL_HOST})")
    parser.add_argument("--o2-role", help=f"role name of this process (default ${ROLE_ENV} or the host name)")
    return parser


def parse_control_options(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    environment_first: bool = False,
) -> ControlOptions:
    environ = os.environ if environ is None else environ
    namespace, rest = parser.parse_known_args(list(argv))
    text = environ.get(PORT_ENV, "")
    try:
        from_env = int(text) if text else None
    except ValueError:
        raise UsageError(f"{PORT_ENV}={text!r}: expected a port number") from None
    port = namespace.control_port
    if port is None or (environment_first and from_env is not None):
        port = from_env if from_env is not None else DEFAULT_CONTROL_PORT
    if not 0 <= port <= 65535:
        raise UsageError(f"control port {port}: expected a number from 0 to 65535")
    role = namespace.o2_role or environ.get(ROLE_ENV) or socket.gethostname()
    return ControlOptions(
        port=port, host=namespace.control_host or DEFAULT_CONTROL_HOST, role=role, extra=namespace, rest=rest
    )
