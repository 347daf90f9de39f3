"""The ``testplugin`` integration: calls for exercising hooks without any external service.

``testplugin.Noop()`` waits for the call's ``__call_timeout`` and succeeds; ``testplugin.Test()`` fails
when the variable ``testplugin_fail`` is ``true`` and succeeds otherwise (reference §8).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ecs_engine.durations import parse_duration
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.hookspecs import hookimpl


class TestPluginCalls:
    """The functions of one call."""

    def __init__(self, call: Any):
        self._call = call

    async def Noop(self) -> str:
        stack = self._call.var_stack
        try:
            seconds = parse_duration(stack.get("__call_timeout", "0s"))
        except ValueError:
            seconds = 0.0
        await asyncio.sleep(max(seconds, 0.0))
        return ""

    def Test(self) -> str:
        stack = self._call.var_stack
        if stack.get("testplugin_fail", "").strip().lower() == "true":
            stack["__call_error"] = "testplugin.Test() failed on request"
            stack["__call_error_reason"] = "testplugin_fail is true"
        return ""


class TestPlugin(IntegrationPlugin):
    __test__ = False  # not a pytest class

    name = "testplugin"
    pretty_name = "Test plugin"
    endpoint_setting = "testPluginEndpoint"

    def data(self) -> dict[str, str]:
        return {"endpoint": self.endpoint or "(none)"}

    def call_stack(self, call: Any) -> TestPluginCalls:
        return TestPluginCalls(call)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [TestPlugin]
