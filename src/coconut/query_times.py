"""Numbers (``whole_number``: runs, sequence numbers, limits) and times a journal query accepts (``--since``/``--until``): ``now``, ``today``, ``yesterday``, a relative
time (``1 hour ago``, ``90m ago``, or a bare duration ``30m`` meaning that long ago), or any date dateutil
reads (ISO 8601 and the like; without a zone, local time)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import typer

from ecs_engine.durations import parse_duration
from ecs_engine.errors import UsageError

_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_UNIT_SECONDS |= {"d": 86400, "day": 86400, "w": 604800, "week": 604800}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s+ago$")


def whole_number(what: str, least: int) -> Callable[[str], int]:
    """A parser of ``what`` (a whole number, ``least`` or more) for an option or argument: typer's own check
    of an int answers in pydantic's words ("Input should be a valid integer")."""

    def parse(text: str | int) -> int:  # typer also passes the option's default (an int) through it
        value = str(text).strip()
        if not value.lstrip("-").isdigit() or int(value) < least:
            raise typer.BadParameter(f"expected {what} ({least} or more), got '{text}'")
        return int(value)

    return parse


def parse_time(text: str, option: str, now: datetime.datetime | None = None) -> int:
    """``text`` as Unix ms; a UsageError naming ``option`` and the accepted forms if it is none of them."""
    now = now or datetime.datetime.now().astimezone()
    value = text.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    named = {"now": now, "today": midnight, "yesterday": midnight - datetime.timedelta(days=1)}
    if value in named:
        return _ms(named[value])
    match = _AGO.match(value)
    if match and match.group(2) in _UNIT_SECONDS:
        return _ms(now - datetime.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)]))
    try:
        return _ms(now - datetime.timedelta(seconds=parse_duration(value.removesuffix(" ago"))))
    except ValueError:
        pass
    from dateutil import parser

    try:
        moment = parser.parse(text)
    except (ValueError, OverflowError):
        raise UsageError(
            f"{option}: cannot read '{text}' as a time (expected e.g. 2026-12-06T09:00, '1 hour ago', 30m, today)"
        ) from None
    return _ms(moment if moment.tzinfo else moment.astimezone())


def time_range(since: str | None, until: str | None) -> tuple[int, int]:
    """``--since`` and ``--until`` as Unix ms (0: not given); a UsageError if the range is backwards."""
    since_ms = parse_time(since, "--since") if since else 0
    until_ms = parse_time(until, "--until") if until else 0
    if since_ms and until_ms and since_ms > until_ms:
        raise UsageError(f"--since ({since}) is after --until ({until})")
    return since_ms, until_ms


def _ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)
