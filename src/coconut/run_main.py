"""How coconut and peanut end: a user error is one line (``prog: error: ...``) and its exit status, Ctrl-C is
130, a reader of the output gone early (``| head``) 141 without a word, anything else is a bug shown with its
traceback only under ``--debug``.

Shared by both command lines; it imports nothing heavy, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import TextIO

from ecs_engine.errors import ExitStatus, HandledError


def run_main(prog: str, program: Callable[[], ExitStatus], stderr: TextIO, *, debug: bool) -> ExitStatus:
    """Run ``program`` and turn whatever it raises into a message on ``stderr`` and an exit status."""
    try:
        return program()
    except HandledError as exc:
        stderr.write(f"{prog}: error: {exc.render()}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        stderr.write(f"{prog}: interrupted\n")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:  # what GNU tools die of (SIGPIPE), quietly: Python ignores the signal and raises this
        return ExitStatus.BROKEN_PIPE
    except Exception as exc:
        if debug:
            stderr.write(traceback.format_exc())
        else:
            stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return ExitStatus.FAILED


def flushed(status: int) -> int:
    """``status`` once the process's stdout is flushed, for the entry points; ``BROKEN_PIPE`` if its reader went
    away, stdout then pointing at /dev/null so that the interpreter's own flush at exit has nothing to report."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.BROKEN_PIPE
    return status
