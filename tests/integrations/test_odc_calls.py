"""``odc.*`` calls at the moments readout-dataflow wires them, against the ODC mock (a process of its own), with
the engine over in-process tasks: what each sends, and what it does when ODC or the variables say no."""

from __future__ import annotations

import pytest

from ecs_backends.integrations.odc import OdcPlugin
from ecs_engine.errors import HandledError
from tests.environment.conftest import source_of
from tests.integrations.service_harness import ServiceHarness

from .mocks import MockProcess

WORKFLOW = """
name: epn
defaults:
  pdp_config_option: Manual XML
  odc_topology: /etc/epn/topology.xml
  odc_plugin: epn
  odc_resources: '[{"zone":"online","n":"2"}]'
  initialize: "true"
roles:
  - name: worker
    task: {load: worker}
  - name: odc
    vars:
      odc_script: "{{ odc.GenerateEPNWorkflowScript() }}"
    roles:
      - name: part-init
        enabled: "{{ initialize == 'true' }}"
        call: {func: odc.PartitionInitialize(), trigger: before_DEPLOY, await: after_DEPLOY-1, timeout: 10s}
      - name: configure
        enabled: "{{ initialize == 'true' }}"
        call: {func: odc.Configure(), trigger: after_CONFIGURE-1, timeout: 10s}
      - name: start
        enabled: "{{ initialize == 'true' }}"
        call: {func: odc.Start(), trigger: before_START_ACTIVITY+100, await: after_START_ACTIVITY-10, timeout: 10s}
      - name: go-error
        call: {func: odc.EnsureStop(), trigger: before_GO_ERROR, await: after_GO_ERROR-1, timeout: 10s, critical: false}
      - name: part-term
        call: {func: odc.PartitionTerminate(), trigger: after_RESET+100, timeout: 10s}
      - name: cleanup
        call: {func: odc.EnsureCleanupLegacy(), trigger: DESTROY, timeout: 10s, critical: false}
"""


@pytest.fixture
def epn(small_repo):
    small_repo.workflow("epn", WORKFLOW)
    return source_of(small_repo)


def operations(mock: MockProcess) -> list[str]:
    return [r["operation"] for r in mock.records() if r["operation"] not in ("Status", "GetState")]


async def test_ensure_stop_stops_a_running_partition_when_the_environment_goes_to_error(tmp_path, epn):
    with MockProcess("odc", tmp_path) as odc:
        async with ServiceHarness(tmp_path, OdcPlugin(odc.address)) as h:
            env = await h.manager.create(epn, "epn")
            await h.manager.control(env.id, "START_ACTIVITY")
            await h.manager.control(env.id, "GO_ERROR")
            assert env.state == "ERROR"
            assert operations(odc)[-1] == "Stop"  # GetState said RUNNING
            await h.manager.destroy(env.id)
        # destroy from ERROR: EnsureCleanupLegacy's Reset, Terminate and Shutdown, in turn
        assert operations(odc)[-3:] == ["Reset", "Terminate", "Shutdown"]


async def test_partition_terminate_does_nothing_for_an_environment_that_never_initialized_one(tmp_path, epn):
    with MockProcess("odc", tmp_path) as odc:
        async with ServiceHarness(tmp_path, OdcPlugin(odc.address)) as h:
            env = await h.manager.create(epn, "epn", user_vars={"initialize": "false"})
            await h.manager.control(env.id, "RESET")
            assert env.state == "DEPLOYED"  # the critical PartitionTerminate succeeded without asking ODC
            assert operations(odc) == []


async def test_a_script_that_could_not_be_generated_is_not_sent(tmp_path, epn):
    with MockProcess("odc", tmp_path) as odc:
        async with ServiceHarness(tmp_path, OdcPlugin(odc.address)) as h:
            with pytest.raises(HandledError) as failed:
                await h.manager.create(epn, "epn", user_vars={"pdp_config_option": "Repository path"})
        assert "Run" not in operations(odc)
    assert (
        "EPN PartitionInitialize call failed. REASON: odc_script could not be generated: "
        "odc.GenerateEPNWorkflowScript(): the variable pdp_o2_data_processing_path is not set"
    ) in str(failed.value)
