"""A task template's ``wants.ports``: comma-separated ports and inclusive ranges (upstream parses ``b-c`` as ``b``)."""

from __future__ import annotations

import textwrap

import pytest

from ecs_engine.errors import TemplateError
from ecs_engine.template.tasks import parse_ports, parse_task


def task_with_ports(ports: str) -> str:
    return textwrap.dedent(
        f"""\
        name: reader
        command:
          value: readout.exe
        wants:
          cpu: 0.5
          ports: "{ports}"
        """
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9000", ((9000, 9000),)),
        ("9000,9100-9110", ((9000, 9000), (9100, 9110))),
        ("9100-9110,9000", ((9100, 9110), (9000, 9000))),  # in the order written
        (" 9000 , 9100 - 9110 ,", ((9000, 9000), (9100, 9110))),  # spaces and an empty item
        ("9000,,9001", ((9000, 9000), (9001, 9001))),  # an empty item in the middle
        ("1-65535", ((1, 65535),)),
        ("7-7", ((7, 7),)),
        ("", ()),
    ],
)
def test_ports_and_inclusive_ranges(text, expected):
    assert parse_ports(text, file="t.yaml", line=3) == expected


def test_a_task_template_keeps_its_wanted_port_ranges():
    task = parse_task(task_with_ports("10000-10002,10010"), "tasks/reader.yaml")
    assert task.ports == ((10000, 10002), (10010, 10010)) and task.cpu == 0.5
    assert not task.warnings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", r"invalid port range 'x' \(expected N or N-M, comma separated\)"),
        ("9000,9a", r"invalid port range '9a' \(expected N or N-M"),
        ("-5", r"invalid port range '-5' \(expected N or N-M"),
        ("1-2-3", r"invalid port range '1-2-3' \(expected N or N-M"),
        ("9110-9100", r"invalid port range '9110-9100'$"),  # a range that ends before it starts
        ("0", r"invalid port range '0'$"),
        ("0-10", r"invalid port range '0-10'$"),
        ("65535-65536", r"invalid port range '65535-65536'$"),
        ("70000", r"invalid port range '70000'$"),
    ],
)
def test_a_bad_port_range_is_one_error_naming_file_line_and_field(text, message):
    with pytest.raises(TemplateError, match=message) as caught:
        parse_task(task_with_ports(text), "tasks/reader.yaml")
    assert (caught.value.file, caught.value.line, caught.value.field) == ("tasks/reader.yaml", 6, "wants.ports")
