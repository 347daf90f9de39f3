"""A command group whose subcommands are imported only when one is run, listed or walked (issue 19).

Importing every command module up front cost ~110 ms of each command's cold start. Here the group knows its
commands by name (and alias, and summary) from a table; ``get_command`` imports the one module asked for, and
of that module's group builds only the command asked for. Help and anything that walks ``group.commands`` (the
CLI reference test) still see every command: the mapping builds an entry when its value is read.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from .aliases import AliasGroup, add_group
from .help_text import plain_help
from .plain_params import plain_params


class LazyCommand(NamedTuple):
    """A command of the table: ``target`` is ``module:attribute``, a typer app (a group) or a function (a named
    tuple: a dataclass compiles its methods at import, issue 19)."""

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
    """The click command of ``entry`` as a subcommand of ``group``."""
    target = _imported(entry)
    if isinstance(target, typer.Typer):
        return lazy_group(TyperInfo(target, name=entry.name, help=entry.help), group)
    return typer.main.get_command_from_info(
        command_info=CommandInfo(name=entry.name, callback=target, help=entry.help),
        pretty_exceptions_short=True,  # typer's default (coconut turns pretty exceptions off)
        rich_markup_mode=group.rich_markup_mode,
    )


def lazy_group(info: TyperInfo, parent: TyperGroup) -> TyperGroup:
    """The click group of ``info`` whose commands and subgroups are built when read: typer builds every one
    (the ``env`` group's six were ~14M of the ~530M instructions of ``env list``)."""
    app = info.typer_instance
    assert app is not None
    bare = copy.copy(app)
    bare.registered_commands, bare.registered_groups = [], []
    bare_info = copy.copy(info)
    bare_info.typer_instance = bare
    group = typer.main.get_group_from_info(
        bare_info,
        pretty_exceptions_short=True,
        rich_markup_mode=parent.rich_markup_mode,
        suggest_commands=parent.suggest_commands,
    )
    builders: dict[str, Callable[[], Any]] = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or typer.main.get_command_name(command.callback.__name__)  # as typer names it
        builders[name] = functools.partial(
            typer.main.get_command_from_info,
            command_info=command,
            pretty_exceptions_short=True,
            rich_markup_mode=parent.rich_markup_mode,
        )
    for sub in app.registered_groups:
        builders[str(typer.main.solve_typer_info_defaults(sub).name)] = functools.partial(lazy_group, sub, group)
    group.commands = LazyCommands(builders)
    return group


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, in order; each is built, with plain help and values, when first read."""

    def __init__(self, builders: dict[str, Callable[[], Any]]):
        self._builders = builders
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = plain_params(plain_help(self._builders[name]()))
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if self._builders.pop(name, None) is None and name not in self._built:
            raise KeyError(name)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._builders or name in self._built

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._builders), **self._built})

    def __len__(self) -> int:
        return len({**self._builders, **self._built})


class LazyGroup(AliasGroup):
    """The group of ``lazy_app``: its own options get plain help here, its commands when built."""

    table: dict[str, LazyCommand] = {}

    def __init__(self, **attrs: Any):
        super().__init__(**attrs)
        plain_params(plain_help(self))
        self.commands = LazyCommands(
            {name: functools.partial(build, entry, self) for name, entry in self.table.items()}
        )


def lazy_app(commands: Sequence[LazyCommand], **options: Any) -> typer.Typer:
    """A typer app (help when called without a command) whose ``commands`` are imported when used."""
    table = {entry.name: entry for entry in commands}
    aliases = {alias: entry.name for entry in commands for alias in entry.aliases}
    group_class = type("LazyGroup", (LazyGroup,), {"table": table, "aliases": aliases})
    return typer.Typer(cls=group_class, no_args_is_help=True, **options)
