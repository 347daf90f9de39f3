"""Watchdogs at work: each watches a value, and acts on the environments it applies to once its condition has
held for the grace time (definitions: ``watchdog_rules.py``).

A runtime entry is read every ``poll_interval`` (off the loop), as are the tasks' states; an event field is
taken from each event on the bus of that payload. A runtime or task condition acts when it becomes true; an
event condition on every event that satisfies it (AliECS's beam dump: each dump message stops what runs then).
The action goes to every RUNNING environment the watchdog applies to (``applies_to``) with no transition in
progress (a task condition: to that task's environment only): ``stop`` runs STOP_ACTIVITY as the watchdog's
user (a failed stop ends in ERROR, as any automatic transition), ``event`` only says so. With ``resume``, the
environments a watchdog stopped get START_ACTIVITY (a new run) when the condition clears. Every step is kept
in the watchdog's history and announced as a core event (``frameworkEvent``) in the journal.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import HandledError
from ecs_engine.events import model
from ecs_engine.fsm import Event, State
from ecs_engine.globs import compile_glob
from ecs_engine.offload import offload
from ecs_engine.protocols import events_pb2
from ecs_engine.tasks.reports import ACTIVE

from . import restarts
from .watchdog_rules import WatchdogRule

if TYPE_CHECKING:
    from .environment import Environment
    from .manager import EnvironmentManager

log = logging.getLogger(__name__)

#: how often runtime entries and task states are read
POLL_INTERVAL = 0.5
#: the history entries kept per watchdog
HISTORY = 100


def field_text(event: events_pb2.Event, path: str) -> str | None:
    """The text of the field at ``path`` (``beamModeEvent.beamInfo.beamMode``; enums by name), None if absent."""
    message: Any = event
    for part in path.split("."):
        descriptor = message.DESCRIPTOR.fields_by_name.get(part)
        if descriptor is None:
            return None
        value = getattr(message, part)
        if descriptor.message_type is not None:
            message = value
            continue
        if descriptor.enum_type is not None:
            named = descriptor.enum_type.values_by_number.get(value)
            return named.name if named is not None else str(value)
        return str(value)
    return None


@dataclass
class Scope:
    """A watchdog's condition in one scope: "" (a runtime entry, an event) or an environment (its tasks)."""

    value: str | None = None
    holding_since: int = 0  # Unix ms; 0 while the condition does not hold
    timer: asyncio.TimerHandle | None = None
    acted: bool = False
    stopped: dict[str, int] = field(default_factory=dict)  # environment -> the run its action stopped, for resume
    matched: int | None = None  # a task condition: how many of the environment's tasks its pattern matches


@dataclass
class Watchdog:
    rule: WatchdogRule
    scopes: dict[str, Scope] = field(default_factory=dict)
    history: collections.deque[tuple[int, str]] = field(default_factory=lambda: collections.deque(maxlen=HISTORY))

    @property
    def state(self) -> str:
        """``tripped`` (acted, still holding), ``holding`` (within its grace time) or ``clear``."""
        scopes = self.scopes.values()
        if any(s.holding_since and s.acted for s in scopes):
            return "tripped"
        return "holding" if any(s.holding_since for s in scopes) else "clear"


