"""How coconut and peanut end: a user error is one line (``prog: error: ...``) and its exit status, Ctrl-C is
130, anything else is a bug shown with its traceback only under ``--debug``.

Shared by both command lines; it imports nothing heavy, so ``--help`` stays fast.
"""

from __future__ import annotations

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
    except Exception as exc:
        if debug:
            stderr.write(traceback.format_exc())
        else:
            stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return ExitStatus.FAILED
