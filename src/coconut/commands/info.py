"""Top-level ``coconut about`` and ``info``: what this coconut is and what the core it talks to holds."""

from __future__ import annotations

import typer

from .repo import check_output, print_data

OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")


def register(app: typer.Typer) -> None:
    app.command("about", help="Version, settings file and endpoints (offline).")(about)
    app.command("info", help="The core: instance, version, environments, tasks, detectors, services.")(info)


def _show(env, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        env.echo(f"{label + ':':<{width}} {value}")


def about(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """Version, settings file (or "builtin") and endpoints."""
    from ecs_engine import __version__

    env = ctx.obj
    check_output(output)
    settings = env.settings
    data = {
        "version": __version__,
        "settings": str(settings.path) if settings.path else "builtin",
        "endpoint": settings.get("endpoint"),
        "configEndpoint": settings.get("config_endpoint") or f"sqlite:///{env.data_dir / 'config.sqlite'} (default)",
        "embeddedCore": settings.get("embedded_core"),
    }
    if output != "text":
        print_data(env, data, output)
        return
    _show(
        env,
        [
            ("coconut", f"{data['version']} (experiment control system client, AliECS-compatible)"),
            ("settings", data["settings"]),
            ("core endpoint", str(data["endpoint"])),
            ("config endpoint", str(data["configEndpoint"])),
            ("embedded core", "on" if str(data["embeddedCore"]).lower() not in ("0", "false", "no", "off") else "off"),
        ],
    )


def info(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """What the core reports about itself and its integrated services."""
    from ecs_engine.protocols import o2control_pb2 as pb

    from .core import connect
    from .env import message_dict

    env = ctx.obj
    check_output(output)
    with connect(env) as core:
        framework = core.call("GetFrameworkInfo", pb.GetFrameworkInfoRequest())
        services = core.call("GetIntegratedServices", pb.Empty())
    if output != "text":
        print_data(env, {"framework": message_dict(framework), "services": message_dict(services)}, output)
        return
    _show(
        env,
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
    if services.services:
        env.echo("integrated services:")
        for name, service in sorted(services.services.items()):
            enabled = "enabled" if service.enabled else "disabled"
            endpoint = service.endpoint or "no endpoint"
            env.echo(f"  {name:<12} {service.name} ({enabled}, {endpoint}): {service.connectionState}")
