"""Tables and titled blocks written without rich where rich would write the very same bytes (issue 19).

Importing rich and laying out the 50-row table of ``coconut env list`` with it was ~80 ms of the command's cold
start. For printable ASCII text, on a pipe or on a terminal wide enough for it, rich's output is a few padded
strings and, on a terminal, a style's escape sequence around each styled run: written here directly. Where only
rich knows what it would write -- a wide or control character, a table wider than the terminal, a console made
already (a test's, or one a command printed with), an environment that overrides rich's terminal detection
(``TTY_COMPATIBLE``, ``FORCE_COLOR``, ``COLUMNS``, ``LINES``, IPython), a stream that cannot encode the rule's
line -- these functions return None and the caller renders with rich. tests/coconut/test_plain_render.py
compares both on each kind of stream.

Text is shown literally: a cell's brackets or ``:name:`` are never taken for rich markup or emoji codes; a style
is given by a ``StyledCell``.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple, TextIO

#: the SGR codes of the styles coconut's tables and blocks use (rich writes standard colours alike on every
#: colour system); a style with another word is left to rich
SGR = {"bold": "1", "red": "31", "green": "32", "blue": "34"}
COLOURS = frozenset({"31", "32", "34"})
RESET = "\x1b[0m"
_PRINTABLE = re.compile(r"[ -~]*")
#: what makes rich's terminal detection differ from ``isatty()`` and its size from the terminal's
_RICH_OVERRIDES = ("TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS", "LINES")


class StyledCell(str):
    """A table cell's text whose first ``length`` characters are shown in ``style`` (e.g. ``green``)."""

    style: str
    length: int

    def __new__(cls, text: str, style: str, length: int) -> StyledCell:
        cell = super().__new__(cls, text)
        cell.style = style
        cell.length = length
        return cell


class Stream(NamedTuple):
    """What rich would make of a stream: escape sequences or none, colours or not, the width to fit (a named
    tuple: a dataclass compiles its methods at import, issue 19)."""

    ansi: bool
    no_color: bool
    width: int | None  # None: a pipe (no width to fit)

    def styled(self, text: str, style: str) -> str:
        codes = [SGR[word] for word in style.split()]
        if self.no_color:
            codes = [code for code in codes if code not in COLOURS]
        if not self.ansi or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}{RESET}"


def stream(file: TextIO, *, no_color: bool, made_console: bool) -> Stream | None:
    """How rich would write to ``file``, or None where only rich can tell."""
    environ = os.environ
    encoding = (getattr(file, "encoding", None) or "utf-8").lower()
    if made_console or "get_ipython" in vars(builtins) or not encoding.startswith("utf"):
        return None
    if any(name in environ for name in _RICH_OVERRIDES):
        return None
    isatty = getattr(file, "isatty", None)
    try:
        terminal = bool(isatty and isatty())
    except ValueError:  # a closed stream: rich's own handling
        return None
    if not terminal:
        return Stream(ansi=False, no_color=no_color, width=None)
    if environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return None
    return Stream(ansi=True, no_color=no_color, width=_terminal_width())


def _terminal_width() -> int:
    for descriptor in (0, 1, 2):  # as rich asks
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _plain(texts: Sequence[str]) -> bool:
    return all(_PRINTABLE.fullmatch(text) for text in texts)


def table_width(widths: Sequence[int]) -> int:
    """How wide a SIMPLE-box table of columns this wide is (a space either side of each cell, one between)."""
    return sum(widths) + 3 * len(widths) + 1


def natural_widths(
    columns: Sequence[str], rows: Sequence[Sequence[str]], measure: Callable[[str], int] = len
) -> list[int]:
    """Each column as wide as its widest cell or header: a table as wide as its content."""
    return [max([measure(column), *(measure(str(row[i])) for row in rows)]) for i, column in enumerate(columns)]


#: the narrowest a column of text gets where its longest word does not fit: that word is then folded
NARROWEST_TEXT = 12


def fitted_widths(
    columns: Sequence[str], rows: Sequence[Sequence[str]], limit: int, measure: Callable[[str], int] = len
) -> list[int] | None:
    """Column widths for a table at most ``limit`` wide that cut no id, or None if there are none.

    A column of one-word cells (ids, states, numbers) keeps its width; the widest of those with spaces (times,
    messages) narrow first, wrapped at spaces, each down to its longest word, or if that is too wide, down to
    ``NARROWEST_TEXT``, folding the words longer than that."""
    widths, words, spaced = natural_widths(columns, rows, measure), [], []
    for i, column in enumerate(columns):
        texts = [column, *(str(row[i]) for row in rows)]
        words.append(max(measure(word) for text in texts for word in text.split(" ")))
        spaced.append(any(" " in text for text in texts[1:]))
    for least in (
        [w if s else n for w, s, n in zip(words, spaced, widths, strict=True)],
        [
            min(w, max(NARROWEST_TEXT, measure(c))) if s else n
            for w, s, n, c in zip(words, spaced, widths, columns, strict=True)
        ],
    ):
        if table_width(least) <= limit:
            fitted = list(widths)
            for _ in range(table_width(widths) - limit):
                narrower = [i for i in range(len(fitted)) if fitted[i] > least[i]]
                if not narrower:
                    break
                fitted[max(narrower, key=lambda i: fitted[i])] -= 1
            return fitted
    return None


def table_text(
    out: Stream, columns: Sequence[str], rows: Sequence[Sequence[str]], header_style: str, limit: int | None
) -> str | None:
    """A table with rich's SIMPLE box (header, rule, rows, a blank line above and below), or None; at most
    ``limit`` wide (None: as wide as its content)."""
    if not _plain([*columns, *(cell for row in rows for cell in row)]):
        return None
    if any(word not in SGR for word in header_style.split()) or any(
        isinstance(cell, StyledCell) and cell.style not in SGR for row in rows for cell in row
    ):
        return None
    widths = natural_widths(columns, rows)
    total = table_width(widths)
    if limit is not None and total > limit:
        return None  # rich wraps cells to fit
    pad = out.styled(" ", header_style)
    header = " ".join(pad + out.styled(c.ljust(w), header_style) + pad for c, w in zip(columns, widths, strict=True))
    lines = [" " * total, f" {header} ", f" {'─' * (total - 2)} "]
    for row in rows:
        cells = " ".join(f" {_cell(out, cell, width)} " for cell, width in zip(row, widths, strict=True))
        lines.append(f" {cells} ")
    lines.append(" " * total)
    return "\n".join(lines) + "\n"


def _cell(out: Stream, cell: str, width: int) -> str:
    if not isinstance(cell, StyledCell):
        return cell.ljust(width)
    text = str(cell)
    return out.styled(text[: cell.length], cell.style) + text[cell.length :].ljust(width - cell.length)


def block_text(out: Stream, title: str, lines: Sequence[str]) -> str | None:
    """A bold title over plain lines, as rich prints them (no wrapping), or None."""
    if not _plain([title, *lines]):
        return None
    return "\n".join([out.styled(title, "bold"), *lines]) + "\n"
