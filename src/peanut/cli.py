"""peanut's command line: Go-style flags as upstream (``-addr``, ``-mode``, ``-timeout``, ``-config``), then a
command (CLI mode), ``exec`` (launch a process and control it), or nothing (the TUI).

Only argparse is imported at start-up so that ``peanut --help`` stays fast; the rest loads per command.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ecs_engine.errors import ExitStatus, HandledError, UsageError

DESCRIPTION = "Drive and debug one OCC-controlled process or FairMQ device."
EPILOG = """\
Without a command peanut opens its terminal UI (-addr defaults to localhost:$OCC_CONTROL_PORT there).

modes (-mode):
  direct    OCC protobuf, for OCClib processes (the TUI's default)
  fmq       FairMQ OCClite JSON codec; each OCC transition is driven as its FairMQ sequence (CLI default)
  fmq-step  FairMQ OCClite JSON codec; one FairMQ step at a time, raw FairMQ states

TUI keys: c CONFIGURE, r RESET, s START (runNumber=MMDDhhmmss), t STOP, v RECOVER, x EXIT,
  1-0 INIT DEVICE .. END (fmq-step), n reconnect, l load configuration, q quit (no transition)

exit status: 0 ok, 1 failed, 2 usage, 3 unreachable, 4 timeout, 5 refused, 6 wrong mode, 130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear error instead of argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="peanut",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("-addr", "--addr", metavar="HOST:PORT", help="process control address (localhost:47100)")
    parser.add_argument("-mode", "--mode", choices=("direct", "fmq", "fmq-step"), help="control mode (see below)")
    parser.add_argument("-timeout", "--timeout", default="30s", metavar="DURATION", help="per call (default 30s)")
    parser.add_argument("-config", "--config", metavar="FILE", help="YAML/JSON arguments, flattened to dot keys")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--debug", action="store_true", help="tracebacks for internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("get-state", help="print the current state")
    for name, first, second, text in (
        ("transition", "FROM", "TO", "OCC transition FROM -> TO (the FairMQ sequence in fmq mode)"),
        ("direct-step", "SRC", "EVENT", "one OCC protobuf Transition, whatever -mode says"),
        ("fmq-step", "SRC", "EVENT", "one FairMQ Transition over OCClite, whatever -mode says"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("first", metavar=first)
        command.add_argument("second", metavar=second)
        command.add_argument("assignments", nargs="*", metavar="KEY=VALUE", help="arguments pushed with it")
    commands.add_parser("state-stream", help="print state changes until Ctrl-C")
    commands.add_parser("event-stream", help="print device events until Ctrl-C")

    run = commands.add_parser(
        "exec",
        help="start a process with a control port, then open the TUI (or run --script)",
        description="Start CMD with OCC_CONTROL_PORT and --control-port, wait until it answers, then open the "
        "TUI or run the commands of --script; stop the process (EXIT, then signals) when done.",
    )
    run.add_argument("--port", type=int, help="control port (default: a free one)")
    run.add_argument("--script", metavar="FILE", help="peanut commands, one per line, instead of the TUI")
    run.add_argument("--detach", action="store_true", help="leave the process running at the end")
    run.add_argument("--log", metavar="FILE", help="the process's output (default: a file in the temp dir)")
    run.add_argument("process", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the process to run")
    return parser


def parse(argv: Sequence[str], stdout: TextIO) -> argparse.Namespace:
    with contextlib.redirect_stdout(stdout):  # --help goes to our stdout
        return build_parser().parse_args(list(argv))


def run(
    options: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str], tui: Any = None
) -> ExitStatus:
    """Dispatch one parsed command line. ``tui`` overrides the TUI's input/output (tests)."""
    import asyncio

    from .commands import Output
    from .control import ProcessControl
    from .inputs import DEFAULT_ADDRESS, default_address, load_config, parse_address, parse_duration

    timeout = parse_duration(options.timeout)
    config = load_config(options.config) if options.config else {}
    out = Output(stdout, stderr, options.output)

    if options.command is None:
        from .tui import run_tui

        address = parse_address(options.addr) if options.addr else default_address(environ, tui=True)
        return run_tui(address, options.mode or "direct", timeout, config=config, config_path=options.config, io=tui)
    if options.command == "exec":
        from .execute import run_exec

        return run_exec(options, out, config, timeout, tui=tui)

    control = ProcessControl(parse_address(options.addr or DEFAULT_ADDRESS), options.mode or "fmq", timeout=timeout)
    return asyncio.run(run_command(control, options, out, config))


async def run_command(control, options: argparse.Namespace, out, config: Mapping[str, str]) -> ExitStatus:
    """One CLI command against ``control`` (also used line by line by ``exec --script``)."""
    from . import commands
    from .inputs import parse_assignments

    try:
        if options.command == "get-state":
            return await commands.get_state(control, out)
        if options.command in ("state-stream", "event-stream"):
            stream = commands.state_stream if options.command == "state-stream" else commands.event_stream
            return await _until_interrupted(stream, control, out)
        arguments = {**config, **parse_assignments(options.assignments)}
        step = {"transition": commands.transition, "direct-step": commands.direct_step, "fmq-step": commands.fmq_step}
        return await step[options.command](control, options.first, options.second, arguments, out)
    finally:
        await control.close()


async def _until_interrupted(stream, control, out) -> ExitStatus:
    """Run a stream command; SIGINT/SIGTERM end it cleanly (exit 0)."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        return await stream(control, out, stop)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    tui: Any = None,
) -> int:
    """Run peanut; return the exit status. Handled errors are one message on stderr, never a traceback."""
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    try:
        options = parse(argv, stdout)
        return int(run(options, stdout, stderr, environ, tui))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except HandledError as exc:
        stderr.write(f"peanut: error: {exc.render()}\n")
        return int(exc.exit_status)
    except KeyboardInterrupt:
        stderr.write("peanut: interrupted\n")
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:
        if "--debug" in argv:
            stderr.write(traceback.format_exc())
        else:
            stderr.write(f"peanut: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return int(ExitStatus.FAILED)
