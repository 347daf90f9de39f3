"""The ecs_integration_plugins hook: the built-in testplugin is found through the plugin manager."""

from __future__ import annotations

from ecs_backends.integrations.testplugin import TestPlugin
from ecs_engine.plugins import plugin_manager


def test_ecs_integration_plugins_contributes_the_testplugin():
    classes = [cls for contributed in plugin_manager().hook.ecs_integration_plugins() for cls in contributed or []]
    assert TestPlugin in classes
    assert TestPlugin.name == "testplugin"
