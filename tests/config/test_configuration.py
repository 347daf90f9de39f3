"""AliECS semantics of the key tree, on every backend (the file backend included: these only read)."""

from __future__ import annotations

import json

import pytest

from ecs_engine.errors import ConfigurationError, NotFoundError, UsageError

CARDS = {
    "0": {"type": "CRU", "pciAddress": "3b:00.0", "serial": "1041", "endpoint": "0", "numa": "0"},
    "1": {"type": "CRU", "pciAddress": "3c:00.0", "serial": "1041", "endpoint": "1", "numa": "0"},
    "2": {"type": "CRU", "pciAddress": "af:00.0", "serial": "1276", "endpoint": "0", "numa": "1"},
}

TREE = {
    "o2": {
        "hardware": {
            "detectors": {
                "TST": {"flps": {"flp001": {}, "flp002": {}}},
                "ITS": {"flps": {"flp101": {"alias": "its-1"}}},
                "TRG": {"flps": {"flp199": {}}},
            },
            "flps": {"flp001": {"cards": json.dumps(CARDS)}, "flp002": {}},
        },
        "runtime": {
            "aliecs": {
                "defaults": {"modulepath": "", "consul_endpoint": " localhost:8500\n", "nested": {"x": "y"}},
                "vars": {"odc_enabled": "false "},
            },
            "run_number": "41",
            "trg": {"ltu": {"cfgA": "payload-A"}},
        },
        "components": {
            "readout": {
                "ANY": {"any": {"readout-stfb-flp001": "any-any", "only-generic": "generic"}},
                "PHYSICS": {
                    "any": {"readout-stfb-flp001": "physics-any"},
                    "flp001": {"readout-stfb-flp001": "physics-flp001"},
                },
                "TECHNICAL": {"flp001": {"readout-stfb-flp001": "technical-flp001"}},
            },
            "qc": {"ANY": {"any": {"tpc/clusters": "qc-nested-entry"}}},
            "aliecs": {"ANY": {"any": {"settings": "kafkaEndpoints: [a:9092]\nenableKafka: false\n"}}},
            "readoutcard": {
                "flp001": {
                    "cru": {
                        "1041": {
                            "0": json.dumps(
                                {"cru": {"clock": "ttc"}, "link0": {"enabled": "true"}, "link1": {"enabled": "false"}}
                            ),
                            "1": "[cru]\nclock=local\n[link2]\nenabled=true\n[link10]\nenabled=true\n",
                        }
                    }
                }
            },
        },
    }
}


@pytest.fixture
def cfg(make_config):
    return make_config(TREE)


# --- resolution order -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtype", "role", "expected"),
    [
        ("PHYSICS", "flp001", "readout/PHYSICS/flp001/readout-stfb-flp001"),  # exact
        ("TECHNICAL", "flp001", "readout/TECHNICAL/flp001/readout-stfb-flp001"),  # exact beats ANY
        ("COSMICS", "flp001", "readout/ANY/any/readout-stfb-flp001"),  # nothing for COSMICS: ANY/any
        ("PHYSICS", "flp002", "readout/PHYSICS/any/readout-stfb-flp001"),  # role=any before ANY/any
        ("PEDESTAL", "flp009", "readout/ANY/any/readout-stfb-flp001"),  # ANY/any last
    ],
)
def test_resolution_order(cfg, runtype, role, expected):
    assert cfg.resolve("readout", runtype, role, "readout-stfb-flp001") == expected


def test_runtype_any_is_tried_before_role_any(make_config):
    tree = {
        "o2": {
            "components": {
                "c": {
                    "ANY": {"flp001": {"e": "ANY-flp001"}},
                    "PHYSICS": {"any": {"e": "PHYSICS-any"}},
                }
            }
        }
    }
    cfg = make_config(tree)
    assert cfg.resolve("c", "PHYSICS", "flp001", "e") == "c/ANY/flp001/e"
    assert cfg.resolve_path("c/PHYSICS/flp002/e") == "c/PHYSICS/any/e"


def test_resolve_failure_names_the_path(cfg):
    with pytest.raises(
        NotFoundError, match="could not resolve configuration path o2/components/readout/PHYSICS/x/nope"
    ):
        cfg.resolve("readout", "PHYSICS", "x", "nope")


def test_resolve_path_keeps_query_and_entry_with_slash(cfg):
    assert cfg.resolve_path("qc/PHYSICS/flp001/tpc/clusters?process=true") == "qc/ANY/any/tpc/clusters?process=true"


def test_plain_get_never_falls_back(cfg):
    assert cfg.get_component("readout/PHYSICS/flp001/readout-stfb-flp001") == "physics-flp001"
    with pytest.raises(NotFoundError, match="no payload at configuration path o2/components/readout/COSMICS/any/"):
        cfg.get_component("readout/COSMICS/any/readout-stfb-flp001")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("readout/ANY/any", "expected component/RUNTYPE/role/entry"),
        ("read out/ANY/any/x", "bad component name 'read out'"),
        ("readout/physics/any/x", "bad run type 'physics'"),
        ("readout/WHATEVER/any/x", "bad run type 'WHATEVER'"),
        ("readout/ANY/a:b/x", "bad machine role 'a:b'"),
        ("readout/ANY/any/x//y", "bad entry name 'x//y'"),
        ("readout/ANY/any/x?process=maybe", "process=maybe is not true or false"),
        ("readout/ANY/any/x?novalue", "expected name=value pairs"),
    ],
)
def test_bad_paths_are_rejected_with_the_reason(cfg, path, reason):
    with pytest.raises(UsageError) as info:
        cfg.get_component(path)
    assert reason in info.value.message
    assert "bad" in info.value.message


