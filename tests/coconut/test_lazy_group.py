"""coconut builds only the command it runs, not its whole group (issue 19: typer builds every command of a group;
the ``env`` group's six were ~15M of the ~535M instructions of ``env list``). Help still lists them all
(test_help.py walks every command)."""

from __future__ import annotations

import typer

from .conftest import Runner


def test_a_command_builds_only_itself_of_its_group(coconut: Runner, monkeypatch, capsys):
    monkeypatch.setattr("typer.core.HAS_RICH", False)
    built = []
    build = typer.main.get_command_from_info
    monkeypatch.setattr(
        typer.main,
        "get_command_from_info",
        lambda command_info, **kw: built.append(command_info.name) or build(command_info=command_info, **kw),
    )
    assert coconut("env", "ls", "--help").status == 0
    assert "--show-all" in capsys.readouterr().out
    assert built == ["list"]


def test_the_commands_env_list_and_show_build_have_no_string_annotations():
    """typer evaluates a string annotation (a compile and an eval) each time it builds a command: ~3M
    instructions of ``env list``, whose root options and command are built at each run."""
    from coconut.cli import _global_options
    from coconut.commands import env

    for function in (_global_options, env.list_environments, env.show):
        assert [name for name, value in function.__annotations__.items() if isinstance(value, str)] == []
