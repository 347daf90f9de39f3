"""How coconut shows journal events (``events query/follow/browse``): one text line, or a JSON object each."""

from __future__ import annotations

import datetime
from typing import Any

from ecs_engine.errors import UsageError

from .output import message_dict


def kind_names(kinds: list[str] | None) -> list[str]:
    """``--kind`` values as payload names (``task`` or ``taskEvent`` -> ``taskEvent``)."""
    from ecs_engine.protocols import events_pb2

    known = [f.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["Payload"].fields]
    names = []
    for kind in kinds or ():
        name = kind if kind in known else f"{kind}Event"
        if name not in known:
            short = ", ".join(k.removesuffix("Event") for k in known)
            raise UsageError(f"--kind: unknown kind '{kind}' (expected one of {short})")
        names.append(name)
    return names


#: the column names over ``event_text``'s lines, aligned with them (the time: date, clock and zone; the level
#: as wide as the widest severity, ``warning``)
EVENT_HEADER = f"{'seq':>7} {'time':<28} {'environment':<11} {'run':>6} {'level':<7} {'kind':<12} event"


def event_text(entry: Any) -> str:
    """One line: sequence number, local date, time and zone, environment, run, severity, kind and what it says."""
    from ecs_engine.events.model import environment_id_of, to_dict

    from .commands.env import event_line

    clock, said = event_line(to_dict(entry.event)).split(" ", 1)
    moment = datetime.datetime.fromtimestamp(entry.event.timestamp / 1000).astimezone()
    stamp = f"{moment:%Y-%m-%d} {clock} {moment:%Z}"
    env = environment_id_of(entry.event) or "-"
    return f"{entry.seq:>7} {stamp:<28} {env:<11} {entry.runNumber or '-':>6} {entry.severity:<7} {said}"


def event_data(entry: Any) -> dict[str, Any]:
    """One event for ``-o json``: its number, time (ISO), environment, run, severity, kind, the event itself (the
    fields set, in protocol field names)."""
    from ecs_engine.events.model import environment_id_of, kind_of

    moment = datetime.datetime.fromtimestamp(entry.event.timestamp / 1000, datetime.UTC)
    return {
        "seq": entry.seq,
        "time": moment.isoformat(timespec="milliseconds"),
        "environment_id": environment_id_of(entry.event),
        "run_number": entry.runNumber,
        "severity": entry.severity,
        "kind": kind_of(entry.event),
        "event": message_dict(entry.event, defaults=False, proto_names=True),
    }
