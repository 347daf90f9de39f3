"""The engine over in-process tasks (tests/environment's harness) with real integration plugins whose services are
mocks in processes of their own: for the trg, bookkeeping and ccdb plugin tests."""

from __future__ import annotations

import json
from typing import Any

from ecs_backends.integrations.testplugin import TestPlugin
from ecs_engine.config import Configuration
from ecs_engine.environment import EnvironmentManager, InProcessDriver, IntegrationPlugin, Integrations
from ecs_engine.plugins import plugin_manager
from tests.environment.conftest import Harness

#: two FLPs of detector TPC and one of ITS, named as at P2 (the CCDB's FLP ids are the names' suffixes)
P2_INVENTORY = {
    "o2": {
        "hardware": {
            "detectors": {
                "TPC": {"flps": {"alio2-cr1-flp001": {}, "alio2-cr1-flp002": {}}},
                "ITS": {"flps": {"alio2-cr1-flp187": {}}},
            }
        },
        "runtime": {"aliecs": {"defaults": {"consul_endpoint": "localhost:8500"}}},
    }
}


class ServiceHarness(Harness):
    """A manager whose integrations are the given plugin instances (plus ``testplugin``)."""

    def __init__(self, tmp_path: Any, *plugins: IntegrationPlugin, settings: dict[str, Any] | None = None):
        super().__init__(tmp_path, Configuration.from_tree(P2_INVENTORY), plugin_names=())
        self.services = list(plugins)
        for plugin in self.services:
            plugin.settings = settings or {}

    def new_manager(self, driver: InProcessDriver | None = None) -> EnvironmentManager:
        return EnvironmentManager(
            config=self.config,
            controller=driver or self.driver,
            plugins=plugin_manager(),
            data_dir=self.tmp_path / "data",
            integrations=Integrations([*self.services, TestPlugin()]),
            settings=self.settings,
        )


def integrated_service_events(manager: EnvironmentManager, environment_id: str) -> list[dict[str, Any]]:
    """The environment's integrated-service events in the journal: name, operation, status, error, payload."""
    out = []
    for event in manager.journal.events(environment_id=environment_id, kinds=["integratedServiceEvent"]):
        ev = event.integratedServiceEvent
        out.append(
            {
                "timestamp": event.timestamp,
                "name": ev.name,
                "operation": ev.operationName,
                "status": ev.operationStatus,
                "error": ev.error,
                "payload": json.loads(ev.payload) if ev.payload else {},
            }
        )
    return out
