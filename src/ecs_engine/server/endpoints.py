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


def split_endpoint(endpoint: str, *, what: str = "endpoint") -> tuple[str, int]:
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host:
        raise UsageError(f"{what} '{endpoint}': expected HOST:PORT, e.g. {DEFAULT_ENDPOINT}")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"{what} '{endpoint}': the port is not a number") from None
    if not 0 < number < 65536:
        raise UsageError(f"{what} '{endpoint}': the port must be 1-65535")
    return host, number
