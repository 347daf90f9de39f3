"""Entry point of the ``coconut`` command."""

import atexit
import gc
import os
import sys
import threading
from typing import NoReturn

YOUNG_OBJECTS = 100_000  # Python's default: 700


def main() -> None:
    # Plain help and usage errors: typer's rich formatting costs ~90 ms of start-up (target: --help < 250 ms).
    os.environ.setdefault("TYPER_USE_RICH", "0")
    # A command allocates ~10^5 objects at start (imports, gRPC, protobuf) and frees few: the collector's young
    # passes over them were ~10 ms (issue 19). Rarer passes; a core run in-process sets its own (server/core.py).
    gc.set_threshold(YOUNG_OBJECTS)
    from .cli import main as run
    from .run_main import flushed

    leave(flushed(run()))


def leave(status: int) -> NoReturn:
    """Exit with ``status`` once what the command wrote is out, without the interpreter's teardown.

    Freeing every module and object and shutting gRPC down took ~64M instructions (~20 ms) after the output of
    ``env list`` (issue 19). At-exit handlers still run (logging, temporary directories) and the streams are
    flushed; while a thread the exit would wait for runs (not a daemon, as gRPC's are), or with a stream that cannot
    be flushed, the exit is the usual one.
    """
    main_thread = threading.main_thread()
    if not any(thread is not main_thread and not thread.daemon for thread in threading.enumerate()):
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe or stream: Python's own exit reports it as it does
            pass
        else:
            os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    main()
