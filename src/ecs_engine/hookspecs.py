"""Every pluggy hook of the project, in one module.

Built-in backends (``ecs_backends``) implement these exactly like third-party plugins; ``ecs_engine.plugins``
registers them, then the plugins of the ``ecs_backends`` entry-point group. ``firstresult`` hooks are
answered by one plugin. Each hook must be documented in docs/plugins.md and exercised by a test
(tests/test_hookspecs.py checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from ecs_engine.backend_registry import BackendRegistry
    from ecs_engine.environment.integration_plugin import IntegrationPlugin

PROJECT = "ecs"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ecs_register_backends(registry: BackendRegistry) -> None:
    """Add this plugin's backends to ``registry`` (an ``ecs_engine.backend_registry.BackendRegistry``).

    ``registry.add_config_store(scheme, opener)``: ``opener(url)`` opens the configuration store of URLs
    ``scheme://...`` and returns an ``ecs_engine.config.KeyValueStore``; a malformed URL or a store that
    cannot be opened raises one ``ConfigurationError`` / ``UnreachableError`` naming the URL.
    ``registry.add_resource_manager(name, opener)``: ``opener(settings, state_dir)`` opens the resource
    manager ``name`` (setting ``core.resource_manager``) from the core's ``core`` settings section and the
    directory for task output files, and returns an ``ecs_engine.tasks.resources.ResourceManager``.
    ``registry.add_event_publisher(name, opener)``: ``opener(endpoints)`` returns the
    ``ecs_engine.events.outbox.Publisher`` of an external event service (``kafka``: setting ``kafkaEndpoints``).
    A scheme or name registered by two plugins is an error.
    """


class TemplateConfiguration(Protocol):
    """What template-time functions may read of the configuration store (``ecs_engine.config.Configuration``)."""

    def global_defaults(self) -> dict[str, str]: ...

    def global_vars(self) -> dict[str, str]: ...

    def runtime_get(self, component: str, key: str) -> str | None: ...


@hookspec
def ecs_template_objects(stack: dict[str, str], config: TemplateConfiguration | None) -> Mapping[str, object] | None:
    """Contribute objects to the template expression environment (AliECS ``ObjectStack``).

    ``stack`` is the flattened variable stack of the role being processed; ``config`` the configuration store
    the expansion reads (None without one), e.g. for the store's own value of a variable the workflow sets
    to ``default``. Return a mapping of top-level names to objects whose public methods templates may call
    (e.g. ``{"odc": OdcTemplateFunctions(...)}``), or None. An implementation may take ``stack`` alone.
    """


@hookspec(firstresult=True)
def ecs_dpl_generate(command: str, name: str, workdir: str) -> str | None:
    """Run a DPL command to generate the JIT workflow ``name`` (``jit-<sha1>``) inside ``workdir``.

    Return the generated workflow YAML text, or None if this plugin does not generate workflows.
    """


@hookspec
def ecs_integration_plugins() -> list[type[IntegrationPlugin]] | None:
    """Contribute integration plugin classes (AliECS ``integration.Plugin``): DCS, ODC, trigger, testplugin...

    Return a list of ``IntegrationPlugin`` subclasses, or None. Each has ``name`` (the name workflow calls
    use: ``odc`` in ``odc.Start()``), ``pretty_name`` and ``endpoint_setting`` (the core setting with its
    endpoint); the environment manager builds one instance per class with that endpoint, calls
    ``init(framework_id)`` on all in parallel at start and ``destroy()`` at close, evaluates each call's
    ``func`` with ``{name: plugin.call_stack(call)}``, and reports ``connection_state()``, ``data()`` and
    ``environments_data(ids)`` in ``GetIntegratedServices`` / ``EnvironmentInfo``. Template-time
    functions (``object_stack``) are contributed through ``ecs_template_objects``.
    """


class MockServiceDescription(Protocol):
    """What the engine knows of a mock service (``ecs_backends.mocks.framework.MockService`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...


@hookspec
def ecs_mock_services() -> list[MockServiceDescription] | None:
    """Contribute mock services (``ecs_backends.mocks.framework.MockService``): stand-ins of external services
    that speak their wire protocol, served by ``coconut mock <name>``.

    Return a list of ``MockService`` (name, summary, script help, and ``add_servicers(server, script,
    recorder)`` for a gRPC mock or ``run(script, recorder, args)`` for a command), or None. A plugin module
    registers the mock of its own integration; two mocks of one name are an error.
    """
