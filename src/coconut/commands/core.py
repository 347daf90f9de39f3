"""``coconut core``: run the core in the foreground, start and stop it in the background, ask how it is, install
it as a systemd service.

How the other commands reach the core (and start the embedded one) is ``coconut.core_connection``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ecs_engine.errors import ExitStatus, HandledError, RefusedError, UnreachableError, UsageError

from ..aliases import command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, counted, print_data, spinner

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
        where=cli.settings.layers.where,
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
    settings = _core_settings(cli, listen)
    _refuse_a_taken_port(settings.listen)
    try:
        run(settings)
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
    _refuse_a_taken_port(settings.listen)
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


def _refuse_a_taken_port(listen: str) -> None:
    """Refuse (exit 5) a core whose port something on this machine already listens at (another user's core, most
    likely), saying how to take another, rather than let it fail to bind in its log."""
    from ecs_engine.server.core import ANOTHER_CORE, CORE, TAKE_A_PORT
    from ecs_engine.server.endpoints import split_endpoint
    from ecs_engine.server.listening import port_in_use

    from ..core_connection import _listening

    host, port = split_endpoint(listen, what="listen")
    if _listening(host, port):
        raise port_in_use(
            CORE,
            listen,
            hint=TAKE_A_PORT,
            cli_hint=f"{ANOTHER_CORE}; take a port of your own: coconut --endpoint {host}:PORT core start"
            " (and that --endpoint, or the setting 'endpoint', for every command)",
        )


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


def _refuse_core_of_another(cli: CliContext) -> None:
    """No core of this state directory runs: if one listens at the endpoint all the same (another user's, or one of
    another state directory), refuse (exit 5) naming it rather than saying that no core runs."""
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.endpoints import is_loopback, split_endpoint

    from ..core_connection import _listening, core_token

    endpoint = str(cli.settings.get("endpoint"))
    host, port = split_endpoint(endpoint, what="endpoint")
    if not _listening(host, port):
        return
    token = core_token(cli, is_loopback(host))
    with CoreClient(endpoint, timeout=5.0, tls_ca=cli.settings.tls_ca, token=token) as client:
        try:
            client.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest())
        except RefusedError as exc:
            why = "no token" if not token else "not its owner: the token sent is not its"
            raise RefusedError(
                f"a core is listening at {endpoint} but refused this user ({why})", hint=exc.hint
            ) from None
        except UnreachableError:
            return  # not a core
    raise RefusedError(
        f"a core is listening at {endpoint} but was not started from this state directory ({cli.state_dir})",
        hint="ask it with 'coconut info'; stop it as whoever started it, with their directories",
    )


@app.command("stop")
def stop(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Stop even while environments are RUNNING."),
) -> None:
    """Stop the background core: it kills its tasks; environments are kept (their tasks then count as lost). What it
    could not clean up (Slurm jobs it could not cancel) is a warning, naming what to do."""
    from ecs_engine.server import daemon
    from ecs_engine.server.core import take_stop_warnings

    cli: CliContext = ctx.obj
    running = [] if force else _running_environments(cli)
    if running:
        raise RefusedError(
            f"the core has {counted(len(running), 'RUNNING environment')} ({', '.join(running)}): stopping it"
            + (" kills its tasks and ends its run" if len(running) == 1 else " kills their tasks and ends their runs"),
            hint="stop them first ('coconut env control ID -e STOP'), or stop the core anyway with -f/--force",
        )
    with spinner(cli, "Stopping the core..."):
        stopped = daemon.stop(cli.state_dir)
    if stopped is None:
        _refuse_core_of_another(cli)
        cli.echo("no core is running")
        return
    cli.echo(f"core stopped (pid {stopped['pid']}, endpoint {stopped.get('listen')})")
    for warning in take_stop_warnings(cli.state_dir, int(stopped["pid"])):
        cli.error(f"coconut: warning: {warning}")


@app.command("status")
def status(ctx: typer.Context, output: str = OUTPUT_OPTION) -> int:
    """Whether the local core runs, where, and what it holds. Exit status 3 if it is not running, 5 if a core
    that is not this user's (no pid file in the state directory) listens at the endpoint."""
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.core import read_pidfile

    from ..core_connection import core_token

    cli: CliContext = ctx.obj
    check_output(output)
    running = read_pidfile(cli.state_dir)
    if running is None:
        _refuse_core_of_another(cli)
    data: dict[str, Any] = {"running": running is not None}
    if running is not None:
        data.update(pid=running["pid"], endpoint=running.get("listen"), dataDir=running.get("data_dir"))
        if running.get("apricot"):  # what a GUI's site admin checks: the configuration service is served too
            data["apricot"] = running["apricot"]
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
            f"{counted(data['environments'], 'environment')}, {counted(data['tasks'], 'task')}"
            if data.get("answering")
            else "not answering"
        )
        cli.echo(f"the core is running (pid {data['pid']}) on {data['endpoint']}: {answering}")
        cli.echo(f"data directory: {data['dataDir']}")
        if data.get("apricot"):
            cli.echo(f"apricot (the configuration service) on {data['apricot']}")
    return ExitStatus.OK if running is not None else ExitStatus.UNREACHABLE


