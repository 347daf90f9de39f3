"""The core's settings: where it listens and keeps its data, its resource manager, timeouts, plugins.

Read with coconut's, through the same layers (``layered_settings``: defaults < /etc/coconut/settings.yaml <
~/.config/coconut/settings.yaml < ./coconut.yaml < COCONUT_* variables < flags): the top-level
``config_endpoint``, ``repos_ssh_key`` and ``global_default_revision``, and the ``core:`` section:

    core:
      listen: 127.0.0.1:32102      # default: coconut's endpoint
      resource_manager: local
      nodes: [flp001, flp002]      # local virtual nodes (default: one named after this host)
      startup_timeout: 30s         # a task's launch -> STANDBY
      configure_timeout: 120s
      transition_timeout: 90s
      deploy_timeout: 90s
      fmq_plugin: OCClite
      occ_state_stream: false      # also keep a StateStream per OCC process (default: EventStream only)
      instance_name: my-lab
      tls_cert: /path/cert.pem     # needed to listen on anything but loopback
      tls_key: /path/key.pem
      require_token: true          # false admits clients without the owner's token (docs/security.md)
      kafkaEndpoints: [127.0.0.1:9092]   # publish events to Kafka (docs/events.md); as upstream, also read
                                   # from the store's components/aliecs/ANY/any/settings; enableKafka: false disables
    apricot:
      listen: 127.0.0.1:32101      # also serve apricot.Apricot from the configuration store (default: off)
    watchdogs:                     # conditions that stop runs (docs/operations.md, environment/watchdog_rules.py)
      magnet-trip: {runtime: lab/magnet_current, when: "< 100", grace: 10s, resume: true}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_engine.durations import parse_duration
from ecs_engine.errors import UsageError

from .endpoints import DEFAULT_ENDPOINT, is_loopback, split_endpoint
from .layered_settings import KNOWN, LayeredSettings


@dataclass
class CoreSettings:
    listen: str = DEFAULT_ENDPOINT
    data_dir: Path = Path(".")
    state_dir: Path = Path(".")
    config_endpoint: str = ""
    resource_manager: str = KNOWN["core.resource_manager"]
    nodes: Any = None
    startup_timeout: float = parse_duration(KNOWN["core.startup_timeout"])
    configure_timeout: float = parse_duration(KNOWN["core.configure_timeout"])
    transition_timeout: float = parse_duration(KNOWN["core.transition_timeout"])
    deploy_timeout: float = parse_duration(KNOWN["core.deploy_timeout"])
    fmq_plugin: str = KNOWN["core.fmq_plugin"]
    fmq_plugin_search_path: str = ""
    occ_state_stream: bool = KNOWN["core.occ_state_stream"]
    instance_name: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    require_token: bool = KNOWN["core.require_token"]
    repos_ssh_key: str = ""
    global_default_revision: str = KNOWN["global_default_revision"]
    section: dict[str, Any] = field(default_factory=dict)  # the whole ``core`` section (plugin endpoints...)
    kafka_endpoints: list[str] | None = None  # None: not set here (the configuration store may set it)
    apricot_listen: str = ""  # apricot.listen: where the core also serves apricot.Apricot ("": it does not)
    watchdogs: Any = None  # the top-level watchdogs: section (environment/watchdog_rules.py)

    @classmethod
    def from_values(
        cls,
        values: dict[str, Any],
        *,
        data_dir: Path,
        state_dir: Path,
        listen: str | None = None,
        where: Callable[[str], str] = lambda key: f"setting {key}",
    ):
        """``values``: the settings file as a nested map (``core:`` section and top-level keys); ``where`` names
        the layer a key's value came from in an error (``LayeredSettings.where``: the variable, the file)."""
        core = values.get("core") or {}
        if not isinstance(core, dict):
            raise UsageError("setting 'core': expected a map of core settings")
        out = cls(data_dir=data_dir, state_dir=state_dir, section=dict(core))
        out.listen = listen or str(core.get("listen") or values.get("endpoint") or DEFAULT_ENDPOINT)
        out.config_endpoint = str(values.get("config_endpoint") or core.get("config_endpoint") or "")
        out.repos_ssh_key = str(values.get("repos_ssh_key") or "")
        out.global_default_revision = str(values.get("global_default_revision") or KNOWN["global_default_revision"])
        for name in (
            "resource_manager",
            "fmq_plugin",
            "fmq_plugin_search_path",
            "instance_name",
            "tls_cert",
            "tls_key",
        ):
            if core.get(name) not in (None, ""):
                setattr(out, name, str(core[name]))
        out.nodes = core.get("nodes")
        out.occ_state_stream = _yes_no(core, "occ_state_stream", KNOWN["core.occ_state_stream"])
        out.require_token = _yes_no(core, "require_token", KNOWN["core.require_token"])
        out.kafka_endpoints = kafka_endpoints(core, "setting core")
        for name in ("startup_timeout", "configure_timeout", "transition_timeout", "deploy_timeout"):
            if core.get(name) not in (None, ""):
                try:
                    setattr(out, name, parse_duration(str(core[name])))
                except ValueError as exc:
                    raise UsageError(f"{where(f'core.{name}')}: {exc}") from None
        if out.fmq_plugin not in ("OCClite", "OCC"):
            raise UsageError(f"{where('core.fmq_plugin')}: expected OCClite or OCC, got '{out.fmq_plugin}'")
        out.check_listen(out.listen, where("core.listen"))
        apricot = values.get("apricot") or {}
        if not isinstance(apricot, dict):
            raise UsageError("setting 'apricot': expected a map of apricot settings (listen)")
        out.apricot_listen = str(apricot.get("listen") or "")
        out.watchdogs = values.get("watchdogs")
        if out.apricot_listen:
            out.check_listen(out.apricot_listen, where("apricot.listen"))
        return out

    def check_listen(self, listen: str, what: str) -> None:
        """Refuse to listen beyond loopback without TLS (whoever reaches the port would see the traffic)."""
        host, _ = split_endpoint(listen, what=what)
        if not is_loopback(host) and not (self.tls_cert and self.tls_key):
            raise UsageError(
                f"{what}: the core would listen on {listen}, which is not a loopback address, without TLS",
                hint="set core.tls_cert and core.tls_key, or listen on 127.0.0.1",
            )

    @classmethod
    def load(
        cls,
        path: Path | None,
        *,
        data_dir: Path,
        state_dir: Path,
        listen: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CoreSettings:
        """Every layer, ``path`` standing for the user's file (absent: skipped); the warnings are logged."""
        import logging
        import os

        import platformdirs

        layered = LayeredSettings.load(
            user_file=path or platformdirs.user_config_path("coconut") / "settings.yaml",
            cwd=Path.cwd(),
            environ=os.environ if environ is None else environ,
        )
        for warning in layered.warnings:
            logging.getLogger(__name__).warning("%s", warning)
        return cls.from_values(
            layered.nested(), data_dir=data_dir, state_dir=state_dir, listen=listen, where=layered.where
        )


def _yes_no(core: dict[str, Any], name: str, default: bool) -> bool:
    value = core.get(name, default)
    if not isinstance(value, bool):
        raise UsageError(f"setting core.{name}: expected true or false, got '{value}'")
    return value


def kafka_endpoints(values: Mapping[str, Any], where: str) -> list[str] | None:
    """Upstream's ``kafkaEndpoints`` (a list, or one comma-separated string) of a settings map; [] if
    ``enableKafka`` is false, None if neither is set."""
    enabled = values.get("enableKafka", True)
    if enabled is False or str(enabled).lower() == "false":
        return []
    value = values.get("kafkaEndpoints")
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"{where} kafkaEndpoints: expected a list of HOST:PORT, got {value!r}")
    endpoints = [i.strip() for i in items if i.strip()]
    for endpoint in endpoints:
        split_endpoint(endpoint, what=f"{where} kafkaEndpoints")
    return endpoints
