"""Issue 15's acceptance: readout-dataflow of the corpus with EPNs (ODC and the DD scheduler) against the mocks.

The mocks run as processes of their own; the engine drives the corpus's tasks in process (their O2 binaries
do not exist here). The run-side services (DCS, trigger, CCDB, Bookkeeping) are disabled: their calls are
another issue's; v1.45's Bookkeeping calls, enabled by default, fail non-critically without the plugin.
"""

from __future__ import annotations

import pytest

from ecs_backends.integrations.ddsched import DdschedPlugin
from ecs_backends.integrations.odc import OdcPlugin
from ecs_engine.config import Configuration
from ecs_engine.environment import EngineSettings, EnvironmentManager, InProcessDriver, Integrations
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.sources import DirectorySource
from tests.conftest import CW_145

from .mocks import MockProcess
from .test_odc_template import EPN_SITE, vfull_tree

pytestmark = pytest.mark.shared

EPN_VARS = {
    "hosts": '["flp001","flp002"]',
    "epn_enabled": "true",
    "dd_enabled": "true",
    "odc_enabled": "true",
    "odc_n_epns": "4",
    "run_type": "TECHNICAL",
    "lhc_period": "LHC26z",
}


def by_operation(records: list[dict], operation: str) -> list[dict]:
    return [r["request"] for r in records if r["operation"] == operation]


def properties(request: dict) -> dict[str, str]:
    return {p["key"]: p["value"] for p in request["properties"]}


async def test_readout_dataflow_with_epns_runs_through_odc_and_the_dd_scheduler(tmp_path):
    orphan = {"partitions": [{"id": "2oDvieFrVTi", "state": "RUNNING"}]}  # left by a core that went away
    with MockProcess("odc", tmp_path, script=orphan) as odc, MockProcess("ddsched", tmp_path) as ddsched:
        plugins = [OdcPlugin(odc.address), DdschedPlugin(ddsched.address)]
        for plugin in plugins:
            plugin.settings = {"odcPollingInterval": "100ms"}
        manager = EnvironmentManager(
            config=Configuration.from_tree(vfull_tree(epn_site=True)),
            controller=InProcessDriver(),
            plugins=plugin_manager(),
            data_dir=tmp_path / "data",
            integrations=Integrations(plugins),
            settings=EngineSettings(error_watch_delay=0.05),
        )
        async with manager:
            env = await manager.create(DirectorySource(CW_145), "readout-dataflow", user_vars=EPN_VARS)
            assert env.state == "CONFIGURED"
            await manager.control(env.id, "START_ACTIVITY")
            assert env.state == "RUNNING"
            await manager.control(env.id, "STOP_ACTIVITY")
            assert env.state == "CONFIGURED"
            await manager.destroy(env.id)
        odc_records, dd_records = odc.records(), ddsched.records()

    operations = [r["operation"] for r in odc_records if r["operation"] not in ("Status", "GetState")]
    # destroy RESETs first (Reset; PartitionTerminate: Terminate, Shutdown); EnsureCleanup shuts the partition
    # down again in case, which ODC answers 'not found' (only warned, as upstream)
    assert operations == [
        "Shutdown",  # PreDeploymentCleanup: the orphan partition
        *("Run", "SetProperties", "Configure", "SetProperties", "Start", "SetProperties", "Stop"),
        *("Reset", "Terminate", "Shutdown", "Shutdown"),
    ]
    (run,) = by_operation(odc_records, "Run")
    assert run["partitionid"] == env.id and run["plugin"] == "epn"
    assert run["resources"] == '[ {"zone":"online", "n":"4"}, {"zone":"calib"} ]'
    assert run["script"].startswith(f"ECS_ENVIRONMENT_ID={env.id} GEN_TOPO_WIPE_CACHE=0 GEN_TOPO_CACHE_HASH=")
    assert f"GEN_TOPO_SOURCE='{EPN_SITE['pdp_o2_data_processing_hash']}'" in run["script"]
    assert 55 <= run["timeout"] <= 57  # the role's 60 s less the 3 s padding, whole seconds left
    configure_props, start_props, stop_props = (properties(r) for r in by_operation(odc_records, "SetProperties"))
    assert configure_props == {
        "environment_id": env.id,
        "run_type": "TECHNICAL",
        "lhc_period": "LHC26z",
        "force_run_as_raw": "false",
        "pdp_beam_type": "cosmic",
        "detectors": "ITS,TPC",
    }
    assert start_props["runNumber"] == start_props["run_number"] == "1"
    (start,) = by_operation(odc_records, "Start")
    assert start["request"]["runnr"] == "1" and start["request"]["partitionid"] == env.id
    assert 55 <= start["request"]["timeout"] <= 57
    assert "run_end_time_ms" in stop_props
    (stop,) = by_operation(odc_records, "Stop")
    assert stop["request"]["runnr"] == "1"
    assert [r["partitionid"] for r in by_operation(odc_records, "Shutdown")] == ["2oDvieFrVTi", env.id, env.id]
    assert all(55 <= r["request"]["timeout"] <= 57 for r in by_operation(odc_records, "Terminate"))

    dd_operations = [r["operation"] for r in dd_records if r["operation"] != "PartitionStatus"]
    assert dd_operations == ["PartitionInitialize", "PartitionTerminate"]
    (init,) = by_operation(dd_records, "PartitionInitialize")
    assert init["partitionInfo"] == {"environmentId": env.id, "partitionId": env.id}
    assert sorted(init["stfbHostIdMap"].values()) == ["flp001-ib", "flp002-ib"]
    assert sorted(init["stfsHostIdMap"].values()) == ["flp001-ib", "flp002-ib"]
    assert all(key.startswith("stfs-flp00") for key in init["stfsHostIdMap"])
    assert init["partitionParams"]["initialize_timeout"] == "300s" and "enabled" not in init["partitionParams"]
