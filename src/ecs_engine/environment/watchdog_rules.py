"""Watchdog definitions: what is watched, the condition, the grace time, the action, and the built-in beam dump.

A watchdog is declared by name in the settings file (top-level ``watchdogs:``) or in the configuration store's
core settings (``components/aliecs/ANY/any/settings``, key ``watchdogs``), the store's beating the file's of the
same name and both beating the built-in ``beam-dump``:

    watchdogs:
      magnet-trip:
        runtime: lab/magnet_current      # watched: a runtime entry COMPONENT/KEY, or
                                         #   event: PAYLOAD.FIELD... (beamModeEvent.beamInfo.beamMode), or
                                         #   task: ROLE-PATH-GLOB (the state, or the status when not ACTIVE)
        when: "< 100"                    # in [A, B] | not in [A, B] | == X | != X | < N | <= N | > N | >= N
        grace: 10s                       # how long the condition holds before the action (default 0s)
        action: stop                     # stop the run (default) | event (only record and announce it)
        user: magnet-watchdog            # who the stop is credited to (default: the watchdog's name; LHC, TIMER:
                                         #   AliECS's special users)
        applies_to: stop_at_magnet_trip  # the environment variable that must be "true" (default: every one)
        resume: true                     # start a new run when the condition clears (default false)
        enabled: true

This module only reads definitions (no I/O); ``watchdogs.py`` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_engine.durations import parse_duration
from ecs_engine.errors import UsageError
from ecs_engine.events.model import special_user
from ecs_engine.globs import compile_glob
from ecs_engine.protocols import common_pb2, events_pb2

SPECIAL_USERS = ("LHC", "TIMER")
SOURCES = ("runtime", "event", "task")
ACTIONS = ("stop", "event")
FIELDS = frozenset((*SOURCES, "when", "grace", "action", "user", "applies_to", "resume", "enabled"))
_CONDITION = re.compile(r"^\s*(not\s+in|in|==|!=|<=|>=|<|>)\s*(.*?)\s*$")
_PAYLOADS = frozenset(f.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["Payload"].fields)


@dataclass(frozen=True)
class Condition:
    """A test of the watched value (text); numeric comparisons fail on a value that is not a number."""

    text: str
    op: str
    operands: tuple[str, ...]

    def holds(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.op in ("in", "not in"):
            return (value in self.operands) == (self.op == "in")
        if self.op in ("==", "!="):
            return (value == self.operands[0]) == (self.op == "==")
        try:
            number, limit = float(value), float(self.operands[0])
        except ValueError:
            return False
        return {"<": number < limit, "<=": number <= limit, ">": number > limit, ">=": number >= limit}[self.op]


def parse_condition(value: Any, where: str) -> Condition:
    """``when:`` as text (``in [A, B]``, ``< 100``...) or as a YAML list (``in`` that list)."""
    if isinstance(value, list):
        operands = tuple(str(v) for v in value)
        return Condition(f"in [{', '.join(operands)}]", "in", operands)
    text = str(value if value is not None else "")
    match = _CONDITION.match(text)
    if not match or not match.group(2):
        raise UsageError(f"{where} when: {text!r}: expected OP VALUE with OP one of in, not in, ==, !=, <, <=, >, >=")
    op, rest = " ".join(match.group(1).split()), match.group(2)
    if op in ("in", "not in"):
        if not (rest.startswith("[") and rest.endswith("]")):
            raise UsageError(f"{where} when: {text!r}: '{op}' takes a list, e.g. {op} [BEAM_DUMP, NO_BEAM]")
        operands = tuple(item.strip().strip("'\"") for item in rest[1:-1].split(",") if item.strip())
    else:
        operands = (rest.strip("'\""),)
        if op not in ("==", "!="):
            try:
                float(operands[0])
            except ValueError:
                raise UsageError(f"{where} when: {text!r}: '{op}' compares with a number") from None
    return Condition(text.strip(), op, operands)


@dataclass(frozen=True)
class WatchdogRule:
    """One watchdog as declared; ``origin`` says where (built-in, settings, configuration store)."""

    name: str
    source: str  # one of SOURCES
    subject: str  # COMPONENT/KEY, PAYLOAD.FIELD..., or a role-path glob
    condition: Condition
    grace: float = 0.0
    action: str = "stop"
    user: str = ""
    applies_to: str = ""
    resume: bool = False
    origin: str = "built-in"

    def user_message(self) -> common_pb2.User:
        """Who the action is credited to: AliECS's special users (LHC 60, TIMER 65) by their id."""
        name = self.user or self.name
        return special_user(name) if name in SPECIAL_USERS else common_pb2.User(name=name)

    def describe(self) -> str:
        return f"{self.source} {self.subject} {self.condition.text}"


