"""``odc.GenerateEPNTopologyFullname()`` / ``GenerateEPNWorkflowScript()``: readout-dataflow planned with EPNs, no ODC."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import yaml

from ecs_backends.integrations.odc_topology import EpnTopologyFunctions
from ecs_engine.config import Configuration
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from tests.coconut.conftest import Runner
from tests.conftest import CW_145

#: V_full of template-corpus.md §6: V_min's site, the hosts mapped to TPC and ITS
VFULL_TREE = {
    "o2": {
        "hardware": {"detectors": {"TPC": {"flps": {"flp001": {}}}, "ITS": {"flps": {"flp002": {}}}}},
        "runtime": {
            "aliecs": {
                "defaults": {"consul_endpoint": "localhost:8500", "modulepath": "", "infologger_mode": "infoLogger"}
            }
        },
    }
}
VFULL_VARS = {
    "hosts": '["flp001","flp002"]',
    **{f"{name}_enabled": "true" for name in ("dcs", "epn", "trg", "ccdb", "bookkeeping", "lhc", "kafka")},
    "bookkeeping_consuming_kafka": "false",
}
#: what a site with EPNs keeps in the store: the O2DPG hash and O2PDPSuite version 'default' means, the QC JSON hash
EPN_SITE = {"pdp_o2_data_processing_hash": "a1b2c3d", "pdp_o2pdpsuite_version": "O2PDPSuite::epn-20260601"}


def vfull_tree(epn_site: bool) -> dict:
    tree = json.loads(json.dumps(VFULL_TREE))
    if epn_site:
        tree["o2"]["runtime"]["aliecs"]["defaults"].update(EPN_SITE)
        tree["o2"]["runtime"]["qc"] = {"config_hash": "qc-77"}
    return tree


def plan(tmp_path, epn_site: bool) -> dict:
    site = tmp_path / "vfull.yaml"
    site.write_text(yaml.safe_dump(vfull_tree(epn_site)))
    args = [arg for key, value in VFULL_VARS.items() for arg in ("-e", f"{key}={value}")]
    result = Runner(tmp_path)(
        "template", "plan", "-w", "readout-dataflow", "--repo", str(CW_145), "--config-endpoint", f"file://{site}",
        *args, "-o", "json",
    )  # fmt: skip
    assert result.status == 0, result.err
    return json.loads(result.out)


def odc_vars(epn_site: bool) -> tuple[dict[str, str], dict[str, str]]:
    """The root's and the odc role's variables of readout-dataflow expanded with V_full."""
    workflow = make_expander(
        DirectorySource(CW_145),
        plugins=plugin_manager(),
        config=Configuration.from_tree(vfull_tree(epn_site)),
        user_vars=VFULL_VARS,
        environment_id="2oDvieFrVTi",
        offline=True,
    ).expand("readout-dataflow")
    (odc,) = [r for r in workflow.roles() if r.path == "readout-dataflow.odc"]
    return workflow.root.stack(), odc.stack()


@pytest.mark.shared
def test_plan_with_epns_succeeds_without_odc_and_derives_valid_odc_variables(tmp_path):
    data = plan(tmp_path, epn_site=True)
    assert not [w for w in data["warnings"] if "odc" in w], data["warnings"]
    assert "odc.PartitionInitialize()" in [c["func"] for c in data["calls"]]

    root, odc = odc_vars(epn_site=True)
    assert root["odc_topology_fullname"] == "(hash, default, production/production.desc, synchronous-workflow)"
    resources = json.loads(odc["odc_resources"])
    assert resources == [{"zone": "online", "n": "10"}, {"zone": "calib"}]
    script = odc["odc_script"]
    head = re.match(r"ECS_ENVIRONMENT_ID=2oDvieFrVTi GEN_TOPO_WIPE_CACHE=0 GEN_TOPO_CACHE_HASH=([0-9a-f]{32}) ", script)
    assert head, script
    body = script[head.end() :]
    assert head.group(1) == hashlib.md5(body.encode()).hexdigest()  # the cache key covers all but id and wipe flag
    for part in (
        "GEN_TOPO_HASH=1",
        "GEN_TOPO_SOURCE='a1b2c3d'",  # 'default' resolved from the store
        "WORKFLOW_DETECTORS='ITS,TPC'",
        "RECO_NUM_NODES_OVERRIDE=10",
        "OVERRIDE_PDPSUITE_VERSION='O2PDPSuite::epn-20260601'",
        "SET_QCJSON_VERSION='qc-77'",
        "RUNTYPE=PHYSICS",
        "GEN_TOPO_DEPLOYMENT_TYPE=UNKNOWN  RECOSHMSIZE=120259084288 DDSHMSIZE=114688",  # empty extra vars: 2 spaces
    ):
        assert part in body.split(" ") or part in body, part
    assert body.endswith(" /opt/alisw/el8/GenTopo/bin/gen_topo_logged.sh")


@pytest.mark.shared
def test_plan_warns_when_the_store_lacks_what_default_stands_for(tmp_path):
    data = plan(tmp_path, epn_site=False)
    assert (
        "role readout-dataflow.odc: vars.odc_script: odc.GenerateEPNWorkflowScript(): pdp_o2_data_processing_hash "
        "is 'default' and the configuration store has no pdp_o2_data_processing_hash "
        "(set it in o2/runtime/aliecs/defaults or vars)"
    ) in data["warnings"]


BASE = {
    "environment_id": "env1",
    "pdp_config_option": "Repository path",
    "pdp_o2_data_processing_path": "/home/epn/O2DPG/DATA",
    "pdp_topology_description_library_file": "production/production.desc",
    "pdp_workflow_name": "synchronous-workflow",
    "tfb_dd_mode": "processing",
    "pdp_detector_list_global": "default",
    "detectors": '["TPC","ITS"]',
    "ctp_readout_enabled": "true",
    "pdp_detector_exclude_list_qc": "",
    "pdp_detector_exclude_list_calib": "",
    "pdp_workflow_parameters": "QC",
    "odc_n_epns": "4",
    "odc_n_epns_max_fail": "1",
    "pdp_raw_decoder_multi_factor": "1",
    "pdp_ctf_encoder_multi_factor": "1",
    "pdp_reco_process_multi_factor": "1",
    "pdp_beam_type": "pp",
    "pdp_n_hbf_per_tf": "128",
    "pdp_o2pdpsuite_version": "O2PDPSuite::v1",
    "epn_store_raw_data_fraction": "100",
    "pdp_epn_shmid": "1",
    "hosts": '["alio2-cr1-flp001","alio2-cr1-mvs002","flp003"]',
    "setup_name": "P2 production",
    "pdp_extra_env_vars": "A=1",
    "pdp_epn_shm_sizes": "",
    "pdp_generator_script_path": "gen_topo.sh",
    "pdp_wipe_workflow_cache": "T",
}


def functions(**changes: str) -> EpnTopologyFunctions:
    return EpnTopologyFunctions(
        {**BASE, **changes}, Configuration.from_tree({"o2": {"runtime": {"qc": {"config_hash": "h"}}}})
    )


def test_script_from_a_repository_path():
    script = functions().GenerateEPNWorkflowScript()
    assert script.startswith("ECS_ENVIRONMENT_ID=env1 GEN_TOPO_WIPE_CACHE=1 GEN_TOPO_CACHE_HASH=")
    assert " GEN_TOPO_HASH=0 GEN_TOPO_SOURCE='/home/epn/O2DPG/DATA' " in script
    assert " WORKFLOW_DETECTORS='TPC,ITS,TRG' " in script  # 'default' with CTP readout adds TRG
    assert " FLP_IDS='001,S002' GEN_TOPO_DEPLOYMENT_TYPE=P2_production A=1  gen_topo.sh" in script


def test_a_manual_xml_topology_has_no_script_and_names_its_topology():
    odc = functions(pdp_config_option="Manual XML", odc_topology="/tmp/topo.xml")
    assert odc.GenerateEPNWorkflowScript() == ""
    assert odc.GenerateEPNTopologyFullname() == "(xml, /tmp/topo.xml)"
    assert functions().GenerateEPNTopologyFullname() == (
        "(path, /home/epn/O2DPG/DATA, production/production.desc, synchronous-workflow)"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"odc_n_epns": "ten"}, "odc_n_epns is not an integer: 'ten'"),
        ({"pdp_beam_type": "p'p"}, "BEAMTYPE would contain a single quote"),
        ({"detectors": "TPC"}, "detectors is not a JSON list of detectors: 'TPC'"),
    ],
)
def test_a_bad_variable_gives_an_error_value_naming_it(changes, message):
    value = json.loads(functions(**changes).GenerateEPNWorkflowScript())
    assert value["error"].startswith("odc.GenerateEPNWorkflowScript(): ") and message in value["error"]


def test_a_missing_variable_is_named():
    stack = dict(BASE)
    del stack["tfb_dd_mode"]
    value = json.loads(EpnTopologyFunctions(stack).GenerateEPNWorkflowScript())
    assert value == {"error": "odc.GenerateEPNWorkflowScript(): the variable tfb_dd_mode is not set"}
