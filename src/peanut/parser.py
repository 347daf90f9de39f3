"""peanut's command line: Go-style flags as upstream (``-addr``, ``-mode``, ``-timeout``, ``-config``), then a
command (CLI mode), ``exec`` (launch a process and control it), or nothing (the TUI).

Only argparse is needed here, so that ``peanut --help`` stays fast; ``exec --script`` reads its lines with it too.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from ecs_engine import __version__
from ecs_engine.errors import UsageError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

DESCRIPTION = "Drive and debug one OCC-controlled process or FairMQ device."
EPILOG = """\
Without a command peanut opens its terminal UI (-addr defaults to localhost:$OCC_CONTROL_PORT there).

modes (-mode):
  direct    OCC protobuf, for OCClib processes (the TUI's default)
  fmq       FairMQ OCClite JSON codec; each OCC transition is driven as its FairMQ sequence (CLI default)
  fmq-step  FairMQ OCClite JSON codec; one FairMQ step at a time, raw FairMQ states

TUI keys: c CONFIGURE, r RESET, s START (runNumber=MMDDhhmmss), t STOP, v RECOVER, x EXIT,
  1-0 INIT DEVICE .. END (fmq-step), n reconnect, l load configuration, q quit (no transition)

exit status: 0 ok, 1 failed, 2 usage, 3 unreachable, 4 timeout, 5 refused, 6 wrong mode, 130 interrupted,
  141 output closed (| head)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear error instead of argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """As argparse's, without swallowing a write error: ``--help | head`` ends as a GNU tool's (141), not 0."""
        if message:
            (file or sys.stderr).write(message)


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
    parser.add_argument(
        "-timeout",
        "--timeout",
        default="30s",
        metavar="DURATION",
        help="per call, and exec's wait for the process to answer (default 30s)",
    )
    parser.add_argument("-config", "--config", metavar="FILE", help="YAML/JSON arguments, flattened to dot keys")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--debug", action="store_true", help="tracebacks for internal errors")
    parser.add_argument("--version", action="version", version=f"peanut {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("get-state", help="print the current state")
    occ_state = "the OCC state the process is in (STANDBY, CONFIGURED, RUNNING, ERROR)"
    for name, (first, first_help), (second, second_help), text in (
        (
            "transition",
            ("FROM", occ_state),
            ("TO", "the OCC state to go to (CONFIGURED, RUNNING, STANDBY, DONE)"),
            "OCC transition FROM -> TO (the FairMQ sequence in fmq mode)",
        ),
        (
            "direct-step",
            ("SRC", occ_state),
            ("EVENT", "CONFIGURE, RESET, START, STOP, EXIT, GO_ERROR or RECOVER, sent as given"),
            "one OCC protobuf Transition, whatever -mode says",
        ),
        (
            "fmq-step",
            ("SRC", 'the FairMQ state the device is in (IDLE, "DEVICE READY", ...; quote two words)'),
            ("EVENT", 'a FairMQ event ("INIT DEVICE", BIND, RUN, ...; quote two words)'),
            "one FairMQ Transition over OCClite, whatever -mode says",
        ),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("first", metavar=first, help=first_help)
        command.add_argument("second", metavar=second, help=second_help)
        command.add_argument(  # default=[]: else argparse names it among the missing when FROM/TO are
            "assignments", nargs="*", default=[], metavar="KEY=VALUE", help="arguments pushed with it"
        )
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
    run.add_argument(
        "--log",
        metavar="FILE",
        help="the process's output (default: a file in peanut's state directory, ~/.local/state/peanut/exec)",
    )
    run.add_argument("process", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the process to run")
    return parser


def parse(argv: Sequence[str], stdout: TextIO) -> argparse.Namespace:
    """The options of ``argv``; ``--help`` is printed to ``stdout`` and raises SystemExit, as in argparse."""
    parser = build_parser()
    with contextlib.redirect_stdout(stdout):
        try:
            return parser.parse_args(list(argv))
        except UsageError:
            misplaced = misplaced_flag(parser, list(argv))
            if misplaced is None:
                raise
            flag, command = misplaced
            raise UsageError(
                f"{flag} after the command {command}: peanut's flags go before the command",
                hint=f"peanut {flag} ... {command} ... (as upstream peanut, Go style)",
            ) from None


def misplaced_flag(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, str] | None:
    """A flag of peanut's given after the command (``get-state -addr X``), and that command: argparse calls it
    an unrecognized argument, and it is the likeliest slip of all."""
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    with_value = {flag for action in parser._actions if action.nargs != 0 for flag in action.option_strings}
    position = 0  # the command: the first word that is neither a flag nor a flag's value (-mode fmq-step)
    while position < len(argv) and argv[position] not in commands:
        position += 2 if argv[position] in with_value else 1
    if position >= len(argv):
        return None
    flags = {flag for action in parser._actions for flag in action.option_strings} - {"-h", "--help", "--version"}
    for word in argv[position + 1 :]:
        if word == "--":
            return None
        flag = word.partition("=")[0]
        if flag in flags:
            return flag, argv[position]
    return None
