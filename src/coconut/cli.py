"""coconut's top level: ``main()`` owns errors and exit codes, ``program()`` owns the command tree."""

# Annotations are evaluated here, not kept as strings (no ``from __future__ import annotations``): typer reads
# the commands' signatures at each run and would evaluate every string (issue 19).
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from ecs_engine.errors import ExitStatus, HandledError, UsageError

from .context import CliContext
from .lazy_group import LazyCommand, lazy_app
from .run_main import run_main

#: every command, imported only when it is run or listed (``lazy_group.py``); help shows them in this order
COMMANDS = (
    LazyCommand("plugins", "coconut.commands.plugins:plugins", "List installed plugins and the hooks they implement."),
    LazyCommand(
        "agent",
        "coconut.commands.agent:agent",
        "The slurm resource manager's node agent (a Slurm job the core submits).",
    ),
    LazyCommand(
        "template",
        "coconut.commands.template:app",
        "Validate and plan workflow templates (offline).",
        ("templ",),
    ),
    LazyCommand(
        "repo",
        "coconut.commands.repo:app",
        "Manage template repositories (git or plain directories).",
        ("repository",),
    ),
    LazyCommand(
        "config",
        "coconut.commands.config:app",
        "The configuration store: components, inventory, runtime KV.",
        ("configuration", "conf", "c"),
        subgroups=(
            LazyCommand(
                "inventory",
                "coconut.commands.inventory:app",
                "The hardware inventory: detectors, FLP hosts, readout cards.",
                ("inv",),
            ),
            LazyCommand(
                "runtime",
                "coconut.commands.runtime:app",
                "Runtime key-value entries (o2/runtime/<component>/<key>).",
                ("rt",),
            ),
        ),
    ),
    LazyCommand("about", "coconut.commands.info:about", "Version, settings file and endpoints (offline)."),
    LazyCommand(
        "info", "coconut.commands.info:info", "The core: instance, version, environments, tasks, detectors, services."
    ),
    LazyCommand("core", "coconut.commands.core:app", "Run the core: serve (foreground), start, stop, status."),
    LazyCommand("settings", "coconut.commands.settings:app", "The effective settings and where each came from."),
    LazyCommand(
        "environment",
        "coconut.commands.env:app",
        "Create, control and destroy environments on the core.",
        ("env", "e"),
    ),
    LazyCommand(
        "task", "coconut.commands.task:app", "The core's tasks: list, clean up unlocked ones, show output.", ("t",)
    ),
    LazyCommand("role", "coconut.commands.role:app", "Query the roles of an environment.", ("r",)),
    LazyCommand("events", "coconut.commands.events:app", "The core's event journal: query, follow, browse.", ("ev",)),
    LazyCommand("runs", "coconut.commands.runs:app", "The runs in the core's event journal: list, show."),
    LazyCommand(
        "watchdog",
        "coconut.commands.watchdog:app",
        "The core's watchdogs (conditions that stop runs): list, show.",
        ("wd",),
    ),
    LazyCommand(
        "apricot", "coconut.commands.apricot:app", "Serve AliECS's configuration service (apricot) from the store."
    ),
    LazyCommand(
        "mock", "coconut.commands.mock:app", "Serve a stand-in of an external service (DCS, trigger...) on loopback."
    ),
)


app = lazy_app(
    COMMANDS,
    name="coconut",
    help="Control and configuration client of the experiment control system.",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _print_version(ctx: typer.Context, asked: bool) -> None:
    if asked:
        from ecs_engine import __version__

        ctx.obj.echo(f"coconut {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", help="Settings file (default: ~/.config/coconut/settings.yaml)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Core endpoint host:port (default 127.0.0.1:32102)."),
    config_endpoint: str = typer.Option(
        None,
        "--config-endpoint",
        "--config_endpoint",
        help="Configuration store URL (sqlite://, file://, etcd://).",
    ),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Verbose output."),
    nospinner: bool = typer.Option(False, "--nospinner", help="No spinner on slow operations."),
    nocolor: bool = typer.Option(False, "--nocolor", help="No colours."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: bool = typer.Option(
        False, "--version", is_eager=True, expose_value=False, callback=_print_version, help="Print the version."
    ),
) -> None:
    cli: CliContext = ctx.obj
    cli.settings_file = Path(config) if config else None
    cli.options.update(endpoint=endpoint, config_endpoint=config_endpoint)
    cli.verbose = verbose
    cli.spinner = not nospinner
    cli.debug = debug or cli.debug
    if nocolor:
        cli.color = False


def program(argv: Sequence[str], cli: CliContext) -> ExitStatus:
    """Run one command line; raises HandledError for user errors."""
    from typer.exceptions import Abort, Exit, TyperException

    command = typer.main.get_command(app)
    try:
        result = command.main(args=list(argv), prog_name="coconut", standalone_mode=False, obj=cli)
    except TyperException as exc:  # click-style usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its help (rich help prints itself)
            text = ctx.get_help() if ctx is not None else ""
            if text:
                cli.echo(text)
            return ExitStatus.OK
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        if ctx is not None and ctx.parent is not None:  # a subcommand's: maybe a top-level option given after it
            hint = _misplaced_global_option(command.params, getattr(exc, "option_name", ""), ctx.command_path) or hint
        elif ctx is not None:  # a top-level command: maybe a group of another ('coconut inventory')
            hint = _subgroup_of_another(exc.format_message()) or hint
        # one line through run_main, as every other error: ``coconut: error: No such option: --bogus ...``
        raise (UsageError if exc.exit_code == 2 else HandledError)(f"{exc.format_message()}{hint}") from None
    except Exit as exc:
        return ExitStatus(exc.exit_code)
    except Abort:
        return ExitStatus.INTERRUPTED
    except SystemExit as exc:  # typer's main ends a broken pipe with exit 1: run_main's status is 141
        if isinstance(exc.__context__, BrokenPipeError):
            raise exc.__context__ from None
        raise
    if isinstance(result, int):
        return ExitStatus(result)
    return ExitStatus.OK


def _subgroup_of_another(message: str) -> str:
    """For ``No such command 'NAME'`` where NAME is a group within a command (``inventory`` of ``config``): where
    it is; else ''."""
    import re

    unknown = re.match(r"No such command '([^']+)'", message)
    if unknown is None:
        return ""
    for entry in COMMANDS:
        for group in entry.subgroups:
            if unknown[1] in (group.name, *group.aliases):
                return f" (it is 'coconut {entry.name} {group.name}')"
    return ""


def _misplaced_global_option(params: Sequence[Any], name: str, command_path: str) -> str:
    """Where to give ``name``, an option a subcommand refused, if it is a top-level one (``--endpoint``); else ''."""
    found = next((p for p in params if name in p.opts and name not in ("-h", "--help")), None)
    if found is None:
        return ""
    given = name if found.is_flag else f"{name} {found.name.upper()}"
    return f" ({name} is coconut's own option: give it before the command: 'coconut {given} {command_path[8:]} ...')"


def main(argv: Sequence[str] | None = None, cli: CliContext | None = None) -> int:
    """Run coconut; return the exit status. Handled errors are one message, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    context = cli or CliContext()
    context.debug = context.debug or "--debug" in args
    return run_main("coconut", lambda: program(args, context), context.stderr, debug=context.debug)
