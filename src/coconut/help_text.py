"""Help in the user's words: values are named (ENDPOINT, ID), never Python types (``<str>``, ``<list[str]>``).

typer 0.29 labels every value with its annotation and puts required arguments in braces; ``plain_help`` gives
each parameter of a built command click's classic form, and the command its whole first sentence (each command
as ``lazy_group.py`` builds it).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption


class _NamedArgument(TyperArgument):
    """An argument shown by its name: ``ID``, ``[PATHS]...``; a metavar given by the command is used verbatim."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        if self.metavar:
            return self.metavar
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


class _NamedOption(TyperOption):
    """An option whose value is shown by its name: ``--endpoint ENDPOINT``."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag or super().display_type_rich(ctx) is None:
            return None
        return (self.name or "").upper()


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return paragraph.split("\b")[0].strip()


def plain_help(command: Any) -> Any:
    """Give ``command`` plain help; returns ``command``."""
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = _NamedArgument
        elif type(param) is TyperOption:
            param.__class__ = _NamedOption
    if command.help and not command.short_help:
        command.short_help = _first_sentence(command.help)
    return command
