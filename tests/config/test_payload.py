"""Payload templating (pongo2 subset on jinja2): variables, filters, includes, cache invalidation."""

from __future__ import annotations

import pytest

from ecs_engine.config import Configuration
from ecs_engine.config.payload import pongo_to_jinja
from ecs_engine.errors import ConfigurationError, NotFoundError


def tree(entries: dict[str, str]) -> dict:
    return {"o2": {"components": {"readout": {"ANY": {"any": entries}}}}}


P = "readout/ANY/any/"


def test_variables_and_pongo2_filter_syntax(make_config):
    cfg = make_config(
        tree(
            {
                "main": (
                    '[readout]\nhost={{ host }}\nrate={{ rate|default:"10" }}\n'
                    "mode={{ mode|default:'none'|upper }}\nmissing=[{{ nothere }}]\n"
                ),
            }
        )
    )
    out = cfg.get_component(P + "main", process=True, varstack={"host": "flp001", "rate": "", "mode": "x"})
    assert out == "[readout]\nhost=flp001\nrate=10\nmode=X\nmissing=[]\n"


def test_pongo2_operators_in_conditions(make_config):
    cfg = make_config(
        tree({"cond": "{% if a == 'on' && !off || force %}yes{% else %}no{% endif %}|{% if a != 'on' %}ne{% endif %}"})
    )
    render = lambda **v: cfg.get_component(P + "cond", process=True, varstack=v)  # noqa: E731
    assert render(a="on", off="") == "yes|"
    assert render(a="on", off="1") == "no|"
    assert render(a="x", force="1") == "yes|ne"


def test_values_are_not_html_escaped(make_config):
    cfg = make_config(tree({"json": '{"cmd": "{{ cmd }}"}'}))
    assert cfg.get_component(P + "json", process=True, varstack={"cmd": "a<b && c>d"}) == '{"cmd": "a<b && c>d"}'


def test_without_process_the_payload_is_raw(make_config):
    cfg = make_config(tree({"main": "x={{ v }}"}))
    assert cfg.get_component(P + "main", varstack={"v": "1"}) == "x={{ v }}"
    assert cfg.get_component(P + "main?process=false", process=True, varstack={"v": "1"}) == "x={{ v }}"


def test_query_parameters_turn_processing_on_and_override_the_stack(make_config):
    cfg = make_config(tree({"main": "x={{ v }} y={{ w }}"}))
    assert cfg.get_component(P + "main?process=true&v=query", varstack={"v": "stack", "w": "2"}) == "x=query y=2"


def test_include_is_relative_to_the_payload_directory(make_config):
    cfg = make_config(
        {
            "o2": {
                "components": {
                    "qc": {
                        "PHYSICS": {
                            "flp001": {
                                "main": "start {% include 'common' %} end",
                                "common": "common for {{ host }}",
                                "tpc": {"main": "{% include 'part' %}", "part": "nested part"},
                            }
                        },
                        "ANY": {"any": {"common": "the ANY/any one must not be used"}},
                    }
                }
            }
        }
    )
    assert (
        cfg.get_component("qc/PHYSICS/flp001/main", process=True, varstack={"host": "flp001"})
        == "start common for flp001 end"
    )
    assert cfg.get_component("qc/PHYSICS/flp001/tpc/main", process=True) == "nested part"


def test_missing_include_and_syntax_errors_name_the_payload(make_config):
    cfg = make_config(tree({"inc": "{% include 'absent' %}", "bad": "line1\n{% if x %}never closed"}))
    with pytest.raises(NotFoundError, match="included payload not found at o2/components/readout/ANY/any/absent"):
        cfg.get_component(P + "inc", process=True)
    with pytest.raises(ConfigurationError) as info:
        cfg.get_component(P + "bad", process=True)
    assert "o2/components/readout/ANY/any/bad" in info.value.message
    assert "line 2" in info.value.message


def test_helper_objects_are_bound(make_config):
    from ecs_engine.template.functions import static_objects

    cfg = make_config(tree({"main": "{{ strings.ToUpper(det) }} {{ json.Marshal(['a']) }}"}))
    out = cfg.get_component(P + "main", process=True, varstack={"det": "tst"}, objects=static_objects())
    assert out == 'TST ["a"]'


@pytest.mark.parametrize("what", ["main", "include"])
def test_cached_templates_follow_changes_in_the_store(writable_store, what):
    cfg = Configuration(writable_store)
    writable_store.put_many({f"components/{P}main": "v1 {% include 'part' %}", f"components/{P}part": "p1"})
    assert cfg.get_component(P + "main", process=True) == "v1 p1"
    if what == "main":
        writable_store.put(f"components/{P}main", "v2 {% include 'part' %}")
        assert cfg.get_component(P + "main", process=True) == "v2 p1"
    else:
        writable_store.put(f"components/{P}part", "p2")
        assert cfg.get_component(P + "main", process=True) == "v1 p2"
    writable_store.delete(f"components/{P}main")
    with pytest.raises(NotFoundError, match="no payload at configuration path"):
        cfg.get_component(P + "main", process=True)


def test_templates_are_compiled_once_until_invalidated(writable_store):
    cfg = Configuration(writable_store)
    writable_store.put(f"components/{P}main", "{{ 1 + 1 }}")
    cfg.get_component(P + "main", process=True)
    compiled = cfg.payloads.env.get_template(P + "main")
    cfg.get_component(P + "main", process=True)
    assert cfg.payloads.env.get_template(P + "main") is compiled
    cfg.invalidate_template_cache()
    assert cfg.payloads.env.get_template(P + "main") is not compiled


@pytest.mark.parametrize(
    ("pongo", "jinja"),
    [
        ('{{ a|default:"x:y" }}', '{{ a|default("x:y") }}'),
        ("{{ a|cut:' ' }}", "{{ a|cut(' ') }}"),
        ("{{ n|add:2 }}", "{{ n|add(2) }}"),
        ("{% if a && b || !c %}", "{% if a  and  b  or   not c %}"),
        ("{{ 'a && b' }} && {{ x != y }}", "{{ 'a && b' }} && {{ x != y }}"),
        ("plain text: a|b && c", "plain text: a|b && c"),
    ],
)
def test_pongo2_rewrite_only_touches_tags(pongo, jinja):
    assert pongo_to_jinja(pongo) == jinja
