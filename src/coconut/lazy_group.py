"""A command group whose subcommands are imported only when one is run, listed or walked (issue 19).

Importing every command module up front cost ~110 ms of each command's cold start. Here the group knows its
commands by name (and alias, and summary) from a table; ``get_command`` imports the one module asked for.
Help and anything that walks ``group.commands`` (the CLI reference test) still see every command: the
mapping loads an entry when its value is read.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from .aliases import AliasGroup, add_group
from .help_text import plain_help
from .plain_params import plain_params


@dataclass(frozen=True)
class LazyCommand:
    """A command of the table: ``target`` is ``module:attribute``, a typer app (a group) or a function."""

    name: str
    target: str
    help: str
    aliases: tuple[str, ...] = ()
    subgroups: tuple[LazyCommand, ...] = ()  # added to the target app when it is imported


@functools.cache
def _imported(entry: LazyCommand) -> Any:
    module, attribute = entry.target.split(":")
    target = getattr(importlib.import_module(module), attribute)
    for sub in entry.subgroups:
        add_group(target, _imported(sub), sub.name, *sub.aliases, help=sub.help)
    return target


def build(entry: LazyCommand, group: TyperGroup) -> Any:
    """The click command of ``entry``, with plain help and pydantic-free values, as a subcommand of ``group``."""
    target = _imported(entry)
    command: Any  # pretty_exceptions_short below: typer's default (coconut turns pretty exceptions off)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group_from_info(
            TyperInfo(target, name=entry.name, help=entry.help),
            pretty_exceptions_short=True,
            rich_markup_mode=group.rich_markup_mode,
            suggest_commands=group.suggest_commands,
        )
    else:
        command = typer.main.get_command_from_info(
            CommandInfo(name=entry.name, callback=target, help=entry.help),
            pretty_exceptions_short=True,
            rich_markup_mode=group.rich_markup_mode,
        )
    return plain_params(plain_help(command))


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, in the table's order; an entry of the table is built when first read."""

    def __init__(self, group: LazyGroup, table: dict[str, LazyCommand]):
        self._group = group
        self._table = table
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = build(self._table[name], self._group)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if self._table.pop(name, None) is None and name not in self._built:
            raise KeyError(name)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._built

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._table), **self._built})

    def __len__(self) -> int:
        return len({**self._table, **self._built})


class LazyGroup(AliasGroup):
    """The group of ``lazy_app``: its own options get plain help here, its commands when built."""

    table: dict[str, LazyCommand] = {}

    def __init__(self, **attrs: Any):
        super().__init__(**attrs)
        plain_params(plain_help(self))
        self.commands = LazyCommands(self, dict(self.table))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # names only: typer's own reads every command


def lazy_app(commands: Sequence[LazyCommand], **options: Any) -> typer.Typer:
    """A typer app (help when called without a command) whose ``commands`` are imported when used."""
    table = {entry.name: entry for entry in commands}
    aliases = {alias: entry.name for entry in commands for alias in entry.aliases}
    group_class = type("LazyGroup", (LazyGroup,), {"table": table, "aliases": aliases})
    return typer.Typer(cls=group_class, no_args_is_help=True, **options)
