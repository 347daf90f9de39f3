"""States in tables: coloured on a terminal (RUNNING green, ERROR red) unless --nocolor; marked during a transition."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from coconut.context import CliContext
from coconut.output import counted, heading, state_cell, table


def _rendered(color: bool | None, *cells: str) -> str:
    out = io.StringIO()
    cli = CliContext(stdout=out, color=color)
    cli.__dict__["console"] = Console(file=out, force_terminal=True, no_color=color is False, width=120)
    table(cli, ["state"], [[c] for c in cells])
    return out.getvalue()


@pytest.mark.parametrize(("state", "ansi"), [("RUNNING", "\x1b[32mRUNNING"), ("ERROR", "\x1b[31mERROR")])
def test_states_are_coloured_on_a_terminal(state: str, ansi: str):
    assert ansi in _rendered(None, state_cell(state))


def test_nocolor_prints_states_without_colour():
    text = _rendered(False, state_cell("RUNNING"), state_cell("ERROR"))
    assert "RUNNING" in text and "ERROR" in text and "\x1b[3" not in text


def test_a_transition_under_way_is_marked():
    assert state_cell("CONFIGURED", "START_ACTIVITY") == "CONFIGURED (START_ACTIVITY...)"
    assert state_cell("CONFIGURED") == "CONFIGURED"


def test_counts_are_singular_for_one():
    assert [counted(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert counted(1, "process", "processes") == "1 process" and counted(3, "process", "processes") == "3 processes"


@pytest.mark.parametrize("terminal", [False, True])
def test_a_heading_is_styled_as_a_tables_header_over_its_rule(terminal: bool):
    out = io.StringIO()
    cli = CliContext(stdout=out)
    if terminal:
        cli.__dict__["console"] = Console(file=out, force_terminal=True, width=120)
    heading(cli, "seq  kind")
    bold_blue = "\x1b[1;34mseq  kind\x1b[0m" if terminal else "seq  kind"
    assert out.getvalue() == f"{bold_blue}\n─────────\n"
