"""docs/cli.md's command reference names every coconut command and each of its flags."""

from __future__ import annotations

import re

import typer

from coconut.cli import app
from tests.conftest import REPO_ROOT


def commands(command, path=()):
    """(path, long flags) of every leaf command below ``command``."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))
        return
    flags = [
        max(param.opts, key=len)
        for param in command.params
        if param.param_type_name == "option" and param.name != "help"
    ]
    yield " ".join(path), flags


def test_the_reference_has_a_row_for_every_command_with_its_flags():
    text = (REPO_ROOT / "docs" / "cli.md").read_text()
    reference = text[text.index("## Command reference") :]
    reference = reference[: reference.index("\n## ", 1)]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z -]+)` \|.*$", reference, re.M)}
    missing = []
    for path, flags in commands(typer.main.get_command(app)):
        row = rows.get(path)
        if row is None:
            missing.append(f"{path} (no row)")
            continue
        missing += [f"{path} {flag}" for flag in flags if flag not in row]
    assert not missing, f"docs/cli.md's command reference lacks: {', '.join(missing)}"
