"""Top-level ``coconut about`` and ``info``: what this coconut is and what the core it talks to holds."""

from __future__ import annotations

import json

import typer

from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, message_dict, print_data
from ..stores import default_config_url

#: the entry of GetIntegratedServices that is the core's own event service (Kafka), not an integrated service
EVENT_SERVICE = "events"


def _show(cli: CliContext, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        cli.echo(f"{label + ':':<{width}} {value}")


def about(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """Version, settings file (or "builtin") and endpoints."""
    from ecs_engine import __version__

    cli: CliContext = ctx.obj
    check_output(output)
    settings = cli.settings
    data = {
        "version": __version__,
        "settings": str(settings.path) if settings.path else "builtin",
        "endpoint": settings.get("endpoint"),
        "configEndpoint": settings.get("config_endpoint") or f"{default_config_url(cli)} (default)",
        "embeddedCore": settings.get("embedded_core"),
    }
    if output != "text":
        print_data(cli, data, output)
        return
    _show(
        cli,
        [
            ("coconut", f"{data['version']} (experiment control system client, AliECS-compatible)"),
            ("settings", data["settings"]),
            ("core endpoint", str(data["endpoint"])),
            ("config endpoint", str(data["configEndpoint"])),
            ("embedded core", "on" if settings.flag("embedded_core") else "off"),
        ],
    )


def info(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """What the core reports about itself and its integrated services."""
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core:
        framework = core.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest())
        services = core.call("GetIntegratedServices", pb.Empty())
    if output != "text":
        print_data(cli, {"framework": message_dict(framework), "services": message_dict(services)}, output)
        return
    _show(
        cli,
        [
            ("instance name", framework.instanceName or "(unnamed)"),
            ("core version", f"{framework.version.productName} {framework.version.versionStr}"),
            ("endpoint", core.endpoint),
            ("config endpoint", framework.configurationEndpoint),
            ("framework id", framework.frameworkId),
            ("environments", str(framework.environmentsCount)),
            ("tasks", str(framework.tasksCount)),
            ("hosts", str(framework.hostsCount)),
            ("global state", framework.state),
            ("detectors", ", ".join(framework.detectorsInInstance) or "none"),
            ("active detectors", ", ".join(framework.activeDetectors) or "none"),
            ("available detectors", ", ".join(framework.availableDetectors) or "none"),
        ],
    )
    events = services.services.get(EVENT_SERVICE)
    if events is not None:
        state = json.loads(events.data or "{}")
        reach = "connected" if events.connectionState == "READY" else f"unreachable ({state.get('error', '')})"
        delivered = f"delivered up to event {state.get('deliveredSeq', 0)}"
        cli.echo(f"event service: {events.name} at {events.endpoint}: {reach}, lag {state.get('lag', 0)} ({delivered})")
    others = {name: service for name, service in services.services.items() if name != EVENT_SERVICE}
    if others:
        cli.echo("integrated services:")
        for name, service in sorted(others.items()):
            enabled = "enabled" if service.enabled else "disabled"
            endpoint = service.endpoint or "no endpoint"
            cli.echo(f"  {name:<12} {service.name} ({enabled}, {endpoint}): {service.connectionState}")
