"""Endpoints as settings name them (``host:port``): split, checked, and whether they are on this machine.

Apart from ``settings.py`` so a command line tool reaching the core checks its endpoint without loading the
core's settings (issue 19).
"""

from __future__ import annotations

import ipaddress

from ecs_engine.errors import UsageError

from .layered_settings import KNOWN

DEFAULT_ENDPOINT: str = KNOWN["endpoint"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_endpoint(endpoint: str, *, what: str = "endpoint", example: str = DEFAULT_ENDPOINT) -> tuple[str, int]:
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host:
        raise UsageError(f"{what} '{endpoint}': expected HOST:PORT, e.g. {example}")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"{what} '{endpoint}': the port is not a number") from None
    return host, check_port(number, f"{what} '{endpoint}'")


def check_port(port: int, what: str, *, lowest: int = 1) -> int:
    """``port`` if it is a TCP port (``lowest`` 0: 0 too, any free port), else one UsageError naming ``what``:
    the one check of every port an endpoint or an option (``--port``) gives, before a bind fails obscurely."""
    if not lowest <= port <= 65535:
        raise UsageError(f"{what}: the port must be {lowest}-65535")
    return port
