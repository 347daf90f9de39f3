"""coconut settings: the layers of ``ecs_engine.server.layered_settings`` (defaults < /etc < the user's file <
./coconut.yaml < environment variables < flags), read from plain values (a config directory or an explicit
file, the working directory, the process environment, the flags), so anything can load them, not only a
running command.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecs_engine.errors import UsageError
from ecs_engine.server.layered_settings import FALSE, USER_FILE_NAME, LayeredSettings


class Settings:
    """The settings of one command (a plain class: a dataclass compiles its methods at import, issue 19)."""

    def __init__(self, path: Path | None, user_file: Path, layers: LayeredSettings):
        self.path = path  # the user's settings file read, if any
        self.user_file = (
            user_file  # the user's settings file, read if it exists (what a core started from here reads too)
        )
        self.layers = layers

    @classmethod
    def load(
        cls,
        config_dir: Path,
        *,
        path: Path | None = None,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Settings:
        """``path`` (``--config``, must exist) or ``config_dir/settings.yaml`` (may be absent) as the user's
        layer, ``cwd/coconut.yaml``, the ``COCONUT_<KEY>`` variables of ``environ``, then the ``options`` that
        are not None."""
        user_file = path if path is not None else config_dir / USER_FILE_NAME
        layers = LayeredSettings.load(
            user_file=user_file,
            user_file_required=path is not None,
            cwd=cwd or Path.cwd(),
            environ=environ or {},
            flags=options,
        )
        return cls(user_file if user_file.is_file() else None, user_file, layers)

    @property
    def values(self) -> dict[str, Any]:
        return {key: setting.value for key, setting in self.layers.settings.items()}

    def get(self, key: str, default: Any = None) -> Any:
        return self.layers.get(key, default)

    def flag(self, key: str, default: bool = True) -> bool:
        """A yes/no setting: anything but 0, false, no or off (any case) is yes."""
        return str(self.get(key, default)).strip().lower() not in FALSE

    def timeout(self) -> float:
        """How long a command waits for the core, in seconds (setting ``timeout``, e.g. ``5m``)."""
        from ecs_engine.durations import parse_duration

        text = str(self.get("timeout") or "5m")
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(f"{self.layers.where('timeout')}: {exc}") from None

    @property
    def tls_ca(self) -> str:
        """The CA certificate a core with TLS is checked against ("" for plain connections); one that cannot be
        read is a usage error naming where it was set (it was an internal error at connect)."""
        path = str(self.get("tls_ca") or "")
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise UsageError(
                    f"{self.layers.where('tls_ca')}: cannot read the CA certificate '{path}': {exc.strerror}"
                ) from None
        return path
