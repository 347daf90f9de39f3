"""Issue 15's acceptance: readout-dataflow of the corpus with EPNs (ODC and the DD scheduler) against the mocks.

The mocks run as processes of their own; the engine drives the corpus's tasks in process (their O2 binaries
do not exist here). First with the run-side services disabled, then with those that have a plugin (DCS,
trigger, CCDB) against their mocks too. v1.45's Bookkeeping calls, enabled by default, fail non-critically
without its plugin.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ecs_backends.integrations.ccdb import CcdbPlugin
from ecs_backends.integrations.dcs import DcsPlugin
from ecs_backends.integrations.ddsched import DdschedPlugin
from ecs_backends.integrations.odc import OdcPlugin
from ecs_backends.integrations.trg import TrgPlugin
from ecs_engine.config import Configuration
from ecs_engine.environment import EngineSettings, EnvironmentManager, InProcessDriver, IntegrationPlugin, Integrations
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.sources import DirectorySource
from tests.conftest import CW_145

from .mocks import COCONUT, MockProcess
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


#: a partition left by a core that went away, which PreDeploymentCleanup shuts down
ORPHAN = {"partitions": [{"id": "2oDvieFrVTi", "state": "RUNNING"}]}


async def create_start_stop_destroy(tmp_path, plugins: list[IntegrationPlugin], user_vars: dict[str, str]) -> str:
    """readout-dataflow through one run with ``plugins``; the environment id."""
    for plugin in plugins:
        plugin.settings = {"odcPollingInterval": "100ms", "trgPollingInterval": "100ms", **plugin.settings}
    manager = EnvironmentManager(
        config=Configuration.from_tree(vfull_tree(epn_site=True)),
        controller=InProcessDriver(),
        plugins=plugin_manager(),
        data_dir=tmp_path / "data",
        integrations=Integrations(plugins),
        settings=EngineSettings(error_watch_delay=0.05),
    )
    async with manager:
        env = await manager.create(DirectorySource(CW_145), "readout-dataflow", user_vars=user_vars)
        assert env.state == "CONFIGURED"
        await manager.control(env.id, "START_ACTIVITY")
        assert env.state == "RUNNING"
        await manager.control(env.id, "STOP_ACTIVITY")
        assert env.state == "CONFIGURED"
        await manager.destroy(env.id)
    return env.id


def check_odc(odc_records: list[dict[str, Any]], environment_id: str) -> None:
    """ODC got readout-dataflow's requests in order, with the environment, run, detectors and timeouts."""
    operations = [r["operation"] for r in odc_records if r["operation"] not in ("Status", "GetState")]
    # destroy RESETs first (Reset; PartitionTerminate: Terminate, Shutdown); EnsureCleanup shuts the partition
    # down again in case, which ODC answers 'not found' (only warned, as upstream)
    assert operations == [
        "Shutdown",  # PreDeploymentCleanup: the orphan partition
        *("Run", "SetProperties", "Configure", "SetProperties", "Start", "SetProperties", "Stop"),
        *("Reset", "Terminate", "Shutdown", "Shutdown"),
    ]
    (run,) = by_operation(odc_records, "Run")
    assert run["partitionid"] == environment_id and run["plugin"] == "epn"
    assert run["resources"] == '[ {"zone":"online", "n":"4"}, {"zone":"calib"} ]'
    assert run["script"].startswith(f"ECS_ENVIRONMENT_ID={environment_id} GEN_TOPO_WIPE_CACHE=0 GEN_TOPO_CACHE_HASH=")
    assert f"GEN_TOPO_SOURCE='{EPN_SITE['pdp_o2_data_processing_hash']}'" in run["script"]
    assert 55 <= run["timeout"] <= 57  # the role's 60 s less the 3 s padding, whole seconds left
    configure_props, start_props, stop_props = (properties(r) for r in by_operation(odc_records, "SetProperties"))
    assert configure_props == {
        "environment_id": environment_id,
        "run_type": "TECHNICAL",
        "lhc_period": "LHC26z",
        "force_run_as_raw": "false",
        "pdp_beam_type": "cosmic",
        "detectors": "ITS,TPC",
    }
    assert start_props["runNumber"] == start_props["run_number"] == "1"
    (start,) = by_operation(odc_records, "Start")
    assert start["request"]["runnr"] == "1" and start["request"]["partitionid"] == environment_id
    assert 55 <= start["request"]["timeout"] <= 57
    assert "run_end_time_ms" in stop_props
    (stop,) = by_operation(odc_records, "Stop")
    assert stop["request"]["runnr"] == "1"
    shutdowns = [r["partitionid"] for r in by_operation(odc_records, "Shutdown")]
    assert shutdowns == ["2oDvieFrVTi", environment_id, environment_id]
    assert all(55 <= r["request"]["timeout"] <= 57 for r in by_operation(odc_records, "Terminate"))


