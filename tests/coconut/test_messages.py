"""coconut's errors in the user's words: the flags and values as typed, never Python's or pydantic's."""

from __future__ import annotations

import pytest

from ecs_engine.errors import ExitStatus
from tests.coconut.conftest import Runner


@pytest.mark.parametrize(
    "argv",
    [
        ["repo", "default", "abc"],
        ["repo", "remove", "x"],
        ["repo", "refresh", "x"],
        ["repo", "default-revision", "x", "y"],
    ],
)
def test_a_bad_repository_index_says_expected_a_number(coconut: Runner, argv: list[str]):
    result = coconut(*argv)
    assert result.status == ExitStatus.USAGE
    assert "expected a number (the index shown by 'coconut repo list')" in result.err
    assert "valid integer" not in result.err


def test_go_error_is_not_offered_as_an_event(coconut: Runner):
    result = coconut("env", "control", "someenv", "-e", "GO_ERROR")
    assert result.status == ExitStatus.USAGE
    assert "unknown event 'GO_ERROR'" in result.err and "RECOVER" in result.err
    assert "GO_ERROR," not in result.err and "GO_ERROR)" not in result.err
