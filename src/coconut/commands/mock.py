"""``coconut mock NAME``: serve a stand-in of an external service (DCS, trigger, bookkeeping...) that speaks its
wire protocol, for sites and tests without the real one.

The mocks are whatever the plugins contribute through the ``ecs_mock_services`` hook (a plugin module adds
its own; this module lists none by name): ``coconut mock`` lists them, ``coconut mock NAME --help`` tells what
the mock's script may say. The server part is ``ecs_backends.mocks.framework``.
"""

from __future__ import annotations

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
        return None if service is None else plain_help(typer.main.get_command(_mock_app(service)))


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


def _mock_app(service: MockService) -> typer.Typer:
    """A one-command app serving (or running) ``service``, its help the mock's own."""
    single = typer.Typer(add_completion=False)
    paragraphs = [service.summary, *service.script_help.split("\n\n")] if service.script_help else [service.summary]
    help_text = "\n\n".join(["\b\n" + p for p in paragraphs])  # \b: click keeps the lines as written
    script_option = typer.Option(None, "--script", "-s", help="YAML or JSON file: the mock's behaviour.")
    record_option = typer.Option(None, "--record", "-r", help="Write every request received, as JSON lines.")
    if service.add_servicers is None:
        # the command's own options (``coconut mock lhc --broker HOST:PORT``) go to it with its arguments
        passing = {"ignore_unknown_options": True, "allow_extra_args": True}

        @single.command(service.name, help=help_text, context_settings=passing)
        def run(
            ctx: typer.Context,
            script: Path = script_option,
            record: Path = record_option,
            args: list[str] = typer.Argument(None, help="The command's arguments (after --).", show_default=False),
        ) -> None:
            raise typer.Exit(_run_command(service, script=script, record=record, args=args or []))

        return single
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


def _run_command(service: MockService, *, script: Path | None, record: Path | None, args: list[str]) -> int:
    from ecs_backends.mocks.framework import Recorder, Script

    assert service.run is not None
    loaded = Script.load(script) if script is not None else Script.empty()
    recorder = Recorder(record)
    try:
        return service.run(loaded, recorder, args)
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
