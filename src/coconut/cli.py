"""coconut's top level: ``main()`` owns errors and exit codes, ``program()`` owns the command tree."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer

from ecs_engine.errors import ExitStatus, HandledError

from .context import Environment

app = typer.Typer(
    name="coconut",
    help="Control and configuration client of the experiment control system.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


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
) -> None:
    env: Environment = ctx.obj
    env.options.update(config=config, endpoint=endpoint, config_endpoint=config_endpoint)
    env.verbose = verbose
    env.spinner = not nospinner
    env.debug = debug or env.debug
    if nocolor:
        env.color = False


def _register_commands() -> None:
    from .commands import plugins, repo, template

    app.command("plugins", help="List installed plugins and the hooks they implement.")(plugins.plugins)

    app.add_typer(template.app, name="template", help="Validate and plan workflow templates (offline).")
    app.add_typer(template.app, name="templ", hidden=True)
    app.add_typer(repo.app, name="repo", help="Manage template repositories (git or plain directories).")
    app.add_typer(repo.app, name="repository", hidden=True)
    from .commands import config

    app.add_typer(config.app, name="config", help="The configuration store: components, inventory, runtime KV.")
    for alias in ("configuration", "conf", "c"):
        app.add_typer(config.app, name=alias, hidden=True)
    from .commands import core, env, info, role, task

    info.register(app)
    app.add_typer(core.app, name="core", help="Run the core: serve (foreground), start, stop, status.")
    app.add_typer(env.app, name="environment", help="Create, control and destroy environments on the core.")
    for alias in ("env", "e"):
        app.add_typer(env.app, name=alias, hidden=True)
    app.add_typer(task.app, name="task", help="The core's tasks: list, clean up unlocked ones, show output.")
    app.add_typer(task.app, name="t", hidden=True)
    app.add_typer(role.app, name="role", help="Query the roles of an environment.")
    app.add_typer(role.app, name="r", hidden=True)


_register_commands()


def program(argv: Sequence[str], env: Environment) -> ExitStatus:
    """Run one command line; raises HandledError for user errors."""
    from typer.exceptions import Abort, Exit, TyperException

    command = typer.main.get_command(app)
    try:
        result = command.main(args=list(argv), prog_name="coconut", standalone_mode=False, obj=env)
    except TyperException as exc:  # click-style usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has printed the help already
            return ExitStatus.OK
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        env.error(f"coconut: {exc.format_message()}{hint}")
        return ExitStatus.USAGE if exc.exit_code == 2 else ExitStatus.FAILED
    except Exit as exc:
        return ExitStatus(exc.exit_code)
    except Abort:
        return ExitStatus.INTERRUPTED
    if isinstance(result, int):
        return ExitStatus(result)
    return ExitStatus.OK


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run coconut; return the exit status. Handled errors are one message, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = env or Environment()
    env.debug = env.debug or "--debug" in argv
    try:
        return int(program(argv, env))
    except HandledError as exc:
        env.error(f"coconut: error: {exc.render()}")
        return int(exc.exit_status)
    except KeyboardInterrupt:
        env.error("coconut: interrupted")
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:
        if env.debug:
            env.error(traceback.format_exc())
        else:
            env.error(f"coconut: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return int(ExitStatus.FAILED)
