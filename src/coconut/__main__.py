"""Entry point of the ``coconut`` command."""

import gc
import os
import sys

YOUNG_OBJECTS = 100_000  # Python's default: 700


def main() -> None:
    # Plain help and usage errors: typer's rich formatting costs ~90 ms of start-up (target: --help < 250 ms).
    os.environ.setdefault("TYPER_USE_RICH", "0")
    # A command allocates ~10^5 objects at start (imports, gRPC, protobuf) and frees few: the collector's young
    # passes over them were ~10 ms (issue 19). Rarer passes; a core run in-process sets its own (server/core.py).
    gc.set_threshold(YOUNG_OBJECTS)
    from .cli import main as run

    sys.exit(run())


if __name__ == "__main__":
    main()
