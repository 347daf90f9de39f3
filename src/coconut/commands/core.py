"""``coconut core``: run the core in the foreground, start and stop it in the background, ask how it is.

How the other commands reach the core (and start the embedded one) is ``coconut.core_connection``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from ecs_engine.errors import ExitStatus, RefusedError, UnreachableError, UsageError

from ..aliases import command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_data, spinner

if TYPE_CHECKING:
    from ecs_engine.server.settings import CoreSettings

app = command_group()


def _core_settings(cli: CliContext, listen: str | None) -> CoreSettings:
    from ecs_engine.server.settings import CoreSettings

    return CoreSettings.from_values(
        cli.settings.layers.nested(),
        data_dir=cli.data_dir,
        state_dir=cli.state_dir,
        listen=listen or str(cli.settings.get("endpoint")),
    )


@app.command("serve")
def serve(
    ctx: typer.Context,
    listen: str = typer.Option(None, "--listen", help="host:port (default: the endpoint setting)."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Run the core in the foreground, logging to stderr, until Ctrl-C or SIGTERM (its tasks are killed then)."""
    import logging

    from ecs_engine.server.core import run

    cli: CliContext = ctx.obj
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise UsageError(f"--log-level: expected debug, info, warning or error, got '{log_level}'")
    handler = logging.StreamHandler(cli.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    try:
        run(_core_settings(cli, listen))
    finally:
        root.removeHandler(handler)


@app.command("start")
def start(
    ctx: typer.Context,
    listen: str = typer.Option(None, "--listen", help="host:port (default: the endpoint setting)."),
) -> None:
    """Start the core in the background; its pid file and log are in the user state directory."""
    from ecs_engine.server import daemon
    from ecs_engine.server.core import read_pidfile

    cli: CliContext = ctx.obj
    settings = _core_settings(cli, listen)
    running = read_pidfile(cli.state_dir)
    if running is not None:
        raise RefusedError(
            f"the core is already running (pid {running['pid']}, endpoint {running.get('listen')})",
            hint="stop it first with 'coconut core stop'",
        )
    with spinner(cli, "Starting the core..."):
        started = daemon.start(
            endpoint=settings.listen,
            data_dir=cli.data_dir,
            state_dir=cli.state_dir,
            settings_path=cli.settings.user_file,
            tls_ca=cli.settings.tls_ca,
            config_endpoint=cli.options.get("config_endpoint") or "",
        )
    cli.echo(f"core started (pid {started.pid}) on {started.endpoint}; log: {started.log_path}")


def _running_environments(cli: CliContext) -> list[str]:
    """The ids of the local core's RUNNING environments (none if it does not run or answer)."""
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.core import read_pidfile

    from ..core_connection import core_token

    running = read_pidfile(cli.state_dir)
    if running is None:
        return []
    token = core_token(cli, local=True)
    with CoreClient(str(running.get("listen")), timeout=5.0, tls_ca=cli.settings.tls_ca, token=token) as client:
        try:
            reply = client.call("GetEnvironments", pb.GetEnvironmentsRequest(showAll=True))
        except UnreachableError:
            return []
    return [e.id for e in reply.environments if e.state == "RUNNING"]


@app.command("stop")
def stop(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Stop even while environments are RUNNING."),
) -> None:
    """Stop the background core: it kills its tasks; environments are kept (their tasks then count as lost)."""
    from ecs_engine.server import daemon

    cli: CliContext = ctx.obj
    running = [] if force else _running_environments(cli)
    if running:
        raise RefusedError(
            f"the core has {len(running)} RUNNING environment{'s' if len(running) > 1 else ''} "
            f"({', '.join(running)}): stopping it kills their tasks and ends the runs",
            hint="stop them first ('coconut env control ID -e STOP'), or stop the core anyway with -f/--force",
        )
    with spinner(cli, "Stopping the core..."):
        stopped = daemon.stop(cli.state_dir)
    if stopped is None:
        cli.echo("no core is running")
        return
    cli.echo(f"core stopped (pid {stopped['pid']}, endpoint {stopped.get('listen')})")


@app.command("status")
def status(ctx: typer.Context, output: str = OUTPUT_OPTION) -> int:
    """Whether the local core runs, where, and what it holds. Exit status 3 if it is not running."""
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.core import read_pidfile

    from ..core_connection import core_token

    cli: CliContext = ctx.obj
    check_output(output)
    running = read_pidfile(cli.state_dir)
    data: dict[str, Any] = {"running": running is not None}
    if running is not None:
        data.update(pid=running["pid"], endpoint=running.get("listen"), dataDir=running.get("data_dir"))
        token = core_token(cli, local=True)
        with CoreClient(str(running.get("listen")), timeout=5.0, tls_ca=cli.settings.tls_ca, token=token) as client:
            try:
                info = client.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest())
                data.update(answering=True, environments=info.environmentsCount, tasks=info.tasksCount)
            except UnreachableError:
                data.update(answering=False)
    if output != "text":
        print_data(cli, data, output)
    elif running is None:
        cli.echo("the core is not running")
    else:
        answering = (
            f"{data['environments']} environments, {data['tasks']} tasks" if data.get("answering") else "not answering"
        )
        cli.echo(f"the core is running (pid {data['pid']}) on {data['endpoint']}: {answering}")
        cli.echo(f"data directory: {data['dataDir']}")
    return ExitStatus.OK if running is not None else ExitStatus.UNREACHABLE
