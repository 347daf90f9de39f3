"""Every pluggy hook of the project, in one module.

Built-in backends (``ecs_backends``) implement these exactly like third-party plugins and are found
through the ``ecs_backends`` entry-point group. ``firstresult`` hooks are answered by one backend.
Each hook must be documented in docs/plugins.md and exercised by a test (tests/test_hookspecs.py checks).
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "ecs"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def ecs_config_store(url: str) -> Any:
    """Open the configuration store named by ``url`` (``sqlite://``, ``file://``, ``etcd://``...).

    Return a ``ecs_engine.config.KeyValueStore`` if this plugin handles the URL's scheme, else None.
    A malformed URL of the plugin's own scheme, or a store that cannot be opened, raises one
    ``ConfigurationError`` / ``UnreachableError`` naming the URL. ``memory://`` is built in.
    """


@hookspec
def ecs_template_objects(stack: dict[str, str]) -> dict[str, Any] | None:
    """Contribute objects to the template expression environment (AliECS ``ObjectStack``).

    ``stack`` is the flattened variable stack of the role being processed. Return a mapping of
    top-level names (e.g. ``{"odc": OdcTemplateFunctions(...)}``) or None.
    """


@hookspec(firstresult=True)
def ecs_dpl_generate(command: str, name: str, workdir: str) -> str | None:
    """Run a DPL command to generate the JIT workflow ``name`` (``jit-<sha1>``) inside ``workdir``.

    Return the generated workflow YAML text, or None if this plugin does not generate workflows.
    """


@hookspec(firstresult=True)
def ecs_resource_manager(name: str, settings: dict[str, Any], state_dir: str) -> Any:
    """Open the resource manager ``name`` (setting ``core.resource_manager``: ``local``, ...).

    Return an ``ecs_engine.tasks.resources.ResourceManager`` if this plugin provides ``name``, else None.
    ``settings`` is the core's ``core`` settings section (e.g. ``nodes``); ``state_dir`` is where the
    manager keeps task output files. The manager offers nodes with attributes, placement by constraints,
    free ports, process launch and kill (through process handles, whose ``wait`` is the status stream of
    one process), and re-attachment to processes after a core restart.
    """


@hookspec
def ecs_integration_plugins() -> list[Any] | None:
    """Contribute integration plugin classes (AliECS ``integration.Plugin``): DCS, ODC, trigger, testplugin...

    Return a list of ``ecs_engine.environment.IntegrationPlugin`` subclasses. Each has ``name`` (the name
    workflow calls use: ``odc`` in ``odc.Start()``), ``pretty_name`` and ``endpoint_setting`` (the core
    setting with its endpoint); the environment manager builds one instance per class with that endpoint,
    calls ``init(framework_id)`` on all in parallel at start and ``destroy()`` at close, evaluates each
    call's ``func`` with ``{name: plugin.call_stack(call)}``, and reports ``connection_state()``, ``data()``
    and ``environments_data(ids)`` in ``GetIntegratedServices`` / ``EnvironmentInfo``. Template-time
    functions (``object_stack``) are contributed through ``ecs_template_objects``.
    """
