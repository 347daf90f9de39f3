"""``coconut core``: run the core (foreground or background), and how every core command reaches it.

The embedded default: when the endpoint is on this machine and nothing answers there, a core command
starts the local core in the background first and says so (setting ``embedded_core: false`` turns that off).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import typer

from ecs_engine.errors import RefusedError, UnreachableError, UsageError

app = typer.Typer(no_args_is_help=True)

SPINNER_DELAY = 0.5  # seconds before a spinner appears
FALSE = ("0", "false", "no", "off")


def _flag(value: Any) -> bool:
    return str(value).strip().lower() not in FALSE


def _timeout(env) -> float:
    from ecs_engine.durations import parse_duration

    text = str(env.settings.get("timeout") or "5m")
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"setting timeout: {exc}") from None


@contextlib.contextmanager
def spinner(env, text: str) -> Iterator[None]:
    """A spinner on stderr if the wait lasts more than half a second (and spinners are on)."""
    console = env.err_console
    if not env.spinner or not console.is_terminal:
        yield
        return
    status = console.status(text)
    lock = threading.Lock()
    finished = False

    def begin() -> None:
        with lock:
            if not finished:
                status.start()

    timer = threading.Timer(SPINNER_DELAY, begin)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            finished = True
            status.stop()


def _tls_ca(env) -> str:
    return str(env.settings.get("tls_ca") or "")


@contextlib.contextmanager
def connect(env) -> Iterator[Any]:
    """A ``CoreClient`` to the configured core, starting the local one if it is the embedded default."""
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.settings import is_loopback, split_endpoint

    endpoint = str(env.settings.get("endpoint"))
    host, _ = split_endpoint(endpoint, what="endpoint")
    client = CoreClient(endpoint, timeout=_timeout(env), tls_ca=_tls_ca(env))
    try:
        if _flag(env.settings.get("embedded_core", True)) and is_loopback(host) and not client.answers(2.0):
            _start_embedded(env, endpoint)
        yield client
    finally:
        client.close()


def _start_embedded(env, endpoint: str) -> None:
    from ecs_engine.server import daemon
    from ecs_engine.server.core import read_pidfile

    running = read_pidfile(env.state_dir)
    if running is not None:
        raise UnreachableError(
            f"no core answers at {endpoint}, but the local core (pid {running['pid']}) runs at {running.get('listen')}",
            hint=f"use --endpoint {running.get('listen')}, or 'coconut core stop' it first",
        )
    with spinner(env, "Starting the local core..."):
        started = daemon.start(
            endpoint=endpoint,
            data_dir=env.data_dir,
            state_dir=env.state_dir,
            settings_path=env.settings.path,
            tls_ca=_tls_ca(env),
        )
    env.error(
        f"coconut: no core answered at {endpoint}: started the local core (pid {started.pid}, log {started.log_path}); "
        "stop it with 'coconut core stop'"
    )


def _settings(env, listen: str | None):
    from ecs_engine.server.settings import CoreSettings

    return CoreSettings.load(
        env.settings.path,
        data_dir=env.data_dir,
        state_dir=env.state_dir,
        listen=listen or str(env.settings.get("endpoint")),
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

    env = ctx.obj
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise UsageError(f"--log-level: expected debug, info, warning or error, got '{log_level}'")
    handler = logging.StreamHandler(env.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    try:
        run(_settings(env, listen))
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

    env = ctx.obj
    settings = _settings(env, listen)
    running = read_pidfile(env.state_dir)
    if running is not None:
        raise RefusedError(
            f"the core is already running (pid {running['pid']}, endpoint {running.get('listen')})",
            hint="stop it first with 'coconut core stop'",
        )
    with spinner(env, "Starting the core..."):
        started = daemon.start(
            endpoint=settings.listen,
            data_dir=env.data_dir,
            state_dir=env.state_dir,
            settings_path=env.settings.path,
            tls_ca=_tls_ca(env),
        )
    env.echo(f"core started (pid {started.pid}) on {started.endpoint}; log: {started.log_path}")


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the background core: it kills its tasks; environments are kept (their tasks then count as lost)."""
    from ecs_engine.server import daemon

    env = ctx.obj
    with spinner(env, "Stopping the core..."):
        stopped = daemon.stop(env.state_dir)
    if stopped is None:
        env.echo("no core is running")
        return
    env.echo(f"core stopped (pid {stopped['pid']}, endpoint {stopped.get('listen')})")


@app.command("status")
def status(
    ctx: typer.Context,
    output: str = typer.Option("text", "-o", "--output", help="text, json or yaml."),
) -> int:
    """Whether the local core runs, where, and what it holds. Exit status 3 if it is not running."""
    from ecs_engine.errors import ExitStatus
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.client import CoreClient
    from ecs_engine.server.core import read_pidfile

    from .repo import check_output, print_data

    env = ctx.obj
    check_output(output)
    running = read_pidfile(env.state_dir)
    data: dict[str, Any] = {"running": running is not None}
    if running is not None:
        data.update(pid=running["pid"], endpoint=running.get("listen"), dataDir=running.get("data_dir"))
        with CoreClient(str(running.get("listen")), timeout=5.0, tls_ca=_tls_ca(env)) as client:
            try:
                info = client.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest())
                data.update(answering=True, environments=info.environmentsCount, tasks=info.tasksCount)
            except UnreachableError:
                data.update(answering=False)
    if output != "text":
        print_data(env, data, output)
    elif running is None:
        env.echo("the core is not running")
    else:
        answering = (
            f"{data['environments']} environments, {data['tasks']} tasks" if data.get("answering") else "not answering"
        )
        env.echo(f"the core is running (pid {data['pid']}) on {data['endpoint']}: {answering}")
        env.echo(f"data directory: {data['dataDir']}")
    return ExitStatus.OK if running is not None else ExitStatus.UNREACHABLE
