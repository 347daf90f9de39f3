"""The ``config``, ``inventory`` and ``runtime`` objects of the template expression environment.

Method names are AliECS's. Like AliECS, they never raise for bad input or missing data: they return
``{"error":"..."}`` so a template shows what went wrong where the value would have been.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from ecs_engine.config.configuration import Configuration
from ecs_engine.errors import HandledError

from .expr import go_json
from .functions import error_string

error_text = error_string  # AliECS helpers report failures as {"error":"..."} strings


def _reporting(method: Callable[..., str]) -> Callable[..., str]:
    """Turn handled errors (bad path, unknown host, unreachable store...) into ``{"error":...}``."""

    @functools.wraps(method)
    def wrapper(*args: Any) -> str:
        try:
            return method(*args)
        except HandledError as exc:
            return error_text(exc.message)

    return wrapper


class ConfigFunctions:
    """``config.*``: component payloads."""

    def __init__(
        self,
        cfg: Configuration,
        stack: Mapping[str, str],
        helpers: Mapping[str, Any] | None,
        legacy: Callable[[str], str] | None,
    ):
        self._cfg = cfg
        self._stack = stack
        self._helpers = helpers
        self._legacy = legacy

    @_reporting
    def Get(self, path: str) -> str:
        """The payload at ``path`` (exact, no fallback), rendered with the stack unless ``?process=false``."""
        return self._cfg.get_component(str(path), process=True, varstack=self._stack, objects=self._helpers)

    @_reporting
    def GetLegacy(self, path: str) -> str:
        """The raw payload, then expanded by the ``{{ }}`` expression engine when one was given."""
        payload = self._cfg.get_component(str(path), process=False)
        return self._legacy(payload) if self._legacy is not None else payload

    @_reporting
    def Resolve(self, component: str, runtype: str, role: str, entry: str) -> str:
        return self._cfg.resolve(str(component), str(runtype), str(role), str(entry))

    @_reporting
    def ResolvePath(self, path: str) -> str:
        return self._cfg.resolve_path(str(path))


class InventoryFunctions:
    """``inventory.*``: detectors, hosts and readout cards."""

    def __init__(self, cfg: Configuration):
        self._cfg = cfg

    @_reporting
    def DetectorForHost(self, host: str) -> str:
        return self._cfg.detector_for_host(str(host))

    @_reporting
    def DetectorsForHosts(self, hosts: str) -> str:
        """``hosts`` is a JSON list of host names; returns the JSON list of their detectors."""
        try:
            names = json.loads(hosts) if isinstance(hosts, str) else list(hosts)
        except json.JSONDecodeError as exc:
            return error_text(f"DetectorsForHosts: hosts {hosts!r} is not a JSON list: {exc.msg}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return error_text(f"DetectorsForHosts: hosts {hosts!r} is not a JSON list of strings")
        return go_json(self._cfg.detectors_for_hosts(names))

    @_reporting
    def HostsForDetectors(self, detectors: str) -> str:
        """``detectors`` is a JSON list of detector names; returns the JSON list of their FLP hosts (not in
        AliECS: what the GUI's detector selection does, for workflows given detectors instead of hosts)."""
        try:
            names = json.loads(detectors) if isinstance(detectors, str) else list(detectors)
        except json.JSONDecodeError as exc:
            return error_text(f"HostsForDetectors: detectors {detectors!r} is not a JSON list: {exc.msg}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return error_text(f"HostsForDetectors: detectors {detectors!r} is not a JSON list of strings")
        hosts: set[str] = set()
        for name in names:
            found = self._cfg.hosts_for_detector(name) if name else []
            if not found:
                return error_text(f"HostsForDetectors: detector {name!r} has no host in the inventory")
            hosts.update(found)
        return go_json(sorted(hosts))

    @_reporting
    def CRUCardsForHost(self, host: str) -> str:
        return go_json(self._cfg.cru_cards_for_host(str(host)))

    @_reporting
    def EndpointsForCRUCard(self, host: str, serial: str) -> str:
        return " ".join(self._cfg.endpoints_for_cru_card(str(host), str(serial)))


class RuntimeFunctions:
    """``runtime.*``: the runtime KV (``o2/runtime/<component>/<key>``); ``offline``: Set writes nothing."""

    def __init__(self, cfg: Configuration, *, offline: bool = False):
        self._cfg = cfg
        self._offline = offline

    @_reporting
    def Get(self, component: str, key: str) -> str:
        """The value, or "" if unset (as a Consul read of a missing key)."""
        return self._cfg.runtime_get(str(component), str(key)) or ""

    @_reporting
    def Set(self, component: str, key: str, value: str) -> str:
        if not self._offline:
            self._cfg.runtime_set(str(component), str(key), str(value))
        return str(value)


def template_objects(
    cfg: Configuration,
    stack: Mapping[str, str],
    *,
    helpers: Mapping[str, Any] | None = None,
    legacy: Callable[[str], str] | None = None,
    offline: bool = False,
) -> dict[str, object]:
    """``config``, ``inventory`` and ``runtime`` for one role's stack.

    ``helpers`` are bound in rendered payloads next to the stack (AliECS binds ``strings``, ``json``,
    ``uid``, ``util``); ``legacy`` expands ``{{ }}`` expressions for ``config.GetLegacy``; ``offline``
    (validate, plan) keeps the store unchanged.
    """
    return {
        "config": ConfigFunctions(cfg, stack, helpers, legacy),
        "inventory": InventoryFunctions(cfg),
        "runtime": RuntimeFunctions(cfg, offline=offline),
    }
