"""Fixtures for the environment engine: a manager over the in-process driver, recording plugins, templates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ecs_backends.integrations.testplugin import TestPlugin
from ecs_engine.config import Configuration
from ecs_engine.environment import EngineSettings, EnvironmentManager, InProcessDriver, IntegrationPlugin, Integrations
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.sources import DirectorySource

from .workflows import SMALL

#: a small workflow: two critical tasks, a non-critical one, hooks and calls at chosen moments
TASK_DIRECT = """
name: worker
control:
  mode: direct
command:
  value: /bin/true
"""
TASK_BASIC = """
name: oneshot
control:
  mode: basic
command:
  value: /bin/true
"""


class Recorder:
    """One ordered log shared by recording plugins and the driver's hooks."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []  # (kind, trigger, path)


class RecordingCalls:
    def __init__(self, plugin: RecordingPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def function(*args: Any) -> str:
            call = self._call
            self._plugin.recorder.entries.append(("call", call.var_stack["__call_trigger"], call.path))
            self._plugin.seen.append((f"{self._plugin.name}.{name}", dict(call.var_stack)))
            behaviour = self._plugin.behaviour.get(name)
            if behaviour is not None:
                return await behaviour(call)
            return f"{name} done"

        return function


class RecordingPlugin(IntegrationPlugin):
    """An integration plugin whose every function records its call and succeeds (unless told otherwise)."""

    def __init__(self, name: str, recorder: Recorder):
        super().__init__("recording://" + name)
        self.name = name
        self.recorder = recorder
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.behaviour: dict[str, Callable[[Any], Any]] = {}

    def call_stack(self, call: Any) -> RecordingCalls:
        return RecordingCalls(self, call)


class Harness:
    """A manager with an in-process driver, a memory configuration and recording plugins."""

    def __init__(self, tmp_path, config: Configuration, plugin_names=("rec",), settings=None, integrations=None):
        self.tmp_path = tmp_path
        self.config = config
        self.driver = InProcessDriver()
        self.recorder = Recorder()
        self.plugins = {n: RecordingPlugin(n, self.recorder) for n in plugin_names}
        self.settings = settings or EngineSettings(error_watch_delay=0.05)
        self.integrations = integrations  # (default: the recording plugins and the test plugin)
        self.manager: EnvironmentManager | None = None

    def new_manager(self, driver: InProcessDriver | None = None) -> EnvironmentManager:
        return EnvironmentManager(
            config=self.config,
            controller=driver or self.driver,
            plugins=plugin_manager(),
            data_dir=self.tmp_path / "data",
            integrations=self.integrations or Integrations([*self.plugins.values(), TestPlugin()]),
            settings=self.settings,
        )

    async def __aenter__(self) -> Harness:
        self.manager = self.new_manager()
        await self.manager.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.manager.close()


@pytest.fixture
def config() -> Configuration:
    return Configuration.from_tree(
        {
            "o2": {
                "hardware": {
                    "detectors": {
                        "TST": {"flps": {"flp001": {}, "flp002": {}}},
                        "ITS": {"flps": {"flp101": {}}},
                    }
                },
                "runtime": {"aliecs": {"defaults": {"consul_endpoint": "localhost:8500"}}},
            }
        }
    )


@pytest.fixture
def harness_factory(tmp_path, config):
    def make(**kwargs) -> Harness:
        return Harness(tmp_path, config, **kwargs)

    return make


@pytest.fixture
def small_repo(repo):
    repo.task("worker", TASK_DIRECT)
    repo.task("oneshot", TASK_BASIC)
    return repo


def source_of(repo) -> DirectorySource:
    return DirectorySource(repo.root)


@pytest.fixture
def small(small_repo) -> DirectorySource:
    """A repository with the ``small`` workflow (tests/environment/workflows.py), as a template source."""
    small_repo.workflow("small", SMALL)
    return source_of(small_repo)