def check_ddsched(dd_records: list[dict[str, Any]], environment_id: str) -> None:
    """The DD scheduler got the partition with both FLPs' StfBuilders and StfSenders, then its termination."""
    dd_operations = [r["operation"] for r in dd_records if r["operation"] != "PartitionStatus"]
    assert dd_operations == ["PartitionInitialize", "PartitionTerminate"]
    (init,) = by_operation(dd_records, "PartitionInitialize")
    assert init["partitionInfo"] == {"environmentId": environment_id, "partitionId": environment_id}
    assert sorted(init["stfbHostIdMap"].values()) == ["flp001-ib", "flp002-ib"]
    assert sorted(init["stfsHostIdMap"].values()) == ["flp001-ib", "flp002-ib"]
    assert all(key.startswith("stfs-flp00") for key in init["stfsHostIdMap"])
    assert init["partitionParams"]["initialize_timeout"] == "300s" and "enabled" not in init["partitionParams"]


async def test_readout_dataflow_with_epns_runs_through_odc_and_the_dd_scheduler(tmp_path):
    with MockProcess("odc", tmp_path, script=ORPHAN) as odc, MockProcess("ddsched", tmp_path) as ddsched:
        plugins: list[IntegrationPlugin] = [OdcPlugin(odc.address), DdschedPlugin(ddsched.address)]
        environment_id = await create_start_stop_destroy(tmp_path, plugins, EPN_VARS)
        odc_records, dd_records = odc.records(), ddsched.records()
    check_odc(odc_records, environment_id)
    check_ddsched(dd_records, environment_id)


async def test_with_dcs_the_trigger_and_the_ccdb_too_each_service_is_asked_in_the_reference_order(tmp_path):
    grp_record = tmp_path / "grp.jsonl"
    ccdb = CcdbPlugin("http://ccdb-test.cern.ch:8080")
    ccdb.settings = {"ccdbGrpCreateCommand": f"{shlex.quote(str(COCONUT))} mock ccdb --record {grp_record} --"}
    with (
        MockProcess("odc", tmp_path, script=ORPHAN) as odc,
        MockProcess("ddsched", tmp_path) as ddsched,
        MockProcess("trg", tmp_path) as trg,
        MockProcess("dcs", tmp_path) as dcs,
    ):
        plugins = [
            *(OdcPlugin(odc.address), DdschedPlugin(ddsched.address)),
            *(TrgPlugin(trg.address), ccdb, DcsPlugin(dcs.address)),
        ]
        user_vars = {**EPN_VARS, "trg_enabled": "true", "ccdb_enabled": "true", "dcs_enabled": "true"}
        environment_id = await create_start_stop_destroy(tmp_path, plugins, user_vars)
        odc_records, dd_records, trg_records, dcs_records = (
            odc.records(),
            ddsched.records(),
            trg.records(),
            dcs.records(),
        )
    check_odc(odc_records, environment_id)
    check_ddsched(dd_records, environment_id)
    trg_at = {r["operation"]: r["time_ms"] for r in trg_records}  # each operation's last request
    odc_at = {r["operation"]: r["time_ms"] for r in odc_records}
    assert trg_at["RunLoad"] <= odc_at["Start"]  # before_START_ACTIVITY+10, then odc.Start's +100
    assert trg_at["RunStop"] <= odc_at["Stop"]  # before_STOP_ACTIVITY-10, then odc.Stop's weight 0
    dcs_at = {r["operation"]: r["time_ms"] for r in dcs_records}
    assert dcs_at["PrepareForRun"] <= odc_at["Configure"]  # before_CONFIGURE; odc.Configure at after_CONFIGURE-1
    assert odc_at["Stop"] <= dcs_at["EndOfRun"]  # odc.Stop awaited at after_STOP-50 with dcs.EndOfRun
    (sor,) = [r["request"] for r in dcs_records if r["operation"] == "StartOfRun"]
    assert sor["runNumber"] == 1
    grp = [line for line in grp_record.read_text().splitlines() if line]
    assert len(grp) == 2  # one GRP object at the start of the run, one at its end
