"""Where peanut's results and notes go: results on stdout (upstream's text, or one JSON object each with
``-o json``), notes and transition progress on stderr."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ecs_engine.occ.client import TransitionResult


@dataclass
class Output:
    stdout: TextIO
    stderr: TextIO
    format: str = "text"

    def result(self, text: str, data: Mapping[str, Any]) -> None:
        self.stdout.write((json.dumps(data) if self.format == "json" else text) + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def progress(self, source: str, event: str, result: TransitionResult | None) -> None:
        if self.format != "text":
            return
        if result is None:
            self.note(f"  fmq-step  {source!r} --{event}-->")
        else:
            self.note(f"            {result.state!r}  ok={str(result.ok).lower()}  trigger={result.trigger}")