class Watchdogs:
    """The watchdogs of one manager; ``start()`` on its event loop, ``close()`` before the manager's."""

    def __init__(
        self, manager: EnvironmentManager, rules: Iterable[WatchdogRule], poll_interval: float = POLL_INTERVAL
    ):
        self.manager = manager
        self.dogs = {rule.name: Watchdog(rule) for rule in rules}
        self.poll_interval = poll_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: list[Any] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for dog in self.dogs.values():
            if dog.rule.source == "event":
                kind = dog.rule.subject.partition(".")[0]
                on_event = functools.partial(self._on_event, dog)
                self._subscriptions.append(self.manager.bus.subscribe(on_event, kinds=[kind]))
        if any(dog.rule.source in ("runtime", "task") for dog in self.dogs.values()):
            self._spawn(self._poll())

    async def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        for dog in self.dogs.values():
            for scope in dog.scopes.values():
                if scope.timer is not None:
                    scope.timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- observing -----------------------------------------------------------------------------------------

    def _on_event(self, dog: Watchdog, event: events_pb2.Event) -> None:
        """From the bus, in the publisher's thread (a plugin's reader may publish): handled on the loop."""
        value = field_text(event, dog.rule.subject)
        if self._loop is None or value is None:
            return
        if _running_loop() is self._loop:
            self.observe(dog, "", value, each=True)
        else:
            self._loop.call_soon_threadsafe(self.observe, dog, "", value, True)

    async def _poll(self) -> None:
        config = self.manager.config
        failing: set[str] = set()
        while True:
            for dog in self.dogs.values():
                if dog.rule.source == "runtime":
                    component, _, key = dog.rule.subject.partition("/")
                    try:
                        value = await offload(config.runtime_get, component, key)
                    except Exception as exc:  # the store is down: the last value stands
                        if dog.rule.name not in failing:
                            failing.add(dog.rule.name)
                            why = exc.message if isinstance(exc, HandledError) else f"{type(exc).__name__}: {exc}"
                            self._record(dog, f"cannot read runtime {dog.rule.subject}: {why}")
                        continue
                    failing.discard(dog.rule.name)
                    self.observe(dog, "", value)
                elif dog.rule.source == "task":
                    try:
                        self._observe_tasks(dog)
                    except Exception:  # a bug must not end the watching of every other watchdog
                        log.exception("watchdog %s: cannot read the tasks' states", dog.rule.name)
            await asyncio.sleep(self.poll_interval)

    def _observe_tasks(self, dog: Watchdog) -> None:
        pattern = compile_glob(dog.rule.subject, ".")
        for env in list(self.manager.environments.values()):
            values: list[str | None] = [
                task.state if task.status == ACTIVE else task.status
                for task in env.tasks.values()
                if pattern.fullmatch(task.path)
            ]
            held = [v for v in values if dog.rule.condition.holds(v)]
            self.observe(dog, env.id, (held or values or [None])[0])
            dog.scopes[env.id].matched = len(values)
        for gone in set(dog.scopes) - set(self.manager.environments):
            self._clear(dog, dog.scopes.pop(gone), "")

    def observe(self, dog: Watchdog, key: str, value: str | None, each: bool = False) -> None:
        """A new value of ``dog``'s subject in scope ``key``; ``each``: every value that holds acts again."""
        scope = dog.scopes.setdefault(key, Scope())
        scope.value = value
        rule = dog.rule
        where = f" in {key}" if key else ""
        if not rule.condition.holds(value):
            if scope.holding_since:
                self._clear(dog, scope, f"{rule.subject}{where} is {value}: cleared")
            return
        if scope.holding_since and not (each and scope.acted):
            return
        scope.holding_since = scope.holding_since or model.now_ms()
        scope.acted = False
        grace = f", acting after {rule.grace:g}s" if rule.grace else ""
        self._record(dog, f"{rule.subject}{where} is {value} ({rule.condition.text}){grace}")
        if scope.timer is None:
            assert self._loop is not None
            scope.timer = self._loop.call_later(rule.grace, self._act, dog, key)

    def _clear(self, dog: Watchdog, scope: Scope, message: str) -> None:
        if scope.timer is not None:
            scope.timer.cancel()
            scope.timer = None
        resume = scope.stopped if scope.acted and dog.rule.resume else {}
        scope.holding_since, scope.acted, scope.stopped = 0, False, {}
        if message:
            self._record(dog, message + (f"; resuming {', '.join(resume)}" if resume else ""))
        for environment_id, run in resume.items():
            self._spawn(self._resume(dog, environment_id, run))

    # -- acting --------------------------------------------------------------------------------------------

    def _targets(self, dog: Watchdog, key: str) -> list[Environment]:
        """RUNNING environments it applies to with no transition in progress; a task's restart is none (the stop
        waits for it: skipped, a beam dump during a monitor's restart left the run going on)."""
        rule = dog.rule
        envs = [self.manager.environments[key]] if key in self.manager.environments else []
        return [
            env
            for env in (envs if key else list(self.manager.environments.values()))
            if env.state == State.RUNNING
            and (env.busy is None or env.busy[0] == restarts.SLOT)
            and (not rule.applies_to or env.stack().get(rule.applies_to) == "true")
        ]

    def _act(self, dog: Watchdog, key: str) -> None:
        scope = dog.scopes.get(key)
        if scope is None:
            return
        scope.timer = None
        scope.acted = True
        rule = dog.rule
        reason = f"watchdog {rule.name}: {rule.subject} is {scope.value} ({rule.condition.text})"
        targets = self._targets(dog, key)
        for env in targets:
            if rule.action == "stop":
                env.spawn_automatic(Event.STOP_ACTIVITY, reason, user=rule.user_message())
                scope.stopped[env.id] = env.current_run
            else:
                env.env_event(message=reason)
        verb = "stopping" if rule.action == "stop" else "announced to"
        self._record(dog, f"{verb} {', '.join(e.id for e in targets)}" if targets else "no environment to act on")

    async def _resume(self, dog: Watchdog, environment_id: str, run: int) -> None:
        """START_ACTIVITY (a new run) once the stop of ``run`` is over, unless the condition holds again by then, or
        someone ran the environment since (a run started and stopped by hand: that stop is not undone)."""
        env = self.manager.environments.get(environment_id)
        if env is None:
            return
        await env.wait_slot_free()
        if env.state != State.CONFIGURED or any(s.holding_since for s in dog.scopes.values()):
            self._record(dog, f"not resuming {environment_id}: it is {env.state}")
            return
        if env.last_run != run:
            self._record(dog, f"not resuming {environment_id}: run {env.last_run} was started and stopped since")
            return
        env.env_event(message=f"watchdog {dog.rule.name}: condition cleared, starting a new run")
        try:
            await self.manager.control(environment_id, Event.START_ACTIVITY, user=dog.rule.user_message())
        except HandledError as exc:
            self._record(dog, f"resuming {environment_id} failed: {exc.message}")
            return
        self._record(dog, f"resumed {environment_id}: run {env.current_run}")

    def _record(self, dog: Watchdog, message: str) -> None:
        """Keep ``message`` in the history and put it in the journal as a core event."""
        dog.history.append((model.now_ms(), message))
        log.info("watchdog %s: %s", dog.rule.name, message)
        self.manager.bus.publish(
            events_pb2.Event(
                frameworkEvent=events_pb2.Ev_MetaEvent_FrameworkEvent(
                    frameworkId=self.manager.framework_id, message=f"watchdog {dog.rule.name}: {message}"
                )
            )
        )

    # -- reporting -----------------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Each watchdog: its rule, its state, the value per scope and its history (oldest first)."""
        out = []
        for dog in self.dogs.values():
            rule = dog.rule
            out.append(
                {
                    "name": rule.name,
                    "origin": rule.origin,
                    "source": rule.source,
                    "subject": rule.subject,
                    "condition": rule.condition.text,
                    "grace": rule.grace,
                    "action": rule.action,
                    "user": rule.user or rule.name,
                    "applies_to": rule.applies_to,
                    "resume": rule.resume,
                    "state": dog.state,
                    "values": {key: scope.value for key, scope in dog.scopes.items()},
                    "since_ms": min((s.holding_since for s in dog.scopes.values() if s.holding_since), default=0),
                    "history": list(dog.history),
                    "warnings": warnings(dog),
                }
            )
        return out


def warnings(dog: Watchdog) -> list[str]:
    """What keeps ``dog`` from acting that its definition may get wrong: a task pattern matching no task."""
    unmatched = sorted(key for key, scope in dog.scopes.items() if scope.matched == 0)
    if not unmatched:
        return []
    subject = dog.rule.subject
    hint = " ('*' stays within one level of the path, '**' crosses levels)" if "**" not in subject else ""
    return [f"task {subject} matches no task of environment {', '.join(unmatched)}{hint}"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop()
    return None
