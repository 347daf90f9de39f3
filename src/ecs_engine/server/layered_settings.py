"""Layered settings: the one loader coconut and the core read their settings with, and where each value came from.

Lowest to highest: built-in defaults < the system file (``/etc/coconut/settings.yaml``; ``$COCONUT_SYSTEM_SETTINGS``
names another) < the user's file (``~/.config/coconut/settings.yaml``, or the one given with ``--config``) <
``./coconut.yaml`` (the working directory: a site checkout) < ``COCONUT_<KEY>`` environment variables < flags.

Files are merged key by key: ``core.nodes`` in the user's file keeps the ``core.listen`` of the system file. Keys
are dotted (``core.startup_timeout``); a known key's value is taken whole (``core.nodes`` is a list). A key no
table entry knows is kept (plugins read their own) and warned about with the closest known name. A new setting
is one line in ``KNOWN``. Light on purpose (yaml and difflib only when needed): coconut imports it at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ecs_engine.errors import UsageError

SYSTEM_FILE = Path("/etc/coconut/settings.yaml")
SYSTEM_FILE_VARIABLE = "COCONUT_SYSTEM_SETTINGS"
USER_FILE_NAME = "settings.yaml"
SITE_FILE_NAME = "coconut.yaml"
ENV_PREFIX = "COCONUT_"
DEFAULT = "default"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")

#: every setting this code reads and its built-in default (None: unset, the reader decides)
KNOWN: dict[str, Any] = {
    # coconut
    "endpoint": "127.0.0.1:32102",
    "config_endpoint": "",
    "embedded_core": True,
    "timeout": "5m",
    "token": "",  # the core's token (docs/security.md); default: the local core's, from the state directory
    "tls_ca": "",
    "verbose": False,
    "nospinner": False,
    "nocolor": False,
    "log.level": "info",
    "repos_ssh_key": "",
    "global_default_revision": "master",
    # the core (server/settings.py)
    "core.listen": "",  # "": the endpoint setting
    "core.config_endpoint": "",
    "core.resource_manager": "local",
    "core.nodes": None,
    "core.ports": None,
    "core.slurm": None,  # the slurm resource manager's own map, checked by it (ecs_backends/resources/slurm.py)
    "core.startup_timeout": "30s",
    "core.configure_timeout": "120s",
    "core.transition_timeout": "90s",
    "core.deploy_timeout": "90s",
    "core.fmq_plugin": "OCClite",
    "core.fmq_plugin_search_path": "",
    "core.occ_state_stream": False,
    "core.instance_name": "",
    "core.tls_cert": "",
    "core.tls_key": "",
    "core.require_token": True,
    "core.kafkaEndpoints": None,
    "core.enableKafka": True,
    "core.integrationPlugins": None,  # the integration plugins to load (default: those enabled by default)
    "core.bookkeepingBaseUri": None,  # the bookkeeping plugin's endpoint (upstream's name: no Endpoint suffix)
    "core.ccdbGrpCreateCommand": None,  # the ccdb plugin's GRP command (default: o2-ecs-grp-create)
    "core.trgPollingInterval": None,  # the trg plugin: RunList every 3s
    "core.trgPollingTimeout": None,
    "core.trgReconciliationTimeout": None,
    "core.trgReconciliationEnabled": None,  # stop CTP runs no environment knows (default: off)
    "core.journal_keep_days": 90,
    "core.journal_keep_mb": 2000,
    "apricot.listen": "",
}
#: sections of known keys (``core``, ``apricot``, ``log``): a map in a settings file, never a value
SECTIONS = frozenset(key.split(".", 1)[0] for key in KNOWN if "." in key)
#: sections whose keys belong to their readers (plugins, watchdogs): taken whole, never warned about
OPEN_SECTIONS = ("watchdogs", "plugins")
#: ``core.<name>Endpoint(s)``: an integration plugin's endpoint (its ``endpoint_setting``)
ENDPOINT_SUFFIXES = ("Endpoint", "Endpoints")


def is_known(key: str) -> bool:
    if key in KNOWN or key.split(".", 1)[0] in OPEN_SECTIONS:
        return True
    section, _, name = key.partition(".")
    return section == "core" and "." not in name and name.endswith(ENDPOINT_SUFFIXES)


def env_name(key: str) -> str:
    """``core.startup_timeout`` -> ``COCONUT_CORE_STARTUP_TIMEOUT``."""
    return ENV_PREFIX + key.upper().replace(".", "_")


class Setting(NamedTuple):
    """A value and where it came from (a named tuple, not a dataclass: those compile their methods at import,
    ~3M instructions of each coconut command's start, issue 19)."""

    value: Any
    origin: str  # "default", a file's path, "env COCONUT_X" or "flag --x"


class LayeredSettings:
    def __init__(self, settings: dict[str, Setting]):
        self.settings = settings
        self.files: list[Path] = []  # the files read, lowest layer first
        self.warnings: list[str] = []

    @classmethod
    def load(
        cls,
        *,
        user_file: Path,
        user_file_required: bool = False,
        cwd: Path,
        environ: Mapping[str, str],
        flags: Mapping[str, Any] | None = None,
    ) -> LayeredSettings:
        """Every layer in order. ``user_file_required``: it was named (``--config``) so it must exist.
        ``flags``: setting key -> value given on the command line (None: not given)."""
        out = cls({key: Setting(value, DEFAULT) for key, value in KNOWN.items()})
        system = Path(environ.get(SYSTEM_FILE_VARIABLE) or SYSTEM_FILE)
        if user_file_required and not user_file.is_file():
            raise UsageError(f"settings file {user_file} does not exist")
        for path in (system, user_file, cwd / SITE_FILE_NAME):
            if path.is_file():
                out._read(path)
        for key in list(out.settings):
            name = env_name(key)
            if name in environ:
                value = _typed(environ[name], out.settings[key].value, f"environment variable {name}")
                out.settings[key] = Setting(value, f"env {name}")
        for key, value in (flags or {}).items():
            if value is not None:
                out.settings[key] = Setting(value, "flag --" + key.replace("_", "-").replace(".", "-"))
        return out

    def _read(self, path: Path) -> None:
        self.files.append(path)
        for key, value in _flatten(read_settings_file(path)).items():
            if key in SECTIONS and value is None:  # ``core:`` with every entry commented out
                continue
            if key in SECTIONS:
                raise UsageError(
                    f"settings file {path}: '{key}' must be a map of settings ({key}.NAME: VALUE),"
                    f" got {type(value).__name__} {value!r}"
                )
            if key in KNOWN:
                value = _typed(value, KNOWN[key], f"settings file {path}: {key}")
            elif not is_known(key):
                self.warnings.append(f"settings file {path}: unknown setting '{key}'{_closest(key, KNOWN)}")
            self.settings[key] = Setting(value, str(path))

    def get(self, key: str, default: Any = None) -> Any:
        setting = self.settings.get(key)
        return default if setting is None else setting.value

    def where(self, key: str) -> str:
        """Where ``key``'s value was set, for an error about the value (a user who set COCONUT_TIMEOUT long ago
        looks for the variable, not the setting): ``environment variable COCONUT_X``, ``settings file F: key``,
        ``--flag`` or ``setting key``."""
        origin = self.settings[key].origin if key in self.settings else DEFAULT
        if origin.startswith("env "):
            return "environment variable " + origin.removeprefix("env ")
        if origin.startswith("flag "):
            return origin.removeprefix("flag ")
        return f"setting {key}" if origin == DEFAULT else f"settings file {origin}: {key}"

    def nested(self) -> dict[str, Any]:
        """The effective values as the settings file's nested map (``{"core": {"listen": ...}}``)."""
        out: dict[str, Any] = {}
        for key, setting in self.settings.items():
            *sections, name = key.split(".")
            place = out
            for section in sections:
                place = place.setdefault(section, {})
            place[name] = setting.value
        return out


def read_settings_file(path: Path) -> dict[str, Any]:
    """A settings file's mapping (coconut's and the core's are one file), or one clear error naming it."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        from ecs_engine.config.tree import yaml_error

        raise UsageError(yaml_error(f"settings file {path}", exc)) from None
    except OSError as exc:
        raise UsageError(f"settings file {path} cannot be read: {exc.strerror}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"settings file {path}: expected a mapping of setting names to values")
    return loaded


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys down to the known ones (whose values stay whole) or to values that are not maps."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not is_known(name):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _typed(value: Any, below: Any, where: str) -> Any:
    """A file's value or an environment variable's text as the type of the value it replaces (a bool, a number,
    a list), or one UsageError naming ``where``: ``embedded_core: maybe`` is a mistake, not a yes."""
    if isinstance(below, bool):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in TRUE or lowered in FALSE:
            return lowered in TRUE
        raise UsageError(f"{where}: expected true or false, got '{value}'")
    if isinstance(below, int | float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:  # a whole number stays whole: shown as typed ('-3', '90'), not '-3.0'
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{where}: expected a number, got '{value}'") from None
    if isinstance(below, list) and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _closest(key: str, known: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
