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


async def test_a_call_to_an_installed_plugin_left_out_by_integration_plugins_says_it_is_not_enabled(
    small_repo, harness_factory
):
    """dataflow-demo's testplugin.Noop() under a site's integrationPlugins that does not list testplugin: it failed
    with "unknown name 'testplugin' (did you mean 'odc_plugin'?)"."""
    from tests.environment.conftest import source_of

    small_repo.workflow(
        "noop",
        """
        name: noop
        roles:
          - name: announce
            call: {func: testplugin.Noop(), trigger: before_START_ACTIVITY, timeout: 1s, critical: false}
        """,
    )
    integrations = Integrations.from_plugins(plugin_manager(), {"integrationPlugins": "bookkeeping"})
    assert "testplugin" in integrations.not_enabled and "bookkeeping" in integrations.plugins
    async with harness_factory(integrations=integrations) as h:
        env = await h.manager.create(source_of(small_repo), "noop")
        await h.manager.control(env.id, "START_ACTIVITY")
        (done,) = [
            e.callEvent
            for e in h.manager.journal.events(environment_id=env.id, kinds=["callEvent"])
            if e.callEvent.callStatus == 4  # DONE_ERROR
        ]
        assert "integration plugin 'testplugin' is installed but not enabled" in done.error
        assert "add testplugin to core.integrationPlugins" in done.error
