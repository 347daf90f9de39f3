"""coconut settings: defaults < settings file < environment variables < command line flags.

Built from plain values (a config directory or an explicit file, the process environment, the flags), so
anything can load them, not only a running command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_engine.errors import UsageError

DEFAULTS: dict[str, Any] = {
    "endpoint": "127.0.0.1:32102",
    "config_endpoint": "",
    "embedded_core": True,
    "timeout": "5m",
    "token": "",  # the core's token (docs/security.md); default: the local core's, from the state directory
    "verbose": False,
    "nospinner": False,
    "nocolor": False,
    "log.level": "info",
}

ENV_PREFIX = "COCONUT_"
FILE_NAME = "settings.yaml"
FALSE = ("0", "false", "no", "off")


@dataclass
class Settings:
    path: Path | None  # the settings file read, if any
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        config_dir: Path,
        *,
        path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Settings:
        """``path`` (``--config``, must exist) or ``config_dir/settings.yaml`` (may be absent), then the
        ``COCONUT_<KEY>`` variables of ``environ``, then the ``options`` that are not None."""
        file = path if path is not None else config_dir / FILE_NAME
        values = dict(DEFAULTS)
        if file.exists():
            from ecs_engine.server.settings import read_settings_file  # not at start-up: --help stays fast

            values.update(_flatten(read_settings_file(file)))
        elif path is not None:
            raise UsageError(f"settings file {file} does not exist")
        environ = environ or {}
        for key in list(values):
            env_key = ENV_PREFIX + key.upper().replace(".", "_")
            if env_key in environ:
                values[key] = environ[env_key]
        values.update((key, value) for key, value in (options or {}).items() if value is not None)
        return cls(file if file.exists() else None, values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def flag(self, key: str, default: bool = True) -> bool:
        """A yes/no setting: anything but 0, false, no or off (any case) is yes."""
        return str(self.values.get(key, default)).strip().lower() not in FALSE

    def timeout(self) -> float:
        """How long a command waits for the core, in seconds (setting ``timeout``, e.g. ``5m``)."""
        from ecs_engine.durations import parse_duration

        text = str(self.get("timeout") or "5m")
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(f"setting timeout: {exc}") from None

    @property
    def tls_ca(self) -> str:
        """The CA certificate a core with TLS is checked against ("" for plain connections)."""
        return str(self.get("tls_ca") or "")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
