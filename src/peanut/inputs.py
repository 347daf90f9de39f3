"""Reading what the user types: durations, addresses, ``key=value`` arguments and configuration files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ecs_engine.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
DEFAULT_ADDRESS = "localhost:47100"


def parse_duration(text: str, what: str = "-timeout") -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{what} {text!r}: expected a positive duration such as 30s, 2m or 500ms")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_address(text: str) -> str:
    """``host:port`` (or ``:port`` for localhost) with a port from 1 to 65535."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"-addr {text!r}: expected host:port, e.g. localhost:47100")
    if not 0 < int(port) < 65536:
        raise UsageError(f"-addr {text!r}: the port must be 1-65535")
    return f"{host or 'localhost'}:{int(port)}"


def default_address(environ: Mapping[str, str], *, tui: bool) -> str:
    """The TUI falls back to ``$OCC_CONTROL_PORT`` on localhost, as upstream peanut does."""
    port = environ.get("OCC_CONTROL_PORT", "")
    if tui and port:
        return parse_address(f"localhost:{port}")
    return DEFAULT_ADDRESS


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> dict; a later key wins."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"argument {item!r}: expected key=value")
        result[key] = value
    return result


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of a file the user named; unreadable or not text is a usage error naming ``what``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{what}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def load_config(path: str | Path) -> dict[str, str]:
    """A YAML or JSON file flattened to dot keys (``chans.data.0.address``); values are pushed as written."""
    import yaml

    from ecs_engine.config.tree import yaml_error
    from ecs_engine.occ.arguments import flatten

    path = Path(path).expanduser()
    text = read_text(path, f"configuration file {path}")
    try:
        data = yaml.load(text, Loader=_as_written_loader())  # JSON is YAML
    except yaml.YAMLError as exc:
        raise UsageError(yaml_error(f"configuration file {path}", exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"configuration file {path}: expected a mapping at the top, got {type(data).__name__}")
    return flatten(data)


def _as_written_loader() -> type:
    """A safe YAML loader that reads every scalar as the text written, only null and empty as nothing: the process
    receives text, and YAML 1.1's reading of it pushed 0x1F as 31, 010 as 8, 1.10 as 1.1, 12:30 as 750 and
    yes/on as true."""
    import yaml

    class AsWritten(yaml.SafeLoader):
        pass

    kept = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
    AsWritten.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag in kept]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return AsWritten
