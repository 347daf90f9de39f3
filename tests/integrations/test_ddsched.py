"""``ddsched.*`` against the DD scheduler mock (a process of its own), through the engine with in-process tasks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from ecs_backends.integrations.ddsched import DdschedPlugin
from ecs_engine.environment import EngineSettings, EnvironmentManager, InProcessDriver, Integrations
from ecs_engine.errors import HandledError
from ecs_engine.plugins import plugin_manager
from tests.environment.conftest import source_of

from .mocks import MockProcess

DD_WORKFLOW = """
name: dd
defaults:
  ddsched_enabled: "true"
  ddsched_initialize_timeout: 2s
  ddsched_partition_mode: fast
roles:
  - name: flp001
    vars: {dd_discovery_ib_hostname: flp001-ib}
    roles:
      - name: stfb
        vars: {dd_discovery_stfb_id: stfb-flp001}
        task: {load: worker}
      - name: stfs
        vars: {dd_discovery_stfs_id: stfs-flp001}
        task: {load: worker}
  - name: dd-scheduler
    roles:
      - name: initialize
        call:
          func: ddsched.PartitionInitialize()
          trigger: before_CONFIGURE
          await: after_CONFIGURE-1
          timeout: "{{ ddsched_initialize_timeout }}"
      - name: terminate
        call: {func: ddsched.PartitionTerminate(), trigger: after_RESET-1, timeout: 2s}
      - name: cleanup
        call: {func: ddsched.EnsureTermination(), trigger: DESTROY, timeout: 2s, critical: false}
"""


@pytest.fixture
def dd_source(small_repo):
    small_repo.workflow("dd", DD_WORKFLOW)
    return source_of(small_repo)


@contextlib.asynccontextmanager
async def manager_for(tmp_path, config, mock: MockProcess) -> AsyncIterator[EnvironmentManager]:
    manager = EnvironmentManager(
        config=config,
        controller=InProcessDriver(),
        plugins=plugin_manager(),
        data_dir=tmp_path / "data",
        integrations=Integrations([DdschedPlugin(mock.address)]),
        settings=EngineSettings(error_watch_delay=0.05),
    )
    async with manager:
        yield manager


def requests(mock: MockProcess, operation: str) -> list[dict]:
    return [r["request"] for r in mock.records() if r["operation"] == operation]


async def test_initialize_sends_the_partition_and_waits_until_it_is_configured(tmp_path, config, dd_source):
    with MockProcess("ddsched", tmp_path, script={"operations": {"PartitionInitialize": {"after": "500ms"}}}) as dd:
        async with manager_for(tmp_path, config, dd) as manager:
            env = await manager.create(dd_source, "dd")
            assert env.state == "CONFIGURED"
            (init,) = requests(dd, "PartitionInitialize")
            assert len(requests(dd, "PartitionStatus")) >= 3  # every 100 ms for the half second it took
            assert init == {
                "partitionInfo": {"environmentId": env.id, "partitionId": env.id},
                "stfbHostIdMap": {"stfb-flp001": "flp001-ib"},
                "stfsHostIdMap": {"stfs-flp001": "flp001-ib"},
                "partitionParams": {"initialize_timeout": "2s", "partition_mode": "fast"},
            }
            info = manager.integrations.environments_data([env.id])[env.id]["ddsched"]
            assert '"state": "PARTITION_CONFIGURED"' in info  # GetIntegratedServices shows the partition
            await manager.destroy(env.id)
        assert [r["operation"] for r in dd.records() if r["operation"] != "PartitionStatus"] == [
            "PartitionInitialize",
            "PartitionTerminate",  # destroy RESETs: PartitionTerminate; EnsureTermination then finds it TERMINATED
        ]


async def test_a_partition_landing_in_error_fails_configure(tmp_path, config, dd_source):
    script = {"operations": {"PartitionInitialize": {"final": "PARTITION_ERROR"}}}
    with MockProcess("ddsched", tmp_path, script=script) as dd:
        async with manager_for(tmp_path, config, dd) as manager:
            with pytest.raises(HandledError) as failed:
                await manager.create(dd_source, "dd")
    assert (
        "DDsched PartitionInitialize call failed. REASON: PartitionInitialize landed on unexpected state "
        "PARTITION_ERROR (expected: PARTITION_CONFIGURED)"
    ) in str(failed.value)


async def test_status_errors_are_retried_until_the_deadline(tmp_path, config, dd_source):
    script = {"operations": {"PartitionStatus": {"fail": "UNAVAILABLE: scheduler restarting"}}}
    with MockProcess("ddsched", tmp_path, script=script) as dd:
        async with manager_for(tmp_path, config, dd) as manager:
            with pytest.raises(HandledError) as failed:
                await manager.create(dd_source, "dd", user_vars={"ddsched_initialize_timeout": "1s"})
        assert len(requests(dd, "PartitionStatus")) >= 5  # retried, every 100 ms, for the second it had
    assert (
        "PartitionInitialize timeout exceeded. Latest state PARTITION_CONFIGURING (expected: PARTITION_CONFIGURED)"
    ) in str(failed.value)
