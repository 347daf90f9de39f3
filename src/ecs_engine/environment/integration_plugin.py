"""The base class of integration plugins (AliECS ``integration.Plugin``): what a plugin class provides.

Apart from ``integrations.py``, which loads and drives them, so that the hook specs and the plugins can
name this class without reaching the code that calls the hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol


class EnvironmentsView(Protocol):
    """What a plugin may ask of the environment manager (bound by it; None in a plugin used alone)."""

    def environment_ids(self) -> list[str]:
        """The ids of the environments the core knows (ODC's cleanup spares their partitions)."""
        ...

    def service_error(self, environment_id: str, reason: str) -> bool:
        """The environment's part of a service failed (an ODC partition in ERROR): a RUNNING environment
        does STOP_ACTIVITY, then GO_ERROR. True when that was started."""
        ...


class IntegrationPlugin:
    """Base of integration plugins; subclasses set the class attributes and override what they provide.

    Call functions (the members of the object ``call_stack`` returns) take the call's arguments, return a
    string, and report failure by setting ``call.var_stack["__call_error"]`` (and ``__call_error_reason``)
    or by raising. They may be coroutine functions; a function that blocks must be one (or use a thread),
    because calls run on the engine's event loop. They must honour ``__call_timeout``.
    """

    #: the name calls use (``odc`` in ``odc.Start()``)
    name: str = ""
    pretty_name: str = ""
    #: the core setting that holds the endpoint (``odcEndpoint``)
    endpoint_setting: str = ""
    #: loaded when the setting ``integrationPlugins`` is absent (plugins of external services say False:
    #: as upstream, they run only where the site names them)
    enabled_by_default: bool = True

    def __init__(self, endpoint: str = ""):
        self.endpoint = endpoint
        #: the core settings (endpoints and each plugin's own keys); filled by ``Integrations.from_plugins``
        self.settings: Mapping[str, Any] = {}
        #: a directory of this plugin's own for what must survive a core restart; None when the core keeps none
        self.state_dir: Path | None = None
        #: publishes an event of the core (an integrated-service event outside any call); bound by the manager
        self.publish: Callable[[Any], None] = lambda event: None
        #: the configuration store (runtime KV, for plugins that read it); bound by the manager, None in tests
        self.config: Any = None
        #: the environment manager, for plugins that act on environments; bound by the manager
        self.environments: EnvironmentsView | None = None

    def init(self, framework_id: str) -> None:
        """Connect to the service (called once, in a thread, when the manager starts)."""

    async def start(self) -> None:
        """After ``init``, on the core's event loop: open channels, start background work (subscriptions)."""

    async def stop(self) -> None:
        """On the core's event loop when the manager closes, before ``destroy``: end what ``start`` began."""

    def destroy(self) -> None:
        """Disconnect (called once when the manager closes)."""

    def connection_state(self) -> str:
        """READY, CONNECTING, TRANSIENT_FAILURE, IDLE or SHUTDOWN."""
        return "READY"

    def data(self) -> Mapping[str, str]:
        """What ``GetIntegratedServices`` shows about the service (a string map)."""
        return {}

    def environments_data(self, environment_ids: Iterable[str]) -> dict[str, str]:
        """Per environment, the JSON text shown in ``EnvironmentInfo.integratedServicesData[name]``."""
        return {}

    def object_stack(self, stack: Mapping[str, str]) -> Any:
        """Functions offered to templates under ``name`` (AliECS ``ObjectStack``); None if none."""
        return None

    def call_stack(self, call: Any) -> Any:
        """The object whose members are the call functions for one ``Call``."""
        raise NotImplementedError(f"integration plugin {self.name!r} offers no call functions")
