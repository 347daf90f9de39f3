"""Integration plugins: found through the entry point hook, initialised, described for GetIntegratedServices."""

from __future__ import annotations

from ecs_backends.integrations.testplugin import TestPlugin
from ecs_engine.environment import IntegrationPlugin, Integrations
from ecs_engine.plugins import plugin_manager


def test_testplugin_is_found_through_the_entry_point_hook():
    integrations = Integrations.from_plugins(plugin_manager(), {"testPluginEndpoint": "test://here"})
    plugin = integrations.plugins["testplugin"]
    assert isinstance(plugin, TestPlugin) and plugin.endpoint == "test://here"
    assert Integrations.from_plugins(plugin_manager(), {}, enabled=[]).plugins == {}


async def test_services_describe_each_plugin_and_survive_a_broken_one():
    class Broken(IntegrationPlugin):
        name = "broken"

        def init(self, framework_id):
            raise ConnectionError("no route")

        def connection_state(self):
            raise ConnectionError("no route")

    integrations = Integrations([TestPlugin("test://x"), Broken()])
    await integrations.init("fw")  # a plugin failing to initialise does not stop the others
    services = integrations.services()
    assert services["testplugin"] == {
        "name": "Test plugin",
        "enabled": True,
        "endpoint": "test://x",
        "connectionState": "READY",
        "data": '{"endpoint": "test://x"}',
    }
    assert services["broken"]["connectionState"] == "TRANSIENT_FAILURE"
