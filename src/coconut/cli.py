"""coconut's top level: ``main()`` owns errors and exit codes, ``program()`` owns the command tree."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from ecs_engine.errors import ExitStatus

from .aliases import add_group, command_group
from .context import CliContext
from .help_text import plain_help
from .run_main import run_main

app = command_group(
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


def _register_commands() -> None:
    from .commands import (
        agent,
        apricot,
        config,
        core,
        env,
        events,
        info,
        inventory,
        mock,
        plugins,
        repo,
        role,
        runs,
        runtime,
        settings,
        task,
        template,
        watchdog,
    )

    app.command("plugins", help="List installed plugins and the hooks they implement.")(plugins.plugins)
    app.command("agent", help="The slurm resource manager's node agent (a Slurm job the core submits).")(agent.agent)
    add_group(app, template.app, "template", "templ", help="Validate and plan workflow templates (offline).")
    add_group(app, repo.app, "repo", "repository", help="Manage template repositories (git or plain directories).")
    add_group(
        app,
        config.app,
        "config",
        "configuration",
        "conf",
        "c",
        help="The configuration store: components, inventory, runtime KV.",
    )
    add_group(
        config.app,
        inventory.app,
        "inventory",
        "inv",
        help="The hardware inventory: detectors, FLP hosts, readout cards.",
    )
    add_group(
        config.app, runtime.app, "runtime", "rt", help="Runtime key-value entries (o2/runtime/<component>/<key>)."
    )
    info.register(app)
    add_group(app, core.app, "core", help="Run the core: serve (foreground), start, stop, status.")
    add_group(app, settings.app, "settings", help="The effective settings and where each came from.")
    add_group(app, env.app, "environment", "env", "e", help="Create, control and destroy environments on the core.")
    add_group(app, task.app, "task", "t", help="The core's tasks: list, clean up unlocked ones, show output.")
    add_group(app, role.app, "role", "r", help="Query the roles of an environment.")
    add_group(app, events.app, "events", "ev", help="The core's event journal: query, follow, browse.")
    add_group(app, runs.app, "runs", help="The runs in the core's event journal: list, show.")
    add_group(app, watchdog.app, "watchdog", "wd", help="The core's watchdogs (conditions that stop runs): list, show.")
    add_group(app, apricot.app, "apricot", help="Serve AliECS's configuration service (apricot) from the store.")
    add_group(app, mock.app, "mock", help="Serve a stand-in of an external service (DCS, trigger...) on loopback.")


_register_commands()


def program(argv: Sequence[str], cli: CliContext) -> ExitStatus:
    """Run one command line; raises HandledError for user errors."""
    from typer.exceptions import Abort, Exit, TyperException

    command = plain_help(typer.main.get_command(app))
    try:
        result = command.main(args=list(argv), prog_name="coconut", standalone_mode=False, obj=cli)
    except TyperException as exc:  # click-style usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has printed the help already
            return ExitStatus.OK
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        cli.error(f"coconut: {exc.format_message()}{hint}")
        return ExitStatus.USAGE if exc.exit_code == 2 else ExitStatus.FAILED
    except Exit as exc:
        return ExitStatus(exc.exit_code)
    except Abort:
        return ExitStatus.INTERRUPTED
    if isinstance(result, int):
        return ExitStatus(result)
    return ExitStatus.OK


def main(argv: Sequence[str] | None = None, cli: CliContext | None = None) -> int:
    """Run coconut; return the exit status. Handled errors are one message, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    context = cli or CliContext()
    context.debug = context.debug or "--debug" in args
    return run_main("coconut", lambda: program(args, context), context.stderr, debug=context.debug)
