"""``config.*``, ``inventory.*``, ``runtime.*`` as templates call them: strings in, strings out, errors as JSON."""

from __future__ import annotations

import json

import pytest

from ecs_engine.config import Configuration
from ecs_engine.template.config_objects import template_objects

TREE = {
    "o2": {
        "hardware": {
            "detectors": {"TST": {"flps": {"flp001": {}}}, "ITS": {"flps": {"flp002": {}}}},
            "flps": {
                "flp001": {
                    "cards": json.dumps(
                        {
                            "0": {"serial": "1251", "endpoint": "0"},
                            "1": {"serial": "1251", "endpoint": "1"},
                            "2": {"serial": "1276", "endpoint": "0"},
                        }
                    )
                }
            },
        },
        "components": {
            "readout": {
                "ANY": {"any": {"readout-stfb-flp001": "host={{ host }}", "legacy": "raw {{ x }}"}},
                "PHYSICS": {"any": {"readout-standalone-flp001": "physics"}},
            }
        },
        "runtime": {"trg": {"ltu": {"cfg1": "ltu-payload"}}},
    }
}


@pytest.fixture
def objects(make_config):
    return template_objects(make_config(TREE), {"host": "flp001", "x": "1"})


def error_of(text: str) -> str:
    data = json.loads(text)
    assert set(data) == {"error"}, text
    return data["error"]


def test_config_get_renders_with_the_stack_and_never_falls_back(objects):
    config = objects["config"]
    assert config.Get("readout/ANY/any/readout-stfb-flp001") == "host=flp001"
    assert config.Get("readout/ANY/any/readout-stfb-flp001?process=false") == "host={{ host }}"
    assert "no payload at configuration path" in error_of(config.Get("readout/PHYSICS/any/readout-stfb-flp001"))


def test_config_get_legacy_is_raw_unless_an_expander_is_given(make_config):
    cfg = make_config(TREE)
    assert template_objects(cfg, {})["config"].GetLegacy("readout/ANY/any/legacy") == "raw {{ x }}"
    expand = template_objects(cfg, {}, legacy=lambda text: text.replace("{{ x }}", "1"))["config"]
    assert expand.GetLegacy("readout/ANY/any/legacy") == "raw 1"


def test_config_resolve_and_resolve_path(objects):
    config = objects["config"]
    assert config.Resolve("readout", "PHYSICS", "any", "readout-stfb-flp001") == "readout/ANY/any/readout-stfb-flp001"
    assert config.ResolvePath("readout/PHYSICS/any/readout-standalone-flp001") == (
        "readout/PHYSICS/any/readout-standalone-flp001"
    )
    assert "could not resolve configuration path" in error_of(config.ResolvePath("readout/PHYSICS/any/nope"))
    assert "bad run type 'physics'" in error_of(config.Resolve("readout", "physics", "any", "x"))


def test_inventory_functions(objects):
    inventory = objects["inventory"]
    assert inventory.DetectorForHost("flp002") == "ITS"
    assert inventory.DetectorsForHosts('["flp002","flp001"]') == '["ITS","TST"]'
    assert inventory.CRUCardsForHost("flp001") == '["1251","1276"]'
    assert inventory.EndpointsForCRUCard("flp001", "1251") == "0 1"
    assert error_of(inventory.DetectorForHost("nohost")) == "detector not found for host nohost"
    assert error_of(inventory.DetectorsForHosts('["flp001","nohost"]')) == "detector not found for host nohost"
    assert "is not a JSON list" in error_of(inventory.DetectorsForHosts("flp001"))


def test_runtime_get_and_set(make_config):
    cfg = make_config(TREE)
    runtime = template_objects(cfg, {})["runtime"]
    assert runtime.Get("trg/ltu", "cfg1") == "ltu-payload"
    assert runtime.Get("trg/ltu", "absent") == ""
    result = runtime.Set("aliecs", "last_env", "2rE9AV3m1HL")
    if cfg.store.read_only:
        assert "read-only" in error_of(result)
    else:
        assert result == "2rE9AV3m1HL"
        assert cfg.runtime_get("aliecs", "last_env") == "2rE9AV3m1HL"


def test_functions_from_the_template_engine_use_the_store(tmp_path):
    """The template engine's expression environment gets these objects for every role."""
    from ecs_engine.plugins import plugin_manager
    from ecs_engine.template.load import object_factory

    cfg = Configuration.from_tree(TREE)
    objects = object_factory(cfg, plugin_manager().hook.ecs_template_objects)({"host": "flp001"})
    assert objects["inventory"].DetectorForHost("flp001") == "TST"
    assert objects["config"].Get("readout/ANY/any/readout-stfb-flp001") == "host=flp001"
