"""peanut's terminal UI: one process's state, its transitions as keys, its events as a log.

A prompt_toolkit full-screen application. The state is polled with GetState (every 2 s) and followed through
the process's streams (StateStream and EventStream in direct mode, EventStream over OCClite), each opened once
per connection; an unreachable process is polled too, and connected to again once it answers. Keys: CONFIGURE
c, RESET r, START s (runNumber = MMDDhhmmss), STOP t, RECOVER v, EXIT x; in fmq-step mode 1..0 are the FairMQ
steps; n reconnects, l loads a configuration file (pushed with the next CONFIGURE), q quits without any
transition. A key whose transition is not possible in the current state, or before the connection is up,
does nothing but say so.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.completion import CompleteEvent, PathCompleter, get_common_complete_suffix
from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import (
    ConditionalContainer,
    Dimension,
    Float,
    FloatContainer,
    FormattedTextControl,
    HSplit,
    Layout,
    VSplit,
    Window,
)
from prompt_toolkit.styles import Style
from prompt_toolkit.widgets import Frame, TextArea

from ecs_engine.errors import DeadlineError, ExitStatus, HandledError, RefusedError, UsageError
from ecs_engine.occ import fairmq, states
from ecs_engine.occ.errors import DIRECT, WrongModeError, seconds

from .control import FMQ_STEP, ProcessControl, StateView
from .inputs import load_config

CONNECTING = "CONNECTING"
CONNECTED = "CONNECTED"
UNREACHABLE = "UNREACHABLE"
WRONG_MODE = "WRONG MODE"
ENDED = "ENDED"  # the process reached DONE/EXITING

OCC_KEYS = (
    ("c", states.CONFIGURE),
    ("r", states.RESET),
    ("s", states.START),
    ("t", states.STOP),
    ("v", states.RECOVER),
    ("x", states.EXIT),
)
STEP_KEYS = tuple(zip("1234567890", fairmq.STEP_EVENTS, strict=True))
LOG_LINES = 8

STYLE = Style.from_dict(
    {
        "title": "reverse",
        "state": "bold ansigreen",
        "state.bad": "bold ansired",
        "disabled": "ansibrightblack",
        "key": "bold",
        "modal": "bg:ansiblue ansiwhite",
    }
)


@dataclass
class TuiIO:
    """Where the TUI reads keys and draws (tests pass a pipe input and a dummy output)."""

    input: Any = None
    output: Any = None
    poll_interval: float = 2.0


class PeanutTUI:
    def __init__(
        self,
        address: str,
        mode: str,
        timeout: float,
        *,
        config: dict[str, str] | None = None,
        config_path: str | None = None,
        io: TuiIO | None = None,
        last_words: Callable[[ExitStatus], Awaitable[str]] | None = None,
    ):
        """``last_words``: the process's last output for a step that failed with that status (exec knows it)."""
        io = io or TuiIO()
        self.last_words = last_words
        self.address, self.mode, self.timeout = address, mode, timeout
        self.poll_interval = io.poll_interval
        self.control = ProcessControl(address, mode, timeout=timeout)
        self.status = CONNECTING
        self.view: StateView | None = None
        self.busy: str | None = None
        self.config = dict(config or {})
        self.config_path = config_path
        self.config_state = "NOT PUSHED" if self.config else "EMPTY"
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self.modal: str | None = None  # "error" or "load"
        self.modal_text = ""
        self.modal_reconnects = True  # the dialog is about the connection (not a file), so n is offered
        self._stream_tasks: list[asyncio.Task] = []
        self._reconnecting = asyncio.Lock()
        self.keys = STEP_KEYS if mode == FMQ_STEP else OCC_KEYS
        self._path_completer = PathCompleter(expanduser=True)
        self.path_input = TextArea(multiline=False, height=1)
        self.path_candidates = ""
        self.app: Application[ExitStatus] = Application(
            layout=self._layout(),
            key_bindings=self._bindings(),
            style=STYLE,
            full_screen=True,
            input=io.input,
            output=io.output,
        )

    # -- what is shown --

    def _title(self):
        return [("class:title", f" peanut  {self.address}  mode {self.mode} ".ljust(200))]

    def _state_text(self):
        view = self.view
        if view is None or self.status not in (CONNECTED, ENDED):
            suffix = ""
            if self.status == WRONG_MODE and self.modal_text:
                suffix = "\n" + self.modal_text.splitlines()[-1]
            return [("class:state.bad", f" {self.status}"), ("", suffix)]
        style = "class:state.bad" if view.shown in (states.ERROR,) else "class:state"
        lines = [(style, f" {view.shown}"), ("", f"\n {'STABLE' if view.stable else 'INTERMEDIATE'}")]
        if self.mode != DIRECT and view.raw != view.shown:
            lines.append(("", f"  ({view.raw})"))
        detail = f"\n {self.busy}..." if self.busy else f"\n pid {view.pid}" if view.pid else ""
        if self.status == ENDED:
            detail = "\n process ended"
        lines.append(("", detail))
        return lines

    def allowed(self, event: str) -> bool:
        if self.status != CONNECTED or self.busy or self.view is None:
            return False
        raw = self.view.raw
        if self.mode == DIRECT:
            return event in states.allowed_events(raw)
        if self.mode == FMQ_STEP:
            return event in fairmq.allowed_events(raw)
        return fairmq.steps_for(event, raw) is not None

    def _controls_text(self):
        fragments = []
        for i, (key, event) in enumerate(self.keys):
            allowed = self.allowed(event)
            fragments += [
                ("", "\n" if i else ""),
                ("class:key" if allowed else "class:disabled", f" [{key}] "),
                ("" if allowed else "class:disabled", event),
            ]
        return fragments

    def _help_bar(self):
        return [
            ("class:key", " [n] "),
            ("", "reconnect   "),
            ("class:key", "[l] "),
            ("", "load configuration   "),
            ("class:key", "[q] "),
            ("", "quit"),
        ]

    def _config_title(self):
        return f"runtime configuration ({self.config_state})"

    def _config_text(self):
        if not self.config:
            return " press l to load a YAML or JSON file"
        lines = [f" {key}={value}" for key, value in sorted(self.config.items())]
        info = self.config_window.render_info
        if info is not None and len(lines) > info.window_height:
            shown = max(info.window_height - 1, 0)
            lines = [*lines[:shown], f" ... and {len(lines) - shown} more"]
        return "\n".join(lines)

    def _log_text(self):
        info = self.log_window.render_info
        lines = info.window_height if info is not None else LOG_LINES
        return "\n".join(list(self.log)[-lines:])

    def _modal_text(self):
        keys = "[Enter] close   [n] reconnect   [q] quit" if self.modal_reconnects else "[Enter] close   [q] quit"
        return f"{self.modal_text}\n\n{keys}"

    def _layout(self) -> Layout:
        rows = len(self.keys)
        self.controls_window = Window(
            FormattedTextControl(self._controls_text, focusable=True),
            height=Dimension(min=rows, preferred=rows),
            wrap_lines=False,
        )
        self.log_window = Window(FormattedTextControl(self._log_text), height=Dimension(min=2, weight=1))
        left = HSplit(
            [
                Frame(Window(FormattedTextControl(self._state_text), height=3), title="state"),
                Frame(self.controls_window, title="control"),
            ],
            width=Dimension(preferred=28, max=32),
        )
        self.config_window = Window(FormattedTextControl(self._config_text), wrap_lines=False)
        right = Frame(self.config_window, title=self._config_title)
        body = HSplit(
            [
                Window(FormattedTextControl(self._title), height=1),
                VSplit([left, right], height=Dimension(min=len(self.keys) + 7, max=len(self.keys) + 7)),
                Frame(self.log_window, title="events"),
                Window(FormattedTextControl(self._help_bar), height=1),
            ]
        )
        load_dialog = Frame(
            HSplit(
                [
                    self.path_input,
                    Window(FormattedTextControl(lambda: self.path_candidates), height=1),
                    Window(FormattedTextControl(" [Tab] complete  [Enter] load  [Esc] cancel"), height=1),
                ]
            ),
            title="file path for runtime configuration",
            width=60,
            style="class:modal",
        )
        error_dialog = Frame(
            Window(FormattedTextControl(self._modal_text), wrap_lines=True),
            title="peanut",
            width=64,
            style="class:modal",
        )
        floats = [
            Float(ConditionalContainer(load_dialog, filter=Condition(lambda: self.modal == "load"))),
            Float(ConditionalContainer(error_dialog, filter=Condition(lambda: self.modal == "error"))),
        ]
        return Layout(FloatContainer(body, floats=floats), focused_element=self.controls_window)

    # -- keys --

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        free = Condition(lambda: self.modal is None)
        error = Condition(lambda: self.modal == "error")
        loading = Condition(lambda: self.modal == "load")
        not_loading = Condition(lambda: self.modal != "load")

        for key, event in self.keys:
            kb.add(key, filter=free)(lambda _, event=event: self.request(event))

        @kb.add("q", filter=not_loading)
        def _quit(_):
            self.app.exit(result=ExitStatus.OK)

        @kb.add("n", filter=not_loading)
        def _reconnect(_):
            self.modal = None
            self.app.create_background_task(self.reconnect())

        @kb.add("l", filter=free)
        def _load(_):
            self.modal = "load"
            self.path_input.text = ""  # pre-filled, a new absolute path typed over it would be appended to it
            self.path_candidates = f" Enter alone reloads {self.config_path}" if self.config_path else ""
            self.app.layout.focus(self.path_input)

        @kb.add("enter", filter=error)
        @kb.add("escape", filter=error)
        def _close(_):
            self.modal = None

        @kb.add("escape", filter=loading)
        def _cancel(_):
            self._close_load()

        @kb.add("enter", filter=loading)
        def _accept(_):
            path = self.path_input.text.strip()
            self._close_load()
            self.load(path)

        @kb.add("tab", filter=loading)
        def _complete(_):
            self.complete_path()

        return kb

    def complete_path(self) -> None:
        """Tab: complete the path as far as it is unambiguous, and list the candidates if several remain."""
        buffer = self.path_input.buffer
        event = CompleteEvent(completion_requested=True)
        candidates = list(self._path_completer.get_completions(buffer.document, event))
        if len(candidates) == 1:
            buffer.apply_completion(candidates[0])
            self.path_candidates = ""
        elif candidates:
            buffer.insert_text(get_common_complete_suffix(buffer.document, candidates))
            self.path_candidates = "  ".join(c.display_text for c in candidates[:8])

    def _close_load(self) -> None:
        self.modal = None
        self.app.layout.focus(self.controls_window)

    # -- actions --

    def say(self, text: str) -> None:
        """Every line of ``text``, the first with the time: an error's reason is often on a later line."""
        first, *more = text.splitlines() or [""]
        self.log.append(f"{datetime.datetime.now():%H:%M:%S} {first}")
        self.log.extend(f"         {line}" for line in more)
        self.app.invalidate()

    def error(self, text: str, *, reconnects: bool = True) -> None:
        self.modal, self.modal_text, self.modal_reconnects = "error", text, reconnects
        self.say(text)

    def load(self, path: str) -> None:
        path = path or self.config_path or ""
        if not path:
            self.error("Cannot open configuration file: path empty", reconnects=False)
            return
        try:
            self.config = load_config(path)
        except HandledError as exc:
            self.error(f"Cannot load configuration file:\n{exc.render()}", reconnects=False)
            return
        self.config_path, self.config_state = path, "NOT PUSHED"
        self.say(f"loaded {len(self.config)} entries from {path} (pushed with the next CONFIGURE)")

    def request(self, event: str) -> None:
        view = self.view
        if view is None or not self.allowed(event):
            why = (
                "not connected"
                if self.status != CONNECTED or view is None
                else "busy"
                if self.busy
                else f"in {view.raw}"
            )
            self.say(f"{event} not possible: {why}")
            return
        self.busy = event
        self.app.create_background_task(self._transition(event, view))

    def _arguments(self, event: str) -> dict[str, str]:
        if event in (states.CONFIGURE, fairmq.INIT_DEVICE):
            return dict(self.config)
        if event in (states.START, fairmq.RUN):
            return {"runNumber": f"{datetime.datetime.now():%m%d%H%M%S}"}
        return {}

    async def _transition(self, event: str, view: StateView) -> None:
        """``event`` from ``view``, the state it was allowed in."""
        arguments = self._arguments(event)
        try:
            if self.mode == FMQ_STEP:
                outcome = await self.control.fmq_step(view.raw, event, arguments)
            else:
                outcome = await self.control.occ_transition(
                    view.shown, event, arguments, progress=self._progress, say=self.say
                )
            self.view = self.control.view(outcome.raw_state, view.pid)
            verdict = "ok" if outcome.ok else f"not ok, trigger {outcome.trigger}"
            words = await self._why(ExitStatus.FAILED) if outcome.failed else ""
            self.say(f"{event} -> {outcome.raw_state} ({verdict}){words}")
            if outcome.ok and event in (states.CONFIGURE, fairmq.INIT_DEVICE) and self.config:
                self.config_state = "PUSHED"
            if outcome.raw_state in (states.DONE, fairmq.EXITING):
                self.status = ENDED
        except RefusedError as exc:
            self.say(f"{event} refused: {exc.message}")
            await self.refresh()
        except DeadlineError:  # the process is there and may still do it: not a lost connection
            self.say(f"{event}: no answer within {seconds(self.timeout)} s (-timeout); it may still happen")
            await self.refresh()
        except (HandledError, UsageError) as exc:
            self._lost(exc)
            if words := await self._why(exc.exit_status):
                self.say(f"{event} did not complete{words}")
        finally:
            self.busy = None
            self.app.invalidate()

    async def _why(self, status: ExitStatus) -> str:
        return await self.last_words(status) if self.last_words else ""

    def _progress(self, source: str, event: str, result) -> None:
        if result is not None and self.mode != DIRECT:
            self.say(f"  {event}: {source} -> {result.state}")

    def _lost(self, exc: HandledError) -> None:
        if isinstance(exc, WrongModeError):
            self.status = WRONG_MODE
            self.error(
                f"The process at {self.address} speaks another protocol.\n"
                f"Restart peanut with -mode {exc.suggested_mode}"
            )
        else:
            self.status = UNREACHABLE
            self.error(f"{self.address} is unreachable:\n{exc.message}")

    async def refresh(self) -> bool:
        """One GetState; updates the view or the connection status."""
        try:
            self.view = await self.control.state(timeout=min(self.timeout, 5.0))
        except HandledError as exc:
            if self.status in (CONNECTED, CONNECTING):
                self._lost(exc)
            return False
        if self.status != CONNECTED:
            self.status = CONNECTED
            self.say(f"connected to {self.address}: {self.view.raw}")
        self.app.invalidate()
        return True

    async def reconnect(self) -> None:
        """Keep a live connection and its streams; otherwise start over with a new one. One at a time: n may be
        pressed as a poll finds the process back."""
        async with self._reconnecting:
            await self._reconnect()

    async def _reconnect(self) -> None:
        if self.status == CONNECTED and all(not t.done() for t in self._stream_tasks) and await self.refresh():
            self.say("still connected")
            return
        for task in self._stream_tasks:
            task.cancel()
        self._stream_tasks.clear()
        await self.control.close()
        self.control = ProcessControl(self.address, self.mode, timeout=self.timeout)
        await self.connect()

    async def connect(self) -> None:
        self.status, self.view = CONNECTING, None
        self.say(f"connecting to {self.address} ({self.mode})")
        if await self.refresh():
            self._open_streams()

    def _open_streams(self) -> None:
        client = self.control.client()
        streams: list[tuple[str, AsyncIterator[Any]]] = [("EventStream", client.event_stream())]
        if self.mode == DIRECT:
            streams.insert(0, ("StateStream", client.state_stream()))
        for name, messages in streams:
            self._stream_tasks.append(self.app.create_background_task(self._follow(name, messages)))

    async def _follow(self, name: str, messages: AsyncIterator[Any]) -> None:
        try:
            async for message in messages:
                if name == "StateStream":
                    self.say(f"{name}: {message.state} ({message.type})")
                    if self.view is not None and not self.busy:
                        self.view = self.control.view(message.state, self.view.pid)
                else:
                    self.say(f"{name}: {message}")
            self.say(f"{name} ended")
        except HandledError as exc:
            self.say(f"{name} ended: {exc.message}")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            if self.status == CONNECTED and not self.busy:
                await self.refresh()
            elif self.status == UNREACHABLE:
                await self._look_again()

    async def _look_again(self) -> None:
        """An unreachable process is asked again at each poll, quietly (the dialog said it once): one restarted on
        its port is connected to anew, streams included, as n would."""
        try:
            view = await self.control.state(timeout=min(self.timeout, 5.0))
        except HandledError:
            return
        if self.status != UNREACHABLE:  # n reconnected meanwhile
            return
        self.say(f"{self.address} answers again (pid {view.pid})")
        if self.modal == "error" and self.modal_reconnects:
            self.modal = None
        await self.reconnect()

    def _start(self) -> None:
        self.app.create_background_task(self.connect())
        self.app.create_background_task(self._poll())

    async def run(self) -> ExitStatus:
        try:
            return await self.app.run_async(pre_run=self._start)
        finally:
            for task in self._stream_tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await self.control.close()


def require_terminal(io: TuiIO | None) -> None:
    """Without a terminal prompt_toolkit only warns and then fails on EOF; say what to do instead."""
    if io is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the TUI needs a terminal; give a command (see peanut --help)")


def run_tui(
    address: str,
    mode: str,
    timeout: float,
    *,
    config: dict[str, str] | None = None,
    config_path: str | None = None,
    io: TuiIO | None = None,
) -> ExitStatus:
    require_terminal(io)
    tui = PeanutTUI(address, mode, timeout, config=config, config_path=config_path, io=io)
    return asyncio.run(tui.run())
