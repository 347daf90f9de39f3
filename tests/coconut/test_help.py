"""coconut's help and --version, as a new operator reads them: names, not Python types; whole summaries."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command

from coconut.cli import app
from ecs_engine import __version__
from tests.coconut.conftest import Runner


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


@pytest.fixture
def help_of(coconut: Runner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The help of a command as the installed ``coconut`` prints it (plain, not rich: see coconut/__main__.py)."""
    monkeypatch.setattr("typer.core.HAS_RICH", False)

    def help_of(*path: str) -> str:
        capsys.readouterr()
        assert coconut(*path, "--help").status == 0
        return capsys.readouterr().out

    return help_of


def test_version(coconut: Runner):
    result = coconut("--version")
    assert (result.status, result.out) == (0, f"coconut {__version__}\n")


@pytest.mark.parametrize("path", [[], ["env"]], ids=["coconut", "env"])
def test_a_group_run_bare_prints_its_help(coconut: Runner, monkeypatch, capsys, path: list[str]):
    monkeypatch.setattr("typer.core.HAS_RICH", False)
    capsys.readouterr()
    result = coconut(*path)
    printed = result.out + capsys.readouterr().out
    assert result.status == 0 and "Usage: coconut" in printed and "Commands" in printed, printed


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "coconut")
def test_help_names_values_and_uses_one_usage_form(help_of, path: list[str]):
    text = help_of(*path)
    assert not re.search(r"<(str|int|float|list\[[a-z]+\]|bool)>", text), text
    usage = text.splitlines()[0]
    assert "{" not in usage and "[[" not in usage, usage


def test_group_summaries_are_whole_and_env_help_has_its_description(help_of):
    top = help_of()
    assert "detectors,\n" in top and "services." in top  # info's summary wraps instead of ending in '...'
    assert "tasks,..." not in top
    env = help_of("env")
    assert "Create, control and destroy environments on the core." in env
    assert "created,..." not in env


def test_kind_help_lists_every_kind_kind_accepts(help_of):
    from ecs_engine.protocols import events_pb2

    shown = " ".join(help_of("events", "query").split())
    for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["Payload"].fields:
        assert field.name.removesuffix("Event") in shown, field.name  # watchdog steps are framework events


def test_events_follow_help_says_it_ends_when_the_core_stops(help_of):
    """It does not reconnect: an operator following across a core restart must know to start it again."""
    assert "until the core stops (exit 3" in " ".join(help_of("events", "follow").split())
