"""``-e`` user variables as people type them (ecs_engine.uservars): k=v lists, quotes, JSON, role-targeted keys."""

from __future__ import annotations

import pytest

from ecs_engine.errors import UsageError
from ecs_engine.uservars import parse_vars, split_role_vars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1,b=2", {"a": "1", "b": "2"}),
        (" a = 1 , b=2 ,", {"a": "1", "b": "2"}),  # spaces around items, keys and values; an empty item
        ("a=1,,b=2", {"a": "1", "b": "2"}),
        ("a=", {"a": ""}),
        ("url=http://h:1/x?y=z", {"url": "http://h:1/x?y=z"}),  # only the first '=' splits
        ('hosts=["a","b"],x=1', {"hosts": '["a","b"]', "x": "1"}),  # commas inside brackets stay
        ("m={k: 1, l: 2},n=(1,2)", {"m": "{k: 1, l: 2}", "n": "(1,2)"}),
        ("l=[[1,2],[3,4]],y=2", {"l": "[[1,2],[3,4]]", "y": "2"}),  # nested brackets
        ('s="x,y",t=1', {"s": "x,y", "t": "1"}),  # a quoted value keeps its comma and loses its quotes
        ("s='x,y',t=1", {"s": "x,y", "t": "1"}),
        ('s="a\\",b",t=1', {"s": 'a\\",b', "t": "1"}),  # an escaped quote does not end the quoted text
        ('s="x\',y",t=1', {"s": "x',y", "t": "1"}),  # the other quote character inside quotes is plain
        ("s=\"x'", {"s": "\"x'"}),  # quotes that do not pair are kept
        ("a=]b,c=1", {"a": "]b", "c": "1"}),  # a stray closing bracket does not swallow the next item
        ("a=1,a=2", {"a": "2"}),  # later wins
    ],
)
def test_key_value_lists_split_at_top_level_commas(text, expected):
    assert parse_vars(text) == expected


def test_several_values_later_win_and_json_objects_are_flattened_to_text():
    assert parse_vars(["a=1,b=2", '{"b": 3, "c": [1, "x"], "d": {"e": true}, "f": "s"}', "a=9"]) == {
        "a": "9",
        "b": "3",
        "c": '[1,"x"]',
        "d": '{"e":true}',
        "f": "s",
    }
    assert parse_vars(["", "  "]) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("novalue", r"^-e: 'novalue' is not KEY=VALUE \(use k=v,k2=v2 or a JSON object\)$"),
        ("a=1,=2", r"^-e: '=2' is not KEY=VALUE"),
        ("a=1,b", r"^-e: 'b' is not KEY=VALUE"),
        ("{not json", r"^-e: not a valid JSON object: "),
        ("[1, 2]", r"^-e: '\[1, 2\]' is not KEY=VALUE"),
    ],
)
def test_bad_values_are_one_clear_error_naming_the_item(text, message):
    with pytest.raises(UsageError, match=message):
        parse_vars(text)


def test_the_error_names_the_argument_it_came_from():
    with pytest.raises(UsageError, match=r"^--vars: 'x' is not KEY=VALUE"):
        parse_vars("x", argument="--vars")


def test_role_targeted_keys_are_separated_from_environment_wide_ones():
    plain, per_role = split_role_vars(
        parse_vars('a=1,readout.host-flp001.stfb:rate=5,readout.host-flp001.stfb:hosts=["x","y"],b:c:d=2')
    )
    assert plain == {"a": "1"}
    assert per_role == {"readout.host-flp001.stfb": {"rate": "5", "hosts": '["x","y"]'}, "b:c": {"d": "2"}}
    for bad in (":x", "role:"):
        with pytest.raises(UsageError, match=rf"^variable '{bad}': expected ROLE.PATH:NAME$"):
            split_role_vars({bad: "1"})
