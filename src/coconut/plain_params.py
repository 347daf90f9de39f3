"""Command-line values of type str, int, bool and list[str] converted without pydantic (issue 19).

typer 0.29 converts each value given to a parameter through a pydantic TypeAdapter: importing pydantic and
building the adapters was ~85 ms of a command's cold start. A value these types take as it is typed is
converted here; anything else (a malformed int, a parser, another type) goes to typer's own conversion, so
what a user sees on a bad value is typer's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param

_INT = re.compile(r"-?[0-9]+")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(value)


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise ValueError(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError(value)


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {str: _str, int: _int, bool: _bool, list[str]: _str_list}


class _PlainParam(RuntimeParam):
    """Converts a plain value itself, and hands any other to typer's pydantic conversion (not a dataclass as its
    base: that compiles its methods at import, issue 19)."""

    descriptor: TypeDescriptor
    convert: Callable[[Any], Any]

    def __init__(self, descriptor: TypeDescriptor, convert: Callable[[Any], Any]):
        super().__init__(descriptor.parameter_info, descriptor.annotation)
        object.__setattr__(self, "descriptor", descriptor)  # the base is frozen
        object.__setattr__(self, "convert", convert)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return self.convert(value)
        except ValueError:
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _make_plain(param: Any) -> Any:
    descriptor: TypeDescriptor | None = getattr(param, "type_descriptor", None)
    if descriptor is None or param._runtime_param is not None:
        return param
    convert = _CONVERTERS.get(descriptor.annotation)
    if convert and descriptor.parameter_info.parser is None and not descriptor.is_ranged:
        param._runtime_param = _PlainParam(descriptor, convert)
    return param


def _plain_help_option(command: Any) -> None:
    """The help option is made by the command when a command line is parsed: make it plain then."""
    made = command.get_help_option
    command.get_help_option = lambda ctx: made(ctx) and _make_plain(made(ctx))


def plain_params(command: Any) -> Any:
    """Give the str, int, bool and list[str] parameters of ``command`` the plain conversion (each command as
    ``lazy_group.py`` builds it)."""
    for param in command.params:
        _make_plain(param)
    _plain_help_option(command)
    return command
