"""``env control``: an event refused in the environment's state names the events as ``-e`` takes them."""

from __future__ import annotations

import pytest

from ecs_engine.errors import ExitStatus, RefusedError

CORE_SAYS = "environment e1 is CONFIGURED: STOP_ACTIVITY is not allowed there (allowed: RESET, START_ACTIVITY, EXIT)"


class RefusingCore:
    """The core's answer to a STOP of a CONFIGURED environment (its message names events as on the wire)."""

    def __enter__(self) -> RefusingCore:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def call(self, method: str, request: object) -> None:
        raise RefusedError(CORE_SAYS)


@pytest.mark.parametrize("typed", ["STOP", "stop_activity"])
def test_a_refused_event_lists_the_allowed_ones_as_the_user_types_them(coconut, monkeypatch, typed):
    monkeypatch.setattr("coconut.commands.env.connect", lambda cli: RefusingCore())
    result = coconut("env", "control", "e1", "-e", typed)
    assert result.status == ExitStatus.REFUSED
    assert result.err.splitlines() == [
        "coconut: error: environment e1 is CONFIGURED: STOP is not allowed there (allowed: RESET, START, EXIT)"
    ]
