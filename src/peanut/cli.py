"""peanut's command line (the process-control commands and the TUI come with the peanut issue)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: peanut [-addr HOST:PORT] [-mode direct|fmq|fmq-step] [-timeout 30s] [-config FILE] [COMMAND ...]

Drive and debug one OCC-controlled (or FairMQ) process.

Without a command peanut opens its terminal UI; with one of
  get-state | transition FROM TO [k=v ...] | direct-step SRC EVENT [k=v ...] |
  fmq-step SRC EVENT [k=v ...] | state-stream | event-stream
it runs that command and exits.
"""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sys.stderr.write("peanut: process control is not available in this version yet\n")
    return 1
