"""AliECS configuration semantics over a raw store: components, runtime KV, inventory, run numbers.

The key tree (relative to the store prefix, ``o2/`` by default):

- ``components/<component>/<RUNTYPE>/<machineRole>/<entry>`` — payloads, resolved exact -> ANY runtype ->
  ``any`` role -> ANY/any by ``resolve``; plain reads never fall back;
- ``runtime/<component>/<key>`` — runtime KV; ``runtime/aliecs/defaults/*`` and ``runtime/aliecs/vars/*``
  are the global defaults and vars of every environment; ``runtime/run_number`` is the run counter;
- ``hardware/detectors/<DET>/flps/<host>/...`` and ``hardware/flps/<host>/cards`` — the inventory;
- ``components/aliecs/ANY/any/settings`` — the core settings (YAML).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ecs_engine.errors import ConfigurationError, NotFoundError, UsageError

from .paths import COMPONENTS, ComponentQuery, check_component, no_payload
from .store import KeyValueStore, check_key

if TYPE_CHECKING:
    from ecs_engine.backend_registry import BackendRegistry

RUN_NUMBER_KEY = "runtime/run_number"
DEFAULTS_PREFIX = "runtime/aliecs/defaults/"
VARS_PREFIX = "runtime/aliecs/vars/"
CORE_SETTINGS = ComponentQuery("aliecs", "ANY", "any", "settings")
DETECTORS_PREFIX = "hardware/detectors/"
FLPS_PREFIX = "hardware/flps/"
#: detectors hidden from ``detectors()`` unless asked for (apricot ListDetectors)
PRIVATE_DETECTORS = ("TRG",)
#: a run-number CAS that keeps losing against other writers gives up after this many attempts
RUN_NUMBER_ATTEMPTS = 1000


class Imported(NamedTuple):
    """What ``import_component`` found: apricot's ``existingComponentUpdated``/``existingEntryUpdated``, and
    whether the payload differed from the stored one (an identical one is not written again)."""

    component_existed: bool
    entry_existed: bool
    changed: bool


class Configuration:
    """The configuration service (apricot's local service) over one ``KeyValueStore``; thread-safe."""

    def __init__(self, store: KeyValueStore):
        self.store = store
        self._payloads_lock = threading.Lock()
        self._payloads: Any = None  # PayloadTemplates, built on first use (jinja2 is imported lazily)

    # --- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None, backends: BackendRegistry, *, data_dir: Path | None = None) -> Configuration:
        """Open the store named by ``url`` with ``backends``; None/"" is ``sqlite:///<data_dir>/config.sqlite``."""
        return cls(open_store(url, backends, data_dir=data_dir))

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any]) -> Configuration:
        """An in-memory configuration from a nested map rooted at ``o2`` (the file:// layout)."""
        from .memory import MemoryStore
        from .tree import flatten

        return cls(MemoryStore(flatten(tree_root(tree, "tree"), origin="tree"), url="memory://"))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Configuration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- global defaults and vars ----------------------------------------------------------------------------

    def global_defaults(self) -> dict[str, str]:
        """``runtime/aliecs/defaults/*``, keys and values trimmed (the weakest variables of every env)."""
        return self._string_map(DEFAULTS_PREFIX)

    def global_vars(self) -> dict[str, str]:
        """``runtime/aliecs/vars/*``, keys and values trimmed."""
        return self._string_map(VARS_PREFIX)

    def _string_map(self, prefix: str) -> dict[str, str]:
        out = {}
        for key, value in self.store.get_tree(prefix).items():
            name = key[len(prefix) :]
            if name and "/" not in name:
                out[name.strip()] = value.strip()
        return out

    # --- inventory -------------------------------------------------------------------------------------------

    def _inventory(self) -> list[tuple[str, str]]:
        """(detector, host) pairs from ``hardware/detectors/<DET>/flps/<host>...`` keys."""
        pairs = []
        for key in self.store.get_tree(DETECTORS_PREFIX):
            parts = key[len(DETECTORS_PREFIX) :].split("/")
            if len(parts) >= 3 and parts[1] == "flps" and parts[0] and parts[2]:
                pairs.append((parts[0], parts[2]))
        return pairs

    def detectors(self, *, get_all: bool = False) -> list[str]:
        """Detectors of the inventory, sorted; TRG only with ``get_all`` (as apricot's ListDetectors)."""
        names = {key[len(DETECTORS_PREFIX) :].split("/")[0] for key in self.store.get_tree(DETECTORS_PREFIX)}
        names.discard("")
        return sorted(n for n in names if get_all or n not in PRIVATE_DETECTORS)

    def detector_for_host(self, host: str) -> str:
        for detector, known in self._inventory():
            if known == host:
                return detector
        raise _unknown_host(host)

    def detectors_for_hosts(self, hosts: list[str]) -> list[str]:
        """The detectors of ``hosts``, sorted and unique; NotFoundError names the first unknown host."""
        by_host: dict[str, str] = {}
        for detector, host in self._inventory():
            by_host.setdefault(host, detector)
        found = set()
        for host in hosts:
            if host not in by_host:
                raise _unknown_host(host)
            found.add(by_host[host])
        return sorted(found)

    def hosts_for_detector(self, detector: str) -> list[str]:
        """FLP hosts of ``detector`` (sorted); ``""`` lists every FLP of ``hardware/flps/``."""
        if not detector:
            return sorted({k[len(FLPS_PREFIX) :].split("/")[0] for k in self.store.get_tree(FLPS_PREFIX)} - {""})
        return sorted({host for det, host in self._inventory() if det == detector})

    def every_flp(self) -> list[str]:
        """Every FLP host the inventory knows (sorted): those of a detector, TRG included, and those of
        ``hardware/flps/`` (``hosts_for_detector("")``, apricot's, knows only these: ``inventory add`` writes none)."""
        return sorted({host for _, host in self._inventory()} | set(self.hosts_for_detector("")))

    def detectors_inventory(self) -> dict[str, list[str]]:
        """Every detector (TRG included) with its FLP hosts."""
        inventory: dict[str, list[str]] = {}
        for detector, host in sorted(set(self._inventory())):
            inventory.setdefault(detector, []).append(host)
        for detector in self.detectors(get_all=True):
            inventory.setdefault(detector, [])
        return dict(sorted(inventory.items()))

    def _cards(self, host: str) -> list[dict[str, Any]]:
        key = f"{FLPS_PREFIX}{check_key(host, what='host name')}/cards"
        text = self.store.get(key)
        if not text:
            return []
        try:
            cards = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"'{self.store.prefix}{key}' is not valid JSON: {exc}") from None
        if isinstance(cards, list):
            cards = dict(enumerate(cards))
        if not isinstance(cards, dict) or not all(isinstance(c, dict) for c in cards.values()):
            raise ConfigurationError(f"'{self.store.prefix}{key}': expected a JSON map of card objects")
        return [cards[k] for k in sorted(cards, key=lambda k: (len(str(k)), str(k)))]

    def cru_cards_for_host(self, host: str) -> list[str]:
        """Serials of the cards of ``host`` (``hardware/flps/<host>/cards``), unique, in card order."""
        serials: list[str] = []
        for card in self._cards(host):
            serial = str(card.get("serial", ""))
            if serial not in serials:
                serials.append(serial)
        return serials

    def endpoints_for_cru_card(self, host: str, serial: str) -> list[str]:
        return [str(card.get("endpoint", "")) for card in self._cards(host) if str(card.get("serial", "")) == serial]

    def link_ids_for_cru_endpoint(self, host: str, serial: str, endpoint: str, *, only_enabled: bool) -> list[str]:
        """Link ids of ``components/readoutcard/<host>/cru/<serial>/<endpoint>`` (``linkN`` sections)."""
        key = f"{COMPONENTS}readoutcard/{host}/cru/{serial}/{endpoint}"
        text = self.store.get(check_key(key))
        if text is None:
            raise NotFoundError(f"no readout card configuration at '{self.store.prefix}{key}'")
        sections = _sections(text, f"{self.store.prefix}{key}")
        ids = []
        for name, values in sections.items():
            if name.startswith("link") and name[4:].isdigit():
                enabled = str(values.get("enabled", "false")).strip().lower() == "true"
                if enabled or not only_enabled:
                    ids.append(name[4:])
        return sorted(ids, key=int)

    def aliased_link_ids_for_detector(self, detector: str, *, only_enabled: bool) -> list[str]:
        """The aliases of the links of ``detector``'s FLPs: each card's endpoints' link ids (as
        ``link_ids_for_cru_endpoint``) named by ``hardware/detectors/<DET>/flps/<host>/cards/<serial>/links/<id>/alias``;
        a link without an alias is left out (apricot GetAliasedLinkIDsForDetector, DCS's ``ddl_list``)."""
        keys: list[str] = []
        for host in self.hosts_for_detector(check_key(detector, what="detector name")):
            for serial in self.cru_cards_for_host(host):
                for endpoint in self.endpoints_for_cru_card(host, serial):
                    for link in self.link_ids_for_cru_endpoint(host, serial, endpoint, only_enabled=only_enabled):
                        keys.append(
                            check_key(f"{DETECTORS_PREFIX}{detector}/flps/{host}/cards/{serial}/links/{link}/alias")
                        )
        found = self.store.get_many(keys)
        return [alias.strip() for key in keys if (alias := found[key])]

    # --- components ------------------------------------------------------------------------------------------

    def components(self) -> list[str]:
        """Names of the components that have at least one key."""
        names = {key[len(COMPONENTS) :].split("/")[0] for key in self.store.get_tree(COMPONENTS)}
        return sorted(names - {""})

    def component_entries(self, component: str) -> list[str]:
        """``RUNTYPE/role/entry`` of every payload of ``component``, sorted."""
        prefix = f"{COMPONENTS}{check_component(component)}/"
        out = []
        for key in self.store.get_tree(prefix):
            rest = key[len(prefix) :]
            if rest.count("/") >= 2 and not rest.endswith("/"):
                out.append(rest)
        return sorted(out)

    def entries_in(self, component: str, runtype: str, role: str) -> list[str]:
        """Entry names below ``component/RUNTYPE/role/`` exactly (no ANY/any fallback), sorted."""
        prefix = ComponentQuery.of(component, runtype, role, "x").key[:-1]
        return sorted(k[len(prefix) :] for k in self.store.get_tree(prefix) if not k.endswith("/"))

    def resolve(self, component: str, runtype: str, role: str, entry: str) -> str:
        """The first existing of exact, ANY runtype, ``any`` role, ANY/any, as ``comp/RT/role/entry``."""
        return self._resolve(ComponentQuery.of(component, runtype, role, entry)).path

    def resolve_path(self, path: str) -> str:
        """``resolve`` for a ``comp/RT/role/entry`` path (a query string is kept)."""
        return self._resolve(ComponentQuery.parse(path)).with_query()

    def _resolve(self, query: ComponentQuery) -> ComponentQuery:
        candidates = query.candidates()
        found = self.store.get_many([c.key for c in candidates])
        for candidate in candidates:
            if found[candidate.key] is not None:
                return candidate
        raise NotFoundError(f"could not resolve configuration path {self.store.prefix}{query.key}")

    def get_component(
        self,
        path: str,
        *,
        process: bool = False,
        varstack: Mapping[str, str] | None = None,
        objects: Mapping[str, Any] | None = None,
    ) -> str:
        """The payload at ``comp/RT/role/entry[?process=true&k=v]`` (exact path, no fallback).

        With ``process`` (or ``?process=true``) the payload is a template rendered with ``varstack``,
        the query's ``k=v`` pairs on top, and ``objects`` (helper objects such as ``strings``, ``json``).
        """
        query = ComponentQuery.parse(path)
        if query.process if query.process is not None else process:
            bindings: dict[str, Any] = {k.strip(): v for k, v in (varstack or {}).items()}
            bindings.update(query.vars)
            bindings.update(objects or {})
            return self.payloads.render(query, bindings)  # reads the payload itself, once
        payload = self.store.get(query.key)
        if payload is None:
            raise no_payload(self.store.prefix, query)
        return payload

    @property
    def payloads(self):
        """The payload template cache (``PayloadTemplates``)."""
        with self._payloads_lock:
            if self._payloads is None:
                from .payload import PayloadTemplates

                self._payloads = PayloadTemplates(self.store)
            return self._payloads

    def invalidate_template_cache(self) -> None:
        """Drop every compiled payload template (apricot InvalidateComponentTemplateCache)."""
        with self._payloads_lock:
            self._payloads = None

    def import_component(
        self, component: str, runtype: str, role: str, entry: str, payload: str, *, new_component: bool = False
    ) -> Imported:
        """Store a payload unless the entry holds it already (no new revision); like ImportComponentConfiguration."""
        query = ComponentQuery.of(component, runtype, role, entry)
        existing = self.components()
        if component not in existing and not new_component:
            listing = "".join(f"\n- {name}" for name in existing) or " (none)"
            raise NotFoundError(
                f"component {component} does not exist. Available components in configuration database:{listing}",
                hint="to create a new component, use the new component parameter",
                cli_hint="to create a new component, use the new component parameter (-n/--new-component)",
            )
        if component in existing and new_component:
            raise UsageError(
                f"invalid use of new component parameter: component {component} already exists",
                hint="import into it without the new component parameter",
                cli_hint="import into it without -n/--new-component",
            )
        stored = self.store.get(query.key)
        if stored != payload:
            self.store.put(query.key, payload)
        return Imported(component in existing, stored is not None, stored != payload)

    # --- runtime KV, run numbers, core settings --------------------------------------------------------------

    def _runtime_key(self, component: str, key: str) -> str:
        """Joined as upstream's path join: an empty key names ``runtime/<component>`` itself (the AliECS GUI reads
        its FLP suite version as component ``flp_suite_version``, key '')."""
        if not component:
            raise UsageError(f"bad runtime entry {component!r}/{key!r}: the component must not be empty")
        return check_key(f"runtime/{component}/{key}" if key else f"runtime/{component}", what="runtime entry")

    def runtime_get(self, component: str, key: str) -> str | None:
        """``runtime/<component>/<key>``, or None if unset."""
        return self.store.get(self._runtime_key(component, key))

    def runtime_set(self, component: str, key: str, value: str) -> None:
        self.store.put(self._runtime_key(component, key), value)

    def runtime_entries(self, component: str) -> dict[str, str]:
        """Every runtime key below ``runtime/<component>/`` (relative names) with its value."""
        prefix = self._runtime_key(component, "x")[:-1]
        return {k[len(prefix) :]: v for k, v in self.store.get_tree(prefix).items() if not k.endswith("/")}

    def next_run_number(self) -> int:
        """Increment ``runtime/run_number`` by compare-and-set, retrying lost races; never reuses a number."""
        for _ in range(RUN_NUMBER_ATTEMPTS):
            current = self.store.get(RUN_NUMBER_KEY)
            try:
                number = int(current or "0") + 1
            except ValueError:
                raise ConfigurationError(
                    f"'{self.store.prefix}{RUN_NUMBER_KEY}' holds {current!r}, expected a run number"
                ) from None
            if self.store.compare_and_set(RUN_NUMBER_KEY, current, str(number)):
                return number
        raise ConfigurationError(
            f"cannot write back incremented CAS key '{self.store.prefix}{RUN_NUMBER_KEY}': "
            f"{RUN_NUMBER_ATTEMPTS} attempts lost against concurrent writers"
        )

    def core_settings(self) -> dict:
        """The core settings YAML at ``components/aliecs/ANY/any/settings`` ({} if absent)."""
        import yaml

        text = self.store.get(CORE_SETTINGS.key)
        if not text:
            return {}
        where = f"{self.store.prefix}{CORE_SETTINGS.key}"
        try:
            settings = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            from .tree import yaml_error

            raise ConfigurationError(yaml_error(f"core settings '{where}'", exc)) from None
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise ConfigurationError(f"core settings '{where}': expected a map of setting names to values")
        return settings

    # --- raw trees ---------------------------------------------------------------------------------------------

    def relative_key(self, key: str) -> str:
        """A user-given key without the store prefix (``o2/components/x`` and ``components/x`` both work)."""
        key = key.strip().lstrip("/")
        if key.startswith(self.store.prefix):
            key = key[len(self.store.prefix) :]
        elif key + "/" == self.store.prefix:
            key = ""
        return key

    def raw_tree(self, key: str) -> dict[str, Any] | str:
        """The nested map below ``key`` (a user key, prefix optional), or the value if ``key`` is a leaf."""
        from .tree import unflatten

        rel = self.relative_key(key)
        if rel and not rel.endswith("/"):
            value = self.store.get(check_key(rel))
            if value is not None:
                return value
        items = self.store.get_tree(rel if not rel or rel.endswith("/") else rel + "/")
        if not items:
            raise NotFoundError(f"no configuration at '{self.store.prefix}{rel}'")
        return unflatten(items, rel)


