"""How every coconut command shows what it did: the ``-o/--output`` option, JSON/YAML for scripts, tables
and variable blocks for people, and a spinner on stderr while a wait lasts.

One place, so every command prints the same way and obeys ``--nocolor`` and ``--nospinner``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import typer

from ecs_engine.errors import UsageError

from .context import CliContext
from .plain_render import Stream, StyledCell, block_text, fitted_widths, natural_widths, stream, table_text, table_width

OUTPUTS = ("text", "json", "yaml")
OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")
SPINNER_DELAY = 0.5  # seconds: a wait shorter than this shows no spinner


def counted(count: int, noun: str, plural: str = "") -> str:
    """``1 task``, ``2 tasks`` (``plural`` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def check_output(output: str, choices: Sequence[str] = OUTPUTS) -> str:
    if output not in choices:
        raise UsageError(f"--output: expected one of {', '.join(choices)}, got '{output}'")
    return output


def print_data(cli: CliContext, data: Any, output: str) -> None:
    """Machine-readable output: ``json`` (2-space indent) or ``yaml``; what JSON cannot hold becomes text."""
    import json  # here, not at the top: ~5M instructions of a command's start that prints text (issue 19)

    if output == "yaml":
        import yaml

        cli.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False))
    else:
        cli.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def message_dict(message: Any, *, defaults: bool = True, proto_names: bool = False) -> dict[str, Any]:
    """A protobuf message as the JSON object gRPC clients see (default values too unless not ``defaults``; protocol
    field names with ``proto_names``), but with its 64-bit integers as numbers: protobuf's mapping writes them as
    strings (for JavaScript), which scripts reading ``-o json|yaml`` should not have to undo. Every message a
    command prints goes through here, so none can forget."""
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(
        message, always_print_fields_with_no_presence=defaults, preserving_proto_field_name=proto_names
    )
    return _numbers(message, data)


def _numbers(message: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data``, protobuf's JSON mapping of ``message``, with its 64-bit integers as numbers again and its maps'
    keys sorted (a map's order changes from one answer to the next, so the same state printed twice would differ)."""
    from google.protobuf.descriptor import FieldDescriptor

    for field in message.DESCRIPTOR.fields:
        key = field.json_name if field.json_name in data else field.name
        if key not in data:
            continue
        repeated = field.is_repeated
        if field.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
            data[key] = [int(v) for v in data[key]] if repeated else int(data[key])
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            data[key] = dict(sorted(data[key].items()))
        elif field.message_type is not None and not field.message_type.full_name.startswith("google.protobuf."):
            value = getattr(message, field.name)  # (well-known types have JSON forms of their own)
            data[key] = (
                [_numbers(m, d) for m, d in zip(value, data[key], strict=True)]
                if repeated
                else _numbers(value, data[key])
            )
    return data


#: colours of the states an operator must see at a glance (rich markup; ``--nocolor`` drops them)
STATE_COLOURS = {"RUNNING": "green", "ERROR": "red"}


def state_cell(state: str, transition: str = "") -> str:
    """A state for a table: coloured if it matters, marked while a transition is changing it."""
    text = f"{state} ({transition}...)" if transition else state
    colour = STATE_COLOURS.get(state)
    return StyledCell(text, colour, len(state)) if colour else text


HEADER_STYLE = "bold blue"
PIPE_WIDTH = 250  # in a pipe there is no width to fit: rows as wide as their content, up to this


def _stream(cli: CliContext) -> Stream | None:
    return stream(cli.stdout, no_color=cli.color is False, made_console="console" in cli.__dict__)


def table(cli: CliContext, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table (cells shown literally; a ``StyledCell`` styled), written directly where rich would write the same.

    Wider than the terminal (or ``PIPE_WIDTH`` in a pipe), cells with spaces wrap at them and a word is never cut
    (an id or a state folded over lines can be neither read nor copied); where even that does not fit, the rows
    are as wide as their content and the terminal wraps them."""
    out = _stream(cli)
    terminal = out.width is not None if out else cli.console.is_terminal
    limit = (out.width or 0 if out else cli.console.width) if terminal else PIPE_WIDTH
    text = out and table_text(out, columns, rows, HEADER_STYLE, limit)
    if text:
        cli.stdout.write(text)
        return
    from rich.box import SIMPLE
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    widths = fitted_widths(columns, rows, limit, cell_len)
    if widths is None:  # as wide as the content
        text = out and table_text(out, columns, rows, HEADER_STYLE, None)
        if text:
            cli.stdout.write(text)
            return
    grid = Table(box=SIMPLE, header_style=HEADER_STYLE)
    for i, column in enumerate(columns):
        grid.add_column(column, width=widths[i] if widths else None, overflow="fold")
    for row in rows:
        grid.add_row(*(_rich_text(cell) for cell in row))
    width = limit if widths else table_width(natural_widths(columns, rows, cell_len))
    console = cli.console
    if width != console.width:
        console = Console(
            file=cli.stdout, width=width, force_terminal=terminal, no_color=cli.color is False, highlight=False
        )
    console.print(grid)


def heading(cli: CliContext, text: str) -> None:
    """A header and its rule, styled as a table's, over fixed-width lines printed as they come (a table would
    lay out every row first)."""
    rule = "─" * len(text)
    out = _stream(cli)
    if out:
        cli.stdout.write(f"{out.styled(text, HEADER_STYLE)}\n{rule}\n")
        return
    from rich.text import Text

    cli.console.print(Text(text, style=HEADER_STYLE))
    cli.console.print(Text(rule))


def _rich_text(cell: str) -> Any:
    from rich.text import Text

    text = Text(str(cell))
    if isinstance(cell, StyledCell):
        text.stylize(cell.style, 0, cell.length)
    return text


def vars_block(cli: CliContext, title: str, values: Mapping[str, str]) -> None:
    """A titled block of ``key  value`` lines, keys sorted; nothing at all when there are no values."""
    if not values:
        return
    width = max(len(k) for k in values)
    lines = [f"  {key:<{width}}  {values[key]}" for key in sorted(values)]
    out = _stream(cli)
    text = out and block_text(out, title, lines)
    if text:
        cli.stdout.write(text)
        return
    from rich.text import Text

    cli.console.print(Text(title, style="bold"))
    for line in lines:
        cli.console.print(Text(line))


@contextlib.contextmanager
def spinner(cli: CliContext, text: str) -> Iterator[None]:
    """A spinner on stderr once the wait has lasted ``SPINNER_DELAY``; never with ``--nospinner`` or
    when stderr is not a terminal."""
    console = cli.err_console
    if not cli.spinner or not console.is_terminal:
        yield
        return
    status = console.status(text)
    lock = threading.Lock()
    finished = False

    def begin() -> None:
        with lock:
            if not finished:
                status.start()

    timer = threading.Timer(SPINNER_DELAY, begin)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            finished = True
            status.stop()


def print_entries(cli: CliContext, data: Any, output: str) -> None:
    """Configuration store entries: text lines (``key: value`` for a map), or serialised as ``config dump``
    does (JSON with 4-space indent, unicode kept; YAML)."""
    from ecs_engine.config.tree import serialize

    if output == "text":
        items = data.items() if isinstance(data, dict) else ((item, None) for item in data)
        for key, value in items:
            cli.echo(key if value is None else f"{key}: {value}")
    else:
        cli.stdout.write(serialize(data, output))
