"""peanut's top level: ``main()`` owns errors and exit codes, ``program()`` picks the TUI, ``exec`` or a command.

Only argparse is imported at start-up so that ``peanut --help`` stays fast; the rest loads per command.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from coconut.run_main import run_main
from ecs_engine.errors import ExitStatus

from .parser import parse

if TYPE_CHECKING:
    from .tui import TuiIO


def program(
    argv: Sequence[str], stdout: TextIO, stderr: TextIO, environ: Mapping[str, str], tui: TuiIO | None = None
) -> ExitStatus:
    """Run one command line; raises HandledError for user errors. ``tui`` overrides the TUI's input/output (tests)."""
    try:
        options = parse(argv, stdout)
    except SystemExit as exc:  # --help has been printed (argument errors raise UsageError instead)
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.USAGE

    from .inputs import DEFAULT_ADDRESS, default_address, load_config, parse_address, parse_duration

    timeout = parse_duration(options.timeout)
    config = load_config(options.config) if options.config else {}
    if options.command is None:
        from .tui import run_tui

        address = parse_address(options.addr) if options.addr else default_address(environ, tui=True)
        return run_tui(address, options.mode or "direct", timeout, config=config, config_path=options.config, io=tui)

    from .output import Output

    out = Output(stdout, stderr, options.output)
    if options.command == "exec":
        from .execute import run_exec

        return run_exec(options, out, config, timeout, tui=tui)

    import asyncio

    from .commands import run_command
    from .control import ProcessControl

    control = ProcessControl(parse_address(options.addr or DEFAULT_ADDRESS), options.mode or "fmq", timeout=timeout)
    return asyncio.run(run_command(control, options, out, config))


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    tui: TuiIO | None = None,
) -> int:
    """Run peanut; return the exit status. Handled errors are one message on stderr, never a traceback."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    variables = os.environ if environ is None else environ
    return run_main("peanut", lambda: program(args, out, err, variables, tui), err, debug="--debug" in args)
