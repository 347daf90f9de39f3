"""Tables and variable blocks written without rich are byte for byte what rich writes, on a pipe and on a
terminal, coloured or not (issue 19: rich's import and layout were ~80 ms of ``env list``'s cold start)."""

from __future__ import annotations

import io
import re

import pytest

from coconut.context import CliContext
from coconut.output import state_cell, table, vars_block


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


COLUMNS = ["id", "workflow template", "state", "run"]
ROWS = [
    ["36F23btUQBx", "scale", state_cell("RUNNING"), "12"],
    ["36F23bV7Cpp", "readout-dataflow", state_cell("CONFIGURED", "START_ACTIVITY"), ""],
    ["36F23bV7Cpq", "[x] :smile:", state_cell("ERROR", "DESTROY"), ""],
]


def _both(file_type: type[io.StringIO], color: bool | None, render, *, direct_path: bool = True) -> tuple[str, str]:
    """(written directly, written by rich): the second run has a console made, which only rich uses."""
    direct, by_rich = file_type(), file_type()
    plain = CliContext(stdout=direct, color=color)
    render(plain)
    assert ("console" not in plain.__dict__) is direct_path  # rich made no console: the direct path wrote it
    cli = CliContext(stdout=by_rich, color=color)
    assert cli.console is not None
    render(cli)
    return direct.getvalue(), by_rich.getvalue()


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch):
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


@pytest.mark.parametrize("file_type", [io.StringIO, Terminal], ids=["pipe", "terminal"])
@pytest.mark.parametrize("color", [None, False], ids=["colour", "nocolor"])
@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []], ids=["rows", "one", "none"])
def test_a_table_is_what_rich_writes(file_type, color, rows):
    direct, by_rich = _both(file_type, color, lambda cli: table(cli, COLUMNS, rows))
    assert direct == by_rich


@pytest.mark.parametrize("file_type", [io.StringIO, Terminal], ids=["pipe", "terminal"])
@pytest.mark.parametrize("color", [None, False], ids=["colour", "nocolor"])
def test_a_vars_block_is_what_rich_writes(file_type, color):
    values = {"detectors": '["TPC", "ITS"]', "b": "", "a_longer_key": "x :smile: [bold]y[/bold]"}
    direct, by_rich = _both(file_type, color, lambda cli: vars_block(cli, "user vars", values))
    assert direct == by_rich


def test_a_table_of_words_wider_than_the_terminal_cuts_none():
    """80 columns: an id cut over lines could be neither read nor copied; the terminal wraps the row instead."""
    rows = [["x" * 100, "y"]]
    direct, by_rich = _both(Terminal, None, lambda cli: table(cli, ["a", "b"], rows))
    assert direct == by_rich and "x" * 100 in direct


def test_a_table_wider_than_the_terminal_wraps_its_text_at_spaces_and_keeps_ids_and_states_whole():
    columns = ["run", "environment", "state", "start", "outcome"]
    reason = "error: critical task 'demo-producer@local#36GuSZSEPqg' on host 'flp002' transitioned to ERROR"
    rows = [["31", "36GuSZRbuDZ", state_cell("ERROR"), "2026-12-07 21:48:39 CET", reason]]
    terminal = Terminal()
    cli = CliContext(stdout=terminal, color=False)
    table(cli, columns, rows)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue()).splitlines()
    assert max(map(len, lines)) <= 80
    words = " ".join(lines).split()
    for whole in ("36GuSZRbuDZ", "ERROR", "21:48:39", "'demo-producer@local#36GuSZSEPqg'", "transitioned"):
        assert whole in words


def test_wide_characters_are_laid_out_by_rich():
    rows = [["検出器", "ok"]]
    direct, by_rich = _both(io.StringIO, None, lambda cli: table(cli, ["name", "state"], rows), direct_path=False)
    assert direct == by_rich and "検出器" in direct