def _unknown_host(host: str) -> NotFoundError:
    check_key(host, what="host name")  # an empty or malformed name is the request's fault, not an unknown host
    return NotFoundError(
        f"detector not found for host {host}",
        hint=f"the inventory lists no {host}: add it to a detector's FLPs (hardware/detectors/DETECTOR/flps/{host})",
        cli_hint=f"the inventory lists no {host}: add it with 'coconut config inventory add DETECTOR {host}'"
        " (the detectors: 'coconut config inventory detectors')",
    )


def tree_root(tree: Any, origin: str) -> Mapping[str, Any]:
    """The map below the top-level ``o2`` key of a file-layout tree; ConfigurationError otherwise."""
    if tree is None:
        return {}
    if not isinstance(tree, Mapping):
        raise ConfigurationError(f"{origin}: expected a map with the top-level key 'o2', got {type(tree).__name__}")
    others = [str(k) for k in tree if k != "o2"]
    if others:
        raise ConfigurationError(
            f"{origin}: top-level key '{others[0]}' is outside the o2/ tree",
            hint="the file mirrors the key tree: o2: {components: ..., runtime: ..., hardware: ...}",
        )
    root = tree.get("o2") or {}
    if not isinstance(root, Mapping):
        raise ConfigurationError(f"{origin}: 'o2' must be a map, got {type(root).__name__}")
    return root


def open_store(url: str | None, backends: BackendRegistry, *, data_dir: Path | None = None) -> KeyValueStore:
    """The store for ``url`` (default: ``config.sqlite`` in the data directory), opened by ``backends``.

    ``backends`` is what the caller's plugin manager registered (``ecs_engine.plugins.backends(pm)``).
    """
    if not url:
        if data_dir is None:
            import platformdirs

            data_dir = platformdirs.user_data_path("coconut")
        try:  # the default store's directory is ours to make; a store a URL names must have its own
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the data directory {data_dir}: {exc.strerror}") from None
        url = f"sqlite:///{Path(data_dir) / 'config.sqlite'}"
    return backends.open_config_store(url)


def _sections(text: str, where: str) -> dict[str, dict[str, Any]]:
    """Sections of a readout card payload: JSON (``{"link0": {"enabled": "true"}}``) or INI."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error as exc:
            raise ConfigurationError(f"'{where}' is neither JSON nor INI: {exc}") from None
        return {name: dict(parser[name]) for name in parser.sections()}
    if not isinstance(data, dict):
        raise ConfigurationError(f"'{where}': expected a JSON map of sections")
    return {k: v for k, v in data.items() if isinstance(v, dict)}
