"""Loading a workflow for an environment: variable layers, function objects, expansion.

The one entry point used by the CLI (validate/plan) and by the environment engine. Plugin hooks
(``ecs_template_objects``, ``ecs_dpl_generate``) are those of the plugin manager the caller passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import HandledError
from ecs_engine.ids import new_id
from ecs_engine.uservars import split_role_vars

from . import expr
from .expand import Expander
from .functions import Util, static_objects
from .model import Env, EnvVars, Workflow
from .sources import ScratchSource, TemplateSource

if TYPE_CHECKING:
    import pluggy


class InventorySnapshot:
    """The configuration as one expansion sees it: the detector inventory read once.

    Like AliECS's configuration cache: an expansion asks for the detector of every host, and reading the
    whole inventory for each would make expansion quadratic in the number of hosts.
    """

    def __init__(self, config: Any):
        self._config = config
        self._by_host: dict[str, str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)

    def _hosts(self) -> dict[str, str]:
        if self._by_host is None:
            by_host: dict[str, str] = {}
            for detector, hosts in sorted(self._config.detectors_inventory().items()):
                for host in hosts:
                    by_host.setdefault(host, detector)
            self._by_host = by_host
        return self._by_host

    def detector_for_host(self, host: str) -> str:
        detector = self._hosts().get(host)
        if detector is None:
            return self._config.detector_for_host(host)  # raises the store's own error
        return detector

    def detectors_for_hosts(self, hosts: list[str]) -> list[str]:
        return sorted({self.detector_for_host(h) for h in hosts})


def environment_vars(config: Any, user_vars: Mapping[str, str], environment_id: str) -> EnvVars:
    """The outermost layers: store defaults and vars, then user vars with the environment's own values."""
    defaults = dict(config.global_defaults()) if config is not None else {}
    variables = dict(config.global_vars()) if config is not None else {}
    user = dict(user_vars)
    user.setdefault("environment_id", environment_id)
    hosts = user.get("hosts") or variables.get("hosts") or defaults.get("hosts")
    if config is not None and hosts and "detectors" not in user:
        try:
            host_list = json.loads(hosts)
            if isinstance(host_list, list):
                defaults["detectors"] = json.dumps(config.detectors_for_hosts([str(h) for h in host_list]))
        except (ValueError, HandledError):
            pass  # the workflow's own 'detectors' default reports unknown hosts where it matters
    return EnvVars(defaults=defaults, vars=variables, user=user)


def object_factory(
    config: Any, hook: pluggy.HookCaller, extra: Mapping[str, Any] | None = None, *, offline: bool = False
) -> Callable[[Mapping[str, str]], dict[str, Any]]:
    """Objects for expressions: config/inventory/runtime from the store, plugin objects, caller's extras.

    ``hook`` is the ``ecs_template_objects`` hook of the caller's plugin manager; ``offline`` makes the
    functions with side effects (``util.Dump``, ``runtime.Set``) do without them.
    """
    return _Objects(config, hook, extra, offline)


class _Objects:
    """``object_factory``'s objects for one role stack at each call. A class, not a closure: GetLegacy's renderer
    makes them again, and a function reaching itself through its closure would be a reference cycle."""

    def __init__(self, config: Any, hook: pluggy.HookCaller, extra: Mapping[str, Any] | None, offline: bool):
        self._config = config
        self._config_objects: Callable[..., dict[str, object]] | None = None
        if config is not None:
            from .config_objects import template_objects

            self._config_objects = template_objects
        self._hook = hook
        self._has_plugins = bool(hook.get_hookimpls())
        self._extra = extra
        self._offline = offline
        self._static = static_objects()

    def __call__(self, stack: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._config_objects is not None:
            # payloads see the same helpers as templates; GetLegacy payloads use the {{ }} engine, with objects
            # of their own (a closure over ``out``, which holds config, would be a reference cycle per stack)
            helpers = {**self._static, "util": Util(stack, offline=self._offline)}
            out.update(
                self._config_objects(
                    self._config,
                    stack,
                    helpers=helpers,
                    legacy=lambda text: expr.render(text, Env({**helpers, **self(stack)}, stack)),
                    offline=self._offline,
                )
            )
        if self._has_plugins:
            for contributed in self._hook(stack=dict(stack), config=self._config):
                if contributed:
                    out.update(contributed)
        if self._extra:
            out.update(self._extra)
        return out


def make_expander(
    source: TemplateSource,
    *,
    plugins: pluggy.PluginManager,
    config: Any = None,
    user_vars: Mapping[str, str] | None = None,
    environment_id: str | None = None,
    extra_objects: Mapping[str, Any] | None = None,
    offline: bool = False,
) -> Expander:
    """An expander for ``source``; ``offline`` (validate, plan): expressions change nothing outside it,
    generated JIT workflows are not saved in the repository, and calls are checked against the integration plugins
    of ``plugins`` (``Expander.call_errors``)."""
    if offline:
        source = ScratchSource(source)
    plain, per_role = split_role_vars(user_vars or {})
    if config is not None:
        config = InventorySnapshot(config)
    env_vars = environment_vars(config, plain, environment_id or new_id())
    return Expander(
        source,
        env_vars=env_vars,
        role_user_vars=per_role,
        objects=object_factory(config, plugins.hook.ecs_template_objects, extra_objects, offline=offline),
        dpl_generate=plugins.hook.ecs_dpl_generate,
        offline=offline,
        call_objects=frozenset(
            plugin.name for contributed in plugins.hook.ecs_integration_plugins() for plugin in contributed or ()
        )
        if offline
        else None,
    )


def load_workflow(
    source: TemplateSource,
    name: str,
    *,
    plugins: pluggy.PluginManager,
    config: Any = None,
    user_vars: Mapping[str, str] | None = None,
    environment_id: str | None = None,
    extra_objects: Mapping[str, Any] | None = None,
) -> Workflow:
    """Expand workflow ``name`` from ``source`` for one environment."""
    expander = make_expander(
        source,
        plugins=plugins,
        config=config,
        user_vars=user_vars,
        environment_id=environment_id,
        extra_objects=extra_objects,
    )
    return expander.expand(name)