#: AliECS's beam-dump auto-stop (integrations.md §1.8) as a watchdog: a beam mode event of a dump stops, as
#: user LHC, every RUNNING environment with stop_at_beam_dump true and no transition in progress
BEAM_DUMP = WatchdogRule(
    name="beam-dump",
    source="event",
    subject="beamModeEvent.beamInfo.beamMode",
    condition=Condition("in [BEAM_DUMP, LOST_BEAMS, NO_BEAM]", "in", ("BEAM_DUMP", "LOST_BEAMS", "NO_BEAM")),
    user="LHC",
    applies_to="stop_at_beam_dump",
)
BUILT_IN = (BEAM_DUMP,)


def _check_subject(source: str, subject: str, where: str) -> None:
    if source == "runtime":
        component, _, key = subject.partition("/")
        if not component or not key:
            raise UsageError(f"{where} runtime: {subject!r}: expected COMPONENT/KEY (as 'coconut config runtime')")
    elif source == "event":
        payload = subject.partition(".")[0]
        if payload not in _PAYLOADS or "." not in subject:
            raise UsageError(
                f"{where} event: {subject!r}: expected PAYLOAD.FIELD, PAYLOAD one of {', '.join(sorted(_PAYLOADS))}"
            )
    else:
        compile_glob(subject, ".")


def parse_rule(name: str, body: Any, origin: str) -> WatchdogRule | None:
    """One definition; None if it says ``enabled: false``; UsageError naming the watchdog and the field."""
    where = f"watchdog {name} ({origin}):"
    if not isinstance(body, Mapping):
        raise UsageError(f"{where} expected a map of {', '.join(sorted(FIELDS))}")
    unknown = sorted(set(map(str, body)) - FIELDS)
    if unknown:
        raise UsageError(f"{where} unknown field '{unknown[0]}' (expected {', '.join(sorted(FIELDS))})")
    if body.get("enabled", True) in (False, "false"):
        return None
    sources = [s for s in SOURCES if s in body]
    if len(sources) != 1:
        raise UsageError(f"{where} expected exactly one of {', '.join(SOURCES)} (what is watched)")
    source, subject = sources[0], str(body[sources[0]]).strip()
    _check_subject(source, subject, where)
    action = str(body.get("action", "stop"))
    if action not in ACTIONS:
        raise UsageError(f"{where} action: {action!r}: expected one of {', '.join(ACTIONS)}")
    try:
        grace = parse_duration(str(body.get("grace", "0s")))
    except ValueError as exc:
        raise UsageError(f"{where} grace: {exc}") from None
    resume = body.get("resume", False)
    if not isinstance(resume, bool):
        raise UsageError(f"{where} resume: expected true or false, got {resume!r}")
    return WatchdogRule(
        name=name,
        source=source,
        subject=subject,
        condition=parse_condition(body.get("when"), where),
        grace=grace,
        action=action,
        user=str(body.get("user") or ""),
        applies_to=str(body.get("applies_to") or ""),
        resume=resume,
        origin=origin,
    )


def parse_rules(values: Any, origin: str) -> dict[str, WatchdogRule | None]:
    """A ``watchdogs:`` map (name -> definition); a name maps to None when the definition disables it."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise UsageError(f"watchdogs ({origin}): expected a map of watchdog names to definitions")
    return {str(name): parse_rule(str(name), body, origin) for name, body in values.items()}


def watchdog_rules(settings_file: Any, store: Any) -> list[WatchdogRule]:
    """The built-in watchdogs, overridden by name by the settings file's, overridden by the store's."""
    rules: dict[str, WatchdogRule | None] = {rule.name: rule for rule in BUILT_IN}
    rules.update(parse_rules(settings_file, "settings"))
    rules.update(parse_rules(store, "configuration store"))
    return [rule for rule in rules.values() if rule is not None]
