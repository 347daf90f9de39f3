"""``coconut events browse``: a full-screen pager over journal events (prompt_toolkit).

Keys: up/down (j/k), PgUp/PgDn, g/G (first/last) scroll; ``/`` searches (``n``: next match); ``f`` filters
(``kind=task env=ID run=N severity=error``, several at once, empty clears); ``r`` jumps to a run's first
event; ``q`` quits. A prompt is confirmed with Enter and cancelled with Ctrl-C or Ctrl-G.
The state (what is shown, where the cursor is) is plain attributes, so tests drive it through a pipe input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.data_structures import Point
from prompt_toolkit.filters import Condition, Filter
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import BeforeInput

from ecs_engine.errors import UsageError

from .event_output import event_text, kind_names

PAGE = 20  # lines PgUp/PgDn move
#: how a line of each level stands out (a task killed by a signal is a warning: as easy to miss otherwise as info)
SEVERITY_STYLES = {"error": "fg:ansired", "warning": "fg:ansiyellow"}
PROMPTS = {"search": "search: ", "filter": "filter (kind= env= run= severity=): ", "run": "jump to run: "}
HELP = "/ search  n next  f filter  r run  g/G ends  q quit"


class EventBrowser:
    """The events, the filter applied to them, the cursor, and the application that shows them."""

    def __init__(self, events: Sequence[Any]):
        self.events = list(events)
        self.lines = [event_text(e) for e in self.events]
        self.shown = list(range(len(self.events)))  # indexes into events that pass the filter
        self.cursor = 0  # a position in shown
        self.filters: dict[str, str] = {}
        self.search = ""
        self.message = ""
        self.asking: str | None = None  # which prompt the input line shows, if any
        self.input = Buffer(multiline=False, accept_handler=self._answer)
        self.app: Application[None] = Application(layout=self._layout(), key_bindings=self._keys(), full_screen=True)

    def run(self) -> None:
        self.app.run()

    # -- what is shown ---------------------------------------------------------------------------------------

    def visible(self) -> list[str]:
        return [self.lines[i] for i in self.shown]

    def selected(self) -> Any | None:
        return self.events[self.shown[self.cursor]] if self.shown else None

    def move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.shown) - 1, self.cursor + delta))

    def apply_filter(self, text: str) -> None:
        """Show only the events matching every ``key=value`` of ``text``; empty shows all."""
        filters = {}
        for word in text.split():
            key, sep, value = word.partition("=")
            if not sep or key not in ("kind", "env", "run", "severity"):
                self.message = f"filter: '{word}' is not kind=, env=, run= or severity="
                return
            if key == "kind":
                try:
                    value = kind_names([value])[0]
                except UsageError as exc:
                    self.message = f"filter: {exc}"
                    return
            filters[key] = value
        current = self.selected()
        self.filters = filters
        self.shown = [i for i, e in enumerate(self.events) if self._passes(e)]
        self.cursor = next((n for n, i in enumerate(self.shown) if self.events[i] is current), 0)
        self.message = f"{len(self.shown)} events" + (f" ({text})" if filters else "")

    def _passes(self, entry: Any) -> bool:
        from ecs_engine.events.model import environment_id_of, kind_of

        facts = {
            "kind": kind_of(entry.event),
            "env": environment_id_of(entry.event),
            "run": str(entry.runNumber),
            "severity": entry.severity,
        }
        return all(facts[key] == value for key, value in self.filters.items())

    def find(self, text: str) -> None:
        """Move to the next line (after the cursor, wrapping) that contains ``text`` (any case)."""
        self.search = text
        needle = text.lower()
        count = len(self.shown)
        for step in range(1, count + 1):
            position = (self.cursor + step) % count
            if needle in self.lines[self.shown[position]].lower():
                self.cursor, self.message = position, ""
                return
        self.message = f"not found: {text}"

    def jump_to_run(self, text: str) -> None:
        if not text.strip().isdigit():
            self.message = f"run: expected a run number, got '{text}'"
            return
        number = int(text)
        position = next((n for n, i in enumerate(self.shown) if self.events[i].runNumber == number), None)
        if position is None:
            self.message = f"run {number}: no events shown (see the filter)"
            return
        self.cursor, self.message = position, f"run {number}"

    # -- the application -------------------------------------------------------------------------------------

    def _page(self) -> StyleAndTextTuples:
        out: StyleAndTextTuples = []
        for n, i in enumerate(self.shown):
            style = "reverse" if n == self.cursor else SEVERITY_STYLES.get(self.events[i].severity, "")
            out.append((style, self.lines[i] + "\n"))
        return out or [("", "no events\n")]

    def _status(self) -> StyleAndTextTuples:
        where = f"{self.cursor + 1 if self.shown else 0}/{len(self.shown)}"
        return [("reverse", f" {where}  {self.message or HELP} ")]

    def _layout(self) -> Layout:
        self.page = Window(
            FormattedTextControl(self._page, focusable=True, get_cursor_position=lambda: Point(0, self.cursor)),
            wrap_lines=False,
        )
        prompt = ConditionalContainer(
            Window(
                BufferControl(self.input, input_processors=[BeforeInput(lambda: PROMPTS.get(self.asking or "", ""))]),
                height=1,
            ),
            filter=Condition(lambda: self.asking is not None),
        )
        return Layout(HSplit([self.page, Window(FormattedTextControl(self._status), height=1), prompt]), self.page)

    def _ask(self, what: str) -> None:
        self.asking = what
        self.app.layout.focus(self.input)

    def _answer(self, buffer: Buffer) -> bool:
        what, text = self.asking, buffer.text
        self._done_asking()
        if what == "search" and text:
            self.find(text)
        elif what == "filter":
            self.apply_filter(text)
        elif what == "run":
            self.jump_to_run(text)
        return False  # the input line is cleared

    def _done_asking(self) -> None:
        self.asking = None
        self.app.layout.focus(self.page)

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()
        browsing = Condition(lambda: self.asking is None)
        asking = ~browsing

        def on(*names: str, when: Filter = browsing):
            return keys.add(*names, filter=when)

        on("q")(lambda e: e.app.exit())
        on("c-c")(lambda e: e.app.exit())
        on("down")(lambda e: self.move(1))
        on("j")(lambda e: self.move(1))
        on("up")(lambda e: self.move(-1))
        on("k")(lambda e: self.move(-1))
        on("pagedown")(lambda e: self.move(PAGE))
        on("pageup")(lambda e: self.move(-PAGE))
        on("g")(lambda e: self.move(-len(self.shown)))
        on("G")(lambda e: self.move(len(self.shown)))
        on("/")(lambda e: self._ask("search"))
        on("f")(lambda e: self._ask("filter"))
        on("r")(lambda e: self._ask("run"))
        on("n")(lambda e: self.find(self.search) if self.search else None)

        @on("c-c", when=asking)
        @on("c-g", when=asking)
        def _cancel(event: KeyPressEvent) -> None:
            self.input.reset()
            self._done_asking()

        return keys
