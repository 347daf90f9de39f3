"""coconut settings: defaults < settings file < environment variables < command line flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import UsageError

if TYPE_CHECKING:
    from .context import Environment

DEFAULTS: dict[str, Any] = {
    "endpoint": "127.0.0.1:32102",
    "config_endpoint": "",
    "embedded_core": True,
    "timeout": "5m",
    "verbose": False,
    "nospinner": False,
    "nocolor": False,
    "log.level": "info",
}

ENV_PREFIX = "COCONUT_"


@dataclass
class Settings:
    path: Path | None
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, env: Environment) -> Settings:
        explicit = env.options.get("config")
        path = Path(explicit) if explicit else env.config_dir / "settings.yaml"
        values = dict(DEFAULTS)
        if path.exists():
            import yaml

            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise UsageError(f"settings file {path} is not valid YAML: {exc}") from None
            if not isinstance(loaded, dict):
                raise UsageError(f"settings file {path}: expected a mapping of setting names to values")
            values.update(_flatten(loaded))
        elif explicit:
            raise UsageError(f"settings file {path} does not exist")
        for key in list(values):
            env_key = ENV_PREFIX + key.upper().replace(".", "_")
            if env_key in env.environ:
                values[key] = env.environ[env_key]
        for key, value in env.options.items():
            if value is not None and key != "config":
                values[key] = value
        return cls(path if path.exists() else None, values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
