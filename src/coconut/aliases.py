"""Command groups whose commands also answer to upstream coconut's short names (``env ls``, ``e c``, ``conf``).

An alias is resolved when the command line is read: it is not listed in help and its command is not built twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import typer
from typer.core import TyperGroup

F = TypeVar("F", bound=Callable[..., Any])


class AliasGroup(TyperGroup):
    """A group that looks a command name up in ``aliases`` first (each group made by ``command_group``
    has its own class, hence its own map)."""

    aliases: ClassVar[dict[str, str]] = {}

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # names only: typer's own builds every command of a lazy group (lazy_group.py)


def command_group(**options: Any) -> typer.Typer:
    """A typer app (help when called without a command) whose commands and subgroups may have aliases."""
    group_class = type("AliasGroup", (AliasGroup,), {"aliases": {}})
    return typer.Typer(cls=group_class, no_args_is_help=True, **options)


def command(group: typer.Typer, name: str, *aliases: str, **options: Any) -> Callable[[F], F]:
    """Register the decorated function as command ``name`` of ``group``, also answering to ``aliases``."""

    def register(func: F) -> F:
        group.command(name, **options)(func)
        _aliases(group).update(dict.fromkeys(aliases, name))
        return func

    return register


def add_group(parent: typer.Typer, group: typer.Typer, name: str, *aliases: str, help: str) -> None:
    """Add ``group`` to ``parent`` as ``name``, also answering to ``aliases``."""
    parent.add_typer(group, name=name, help=help)
    _aliases(parent).update(dict.fromkeys(aliases, name))


def _aliases(group: typer.Typer) -> dict[str, str]:
    group_class = group.info.cls
    if not (isinstance(group_class, type) and issubclass(group_class, AliasGroup)):
        raise TypeError("aliases need a group made by command_group()")
    return group_class.aliases