_ROOT_HINT = "a --system service is installed by root (sudo)"


def _unit_path(system: bool, unit_dir: str | None) -> tuple[Path, bool]:
    """Where the unit goes, and whether systemd itself is told (not when ``--unit-dir`` names another place)."""
    from ecs_engine.server import systemd

    if unit_dir:
        return Path(unit_dir) / systemd.UNIT_NAME, False
    return (systemd.SYSTEM_UNIT_DIR if system else systemd.user_unit_dir()) / systemd.UNIT_NAME, True


def _systemctl(system: bool, *args: str) -> None:
    import subprocess

    argv = ["systemctl", *([] if system else ["--user"]), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise HandledError("systemctl not found: this machine does not run systemd") from None
    if done.returncode != 0:
        raise HandledError(f"'{' '.join(argv)}' failed: {done.stderr.strip() or done.returncode}")


@app.command("install-service")
def install_service(
    ctx: typer.Context,
    user: bool = typer.Option(True, "--user/--system", help="A service of your systemd user manager, or the system's."),
    run_as: str = typer.Option(None, "--run-as", help="--system: the account the core runs as (default: you)."),
    unit_dir: str = typer.Option(None, "--unit-dir", help="Write the unit into DIR only (systemd is not told)."),
) -> None:
    """Write a systemd unit that runs the core (Type=notify, Restart=on-failure, logs in journald)."""
    import getpass

    from ecs_engine.server import systemd

    cli: CliContext = ctx.obj
    if user and run_as:
        raise UsageError("--run-as: only for a --system service (a --user service runs as you)")
    listen = _listen_the_service_would_miss(cli, user)
    if user:
        unit = systemd.Unit(cli.data_dir, cli.state_dir, settings_file=cli.settings.user_file, listen=listen)
    else:
        data_dir, state_dir = systemd.system_directories()
        unit = systemd.Unit(data_dir, state_dir, system=True, user=run_as or getpass.getuser(), listen=listen)
    path, tell_systemd = _unit_path(not user, unit_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(unit.render())
    except OSError as exc:
        raise HandledError(f"cannot write {path}: {exc.strerror}", hint=_ROOT_HINT if not user else None) from None
    cli.echo(f"wrote {path}")
    if not tell_systemd:
        return
    _systemctl(not user, "daemon-reload")
    manager = "systemctl --user" if user else "systemctl"
    cli.echo(f"start it now and at every boot: {manager} enable --now {systemd.UNIT_NAME}")
    if user:
        cli.echo(f"(to keep it running while you are logged out: loginctl enable-linger {getpass.getuser()})")
    else:
        cli.echo(f"its data: {unit.data_dir}, its state and token: {unit.state_dir}")


def _listen_the_service_would_miss(cli: CliContext, user: bool) -> str:
    """The endpoint for the unit's ``--listen`` when a layer the service does not read set it (a flag, a
    ``COCONUT_`` variable, ./coconut.yaml; for a --system unit the user's file too), so that it listens where
    this user's commands look; '' when its own settings say the same."""
    from ecs_engine.server.layered_settings import DEFAULT, SYSTEM_FILE, SYSTEM_FILE_VARIABLE

    seen = {DEFAULT, str(Path(cli.environ.get(SYSTEM_FILE_VARIABLE) or SYSTEM_FILE))}
    if user:
        seen.add(str(cli.settings.user_file))
    for key in ("core.listen", "endpoint"):  # an empty core.listen follows the endpoint
        setting = cli.settings.layers.settings[key]
        if setting.value:
            return "" if setting.origin in seen else str(setting.value)
    return ""


@app.command("uninstall-service")
def uninstall_service(
    ctx: typer.Context,
    user: bool = typer.Option(True, "--user/--system", help="The --user or --system service install-service wrote."),
    unit_dir: str = typer.Option(None, "--unit-dir", help="Remove the unit from DIR only (systemd is not told)."),
) -> None:
    """Stop and disable the core's systemd service and remove its unit (its data directory is kept)."""
    from ecs_engine.server import systemd

    cli: CliContext = ctx.obj
    path, tell_systemd = _unit_path(not user, unit_dir)
    if not path.exists():
        cli.echo(f"no unit at {path}: nothing to remove")
        return
    if tell_systemd:
        _systemctl(not user, "disable", "--now", systemd.UNIT_NAME)
    try:
        path.unlink()
    except OSError as exc:
        raise HandledError(f"cannot remove {path}: {exc.strerror}", hint=_ROOT_HINT if not user else None) from None
    if tell_systemd:
        _systemctl(not user, "daemon-reload")
    cli.echo(f"removed {path}")
