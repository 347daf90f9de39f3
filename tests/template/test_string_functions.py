"""``strings.*`` template functions as templates call them: TrimQuotes (and its top-level alias)."""

from __future__ import annotations

import pytest

from ecs_engine.template.expr import render
from ecs_engine.template.functions import static_objects


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"abc"', "abc"),
        ("'abc'", "abc"),
        ("`abc`", "abc"),
        ('""', ""),
        ('"a"b"', 'a"b'),  # one pair, from the ends only
        ('""x""', '"x"'),  # one pair, not every quote at the ends
        ('"x" ', '"x" '),  # the quote must be the very first and last character
        ('"abc', '"abc'),  # unpaired: unchanged
        ("abc'", "abc'"),
        ("\"abc'", "\"abc'"),  # two different quotes do not pair
        ('"', '"'),  # one character is not a pair
        ("'", "'"),
        ("abc", "abc"),
        ("", ""),
    ],
)
def test_trim_quotes_removes_one_matching_pair_of_quotes_around_the_value(value, expected):
    env = {**static_objects(), "v": value}
    assert render("{{ strings.TrimQuotes(v) }}", env) == expected
    assert render("{{ TrimQuotes(v) }}", env) == expected  # the deprecated top-level alias is the same function


def test_trim_quotes_takes_a_number_as_its_text():
    assert render("{{ strings.TrimQuotes(n) }}", {**static_objects(), "n": 42}) == "42"
