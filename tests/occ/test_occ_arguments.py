"""How pushed arguments are read (OCClib's property tree) and how peanut flattens a configuration file."""

from __future__ import annotations

import logging

import pytest
import yaml

from ecs_engine.occ.arguments import ArgumentError, flatten, run_number, to_tree


def test_tree_nests_dotted_keys_and_grafts_ptree_payloads_like_occlib():
    # the arguments of request 5 in occ-peer-behaviour.md §6.1, and the tree the dummy printed for them
    tree = to_tree(
        [
            ("key1", "value1"),
            ("detector", "TPC"),
            ("chans.readout.0.address", "tcp://127.0.0.1:5555"),
            ("chans.readout.0.method", "bind"),
            ("__ptree__:json:payload", '{"a":{"b":"1","c":["x","y"]}}'),
            ("__ptree__:ini:inicfg", "[section]\nk=v"),
        ]
    )
    assert tree == {
        "key1": "value1",
        "detector": "TPC",
        "chans": {"readout": {"0": {"address": "tcp://127.0.0.1:5555", "method": "bind"}}},
        "payload": {"a": {"b": "1", "c": ["x", "y"]}},
        "inicfg": {"section": {"k": "v"}},
    }
    assert list(tree) == ["key1", "detector", "chans", "payload", "inicfg"]  # order kept


def test_bad_ptree_entries_are_skipped_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    tree = to_tree(
        {
            "__ptree__:bad": "zzz",
            "__ptree__:json:broken": "{not json",
            "__ptree__:yaml:k": "a: b",
            "runNumber": "77",
            "plain": "1",
        }
    )
    assert tree == {"runNumber": "77", "plain": "1"}
    assert len(caplog.records) == 3


def test_xml_payload_and_json_scalars_become_text():
    tree = to_tree({"__ptree__:xml:x": "<root><a>1</a><b k='v'/></root>", "__ptree__:json:j": '{"n": 2, "t": true}'})
    assert tree["x"] == {"root": {"a": "1", "b": {"<xmlattr>": {"k": "v"}}}}
    assert tree["j"] == {"n": "2", "t": "true"}


def test_a_key_that_is_both_a_value_and_a_parent_is_an_error():
    with pytest.raises(ArgumentError, match="'a'"):
        to_tree([("a", "x"), ("a.b", "y")])
    with pytest.raises(ArgumentError):
        to_tree([("a.b", "y"), ("a", "x")])


def test_run_number_is_read_from_any_transition_and_defaults_to_zero():
    assert run_number({"runNumber": "123456"}) == 123456
    assert run_number({}) == 0
    assert run_number({"runNumber": "soon"}) == 0


def test_flatten_handles_integer_keys_values_and_lists():
    data = yaml.safe_load(
        """
chans:
  data:
    numSockets: 1
    0:
      address: ipc://@o2ipc-example
      sndBufSize: 1000
      autoBind: false
list: [a, 2.5, 3.0]
empty: {}
nothing:
"""
    )
    assert flatten(data) == {
        "chans.data.numSockets": "1",
        "chans.data.0.address": "ipc://@o2ipc-example",
        "chans.data.0.sndBufSize": "1000",
        "chans.data.0.autoBind": "false",
        "list.0": "a",
        "list.1": "2.5",
        "list.2": "3",
        "empty": "",
        "nothing": "",
    }
