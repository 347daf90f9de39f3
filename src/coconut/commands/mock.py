"""``coconut mock NAME``: serve a stand-in of an external service (DCS, trigger, bookkeeping...) that speaks its
wire protocol, for sites and tests without the real one.

The mocks are whatever the plugins contribute through the ``ecs_mock_services`` hook (a plugin module adds
its own; this module lists none by name): ``coconut mock`` lists them, ``coconut mock NAME --help`` tells what
the mock's script may say. The server part is ``ecs_backends.mocks.framework``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from ecs_engine.errors import HandledError

from ..context import CliContext
from ..help_text import plain_help

if TYPE_CHECKING:
    from ecs_backends.mocks.framework import MockService


def mock_services() -> dict[str, MockService]:
    """The mocks the plugins contribute, by name; one name twice is an error."""
    from ecs_backends.mocks.framework import MockService
    from ecs_engine.plugins import plugin_manager

    found: dict[str, MockService] = {}
    for contributed in plugin_manager().hook.ecs_mock_services():
        for service in contributed or ():
            if not isinstance(service, MockService):
                raise HandledError(f"a plugin's ecs_mock_services returned {service!r}, not a MockService")
            if service.name in found:
                raise HandledError(f"two plugins contribute a mock named '{service.name}'")
            found[service.name] = service
    return found


class MockGroup(TyperGroup):
    """One subcommand per contributed mock, built when asked for (the plugins load only for ``coconut mock``)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(mock_services())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        service = mock_services().get(cmd_name)
        if service is None:
            return None
        if service.add_servicers is None:
            return _command_mock(service)
        return plain_help(typer.main.get_command(_mock_app(service)))


app = typer.Typer(cls=MockGroup, invoke_without_command=True)


@app.callback()
def mocks(ctx: typer.Context) -> None:
    """Without a mock's name: list the mocks."""
    if ctx.invoked_subcommand is not None:
        return
    cli: CliContext = ctx.obj
    services = mock_services()
    width = max((len(name) for name in services), default=0)
    for name, service in sorted(services.items()):
        cli.stdout.write(f"{name:<{width}}  {service.summary}\n")


SCRIPT_OPTION_HELP = "YAML or JSON file: the mock's behaviour."
RECORD_OPTION_HELP = "Write every request received, as JSON lines."


def _help_text(service: MockService, *more: str) -> str:
    """The mock's summary and script help (and ``more``) as paragraphs click keeps as written."""
    paragraphs = [service.summary, *(service.script_help.split("\n\n") if service.script_help else ()), *more]
    return "\n\n".join(["\b\n" + p for p in paragraphs])


def _command_mock(service: MockService) -> Any:
    """A mock that runs once (``run``): its own required options, and arguments after ``--`` if it takes any.

    The options are the mock's (``CommandOption``), so the command's signature is built for typer to read."""
    single = typer.Typer(add_completion=False)
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("script", keyword, default=typer.Option(None, "--script", "-s", help=SCRIPT_OPTION_HELP)),
        inspect.Parameter("record", keyword, default=typer.Option(None, "--record", "-r", help=RECORD_OPTION_HELP)),
    ]
    types: dict[str, Any] = {"script": Path | None, "record": Path | None}
    for option in service.options:
        default = typer.Option(..., option.flag, metavar=option.metavar, help=option.help, show_default=False)
        params.append(inspect.Parameter(option.name, keyword, default=default))
        types[option.name] = str
    if service.arguments:
        default = typer.Argument(None, metavar="-- ARGS...", help=service.arguments + ".", show_default=False)
        params.append(inspect.Parameter("args", keyword, default=default))
        types["args"] = list[str] | None

    def run(script: Path | None, record: Path | None, args: list[str] | None = None, **options: str) -> None:
        raise typer.Exit(_run_command(service, script=script, record=record, args=args or [], options=options))

    run.__signature__ = inspect.Signature([p.replace(annotation=types[p.name]) for p in params])  # type: ignore[attr-defined]
    run.__annotations__ = types
    single.command(service.name, help=_help_text(service))(run)
    return plain_help(typer.main.get_command(single))


def _mock_app(service: MockService) -> typer.Typer:
    """A one-command app serving the gRPC mock ``service``, its help the mock's own."""
    single = typer.Typer(add_completion=False)
    help_text = _help_text(service)
    script_option = typer.Option(None, "--script", "-s", help=SCRIPT_OPTION_HELP)
    record_option = typer.Option(None, "--record", "-r", help=RECORD_OPTION_HELP)
    default_port = f"default {service.default_port}" if service.default_port else "default: a free port"

    @single.command(service.name, help=help_text)
    def serve(
        ctx: typer.Context,
        port: int = typer.Option(
            None, "--port", "-p", help=f"Port to listen on, on 127.0.0.1 ({default_port}; 0: any free port)."
        ),
        script: Path = script_option,
        record: Path = record_option,
    ) -> None:
        from ecs_engine.server.endpoints import check_port

        if port is not None:
            check_port(port, f"--port {port}", lowest=0)
        _serve(ctx.obj, service, port=port, script=script, record=record)

    return single


def _run_command(
    service: MockService, *, script: Path | None, record: Path | None, args: list[str], options: dict[str, str]
) -> int:
    from ecs_backends.mocks.framework import Recorder, Script

    assert service.run is not None
    loaded = Script.load(script) if script is not None else Script.empty()
    recorder = Recorder(record)
    try:
        return service.run(loaded, recorder, args, options)
    finally:
        recorder.close()


def _serve(
    cli: CliContext, service: MockService, *, port: int | None, script: Path | None, record: Path | None
) -> None:
    import asyncio

    from ecs_backends.mocks.framework import Recorder, Script, serve

    loaded = Script.load(script) if script is not None else Script.empty()
    recorder = Recorder(record)

    def announce(line: str) -> None:
        cli.stdout.write(line + "\n")
        cli.stdout.flush()

    asyncio.run(serve(service, port=port, script=loaded, recorder=recorder, announce=announce))