# --- runtime, defaults, vars, core settings -----------------------------------------------------------------


def test_global_defaults_and_vars_are_trimmed_and_flat(cfg):
    assert cfg.global_defaults() == {"modulepath": "", "consul_endpoint": "localhost:8500"}
    assert cfg.global_vars() == {"odc_enabled": "false"}


def test_runtime_get_with_component_containing_slash(cfg):
    assert cfg.runtime_get("trg/ltu", "cfgA") == "payload-A"
    assert cfg.runtime_get("trg/ltu", "missing") is None
    assert cfg.runtime_entries("trg") == {"ltu/cfgA": "payload-A"}


def test_core_settings_are_parsed(cfg):
    assert cfg.core_settings() == {"kafkaEndpoints": ["a:9092"], "enableKafka": False}


def test_core_settings_absent_and_invalid(make_config):
    assert make_config({"o2": {}}).core_settings() == {}
    bad = {"o2": {"components": {"aliecs": {"ANY": {"any": {"settings": "a: [unclosed"}}}}}}
    with pytest.raises(ConfigurationError, match="o2/components/aliecs/ANY/any/settings"):
        make_config(bad).core_settings()


# --- inventory ------------------------------------------------------------------------------------------------


def test_detectors_hide_trg_unless_all(cfg):
    assert cfg.detectors() == ["ITS", "TST"]
    assert cfg.detectors(get_all=True) == ["ITS", "TRG", "TST"]


def test_detector_for_host(cfg):
    assert cfg.detector_for_host("flp101") == "ITS"
    with pytest.raises(NotFoundError, match="detector not found for host nohost"):
        cfg.detector_for_host("nohost")


def test_detectors_for_hosts_sorted_unique_and_strict(cfg):
    assert cfg.detectors_for_hosts(["flp101", "flp002", "flp001"]) == ["ITS", "TST"]
    with pytest.raises(NotFoundError, match="detector not found for host flp404"):
        cfg.detectors_for_hosts(["flp001", "flp404"])


def test_hosts_for_detector(cfg):
    assert cfg.hosts_for_detector("TST") == ["flp001", "flp002"]
    assert cfg.hosts_for_detector("ITS") == ["flp101"]
    assert cfg.hosts_for_detector("NOPE") == []
    assert cfg.hosts_for_detector("") == ["flp001", "flp002"]
    assert cfg.detectors_inventory() == {"ITS": ["flp101"], "TRG": ["flp199"], "TST": ["flp001", "flp002"]}


def test_cards_and_endpoints(cfg):
    assert cfg.cru_cards_for_host("flp001") == ["1041", "1276"]
    assert cfg.endpoints_for_cru_card("flp001", "1041") == ["0", "1"]
    assert cfg.endpoints_for_cru_card("flp001", "9999") == []
    assert cfg.cru_cards_for_host("flp002") == []


def test_link_ids_from_json_and_ini_payloads(cfg):
    assert cfg.link_ids_for_cru_endpoint("flp001", "1041", "0", only_enabled=True) == ["0"]
    assert cfg.link_ids_for_cru_endpoint("flp001", "1041", "0", only_enabled=False) == ["0", "1"]
    assert cfg.link_ids_for_cru_endpoint("flp001", "1041", "1", only_enabled=True) == ["2", "10"]


def test_bad_cards_json_is_reported_with_the_key(make_config):
    cfg = make_config({"o2": {"hardware": {"flps": {"flp001": {"cards": "{not json"}}}}})
    with pytest.raises(ConfigurationError, match="o2/hardware/flps/flp001/cards' is not valid JSON"):
        cfg.cru_cards_for_host("flp001")


# --- components listing and raw trees -----------------------------------------------------------------------


def test_components_and_entries(cfg):
    assert cfg.components() == ["aliecs", "qc", "readout", "readoutcard"]
    assert cfg.component_entries("readout") == [
        "ANY/any/only-generic",
        "ANY/any/readout-stfb-flp001",
        "PHYSICS/any/readout-stfb-flp001",
        "PHYSICS/flp001/readout-stfb-flp001",
        "TECHNICAL/flp001/readout-stfb-flp001",
    ]
    assert cfg.component_entries("qc") == ["ANY/any/tpc/clusters"]


def test_raw_tree_accepts_keys_with_and_without_prefix(cfg):
    assert cfg.raw_tree("o2/hardware/detectors/TST") == {"flps": {"flp001": {}, "flp002": {}}}
    assert cfg.raw_tree("runtime/trg") == {"ltu": {"cfgA": "payload-A"}}
    assert cfg.raw_tree("o2/runtime/run_number") == "41"
    with pytest.raises(NotFoundError, match="no configuration at 'o2/nothing/here'"):
        cfg.raw_tree("o2/nothing/here")
