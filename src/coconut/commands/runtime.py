"""``coconut config runtime`` (``rt``): runtime key-value entries of the configuration store
(``o2/runtime/<component>/<key>``)."""

from __future__ import annotations

import typer

from ecs_engine.errors import NotFoundError

from ..aliases import command, command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_entries
from ..stores import open_config

app = command_group()


@command(app, "get", "g")
def runtime_get(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs or trg/ltu."),
    key: str = typer.Argument(..., help="Key within the component."),
) -> None:
    """Print one runtime entry."""
    cli: CliContext = ctx.obj
    with open_config(cli) as config:
        value = config.runtime_get(component, key)
    if value is None:
        raise NotFoundError(f"no runtime entry {component}/{key}")
    cli.echo(value)


@command(app, "set", "s")
def runtime_set(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs."),
    key: str = typer.Argument(..., help="Key within the component."),
    value: str = typer.Argument(..., help="Value to store."),
) -> None:
    """Set one runtime entry."""
    cli: CliContext = ctx.obj
    with open_config(cli) as config:
        config.runtime_set(component, key, value)
    cli.echo(f"{component}/{key} set")


@command(app, "list", "ls", "l")
def runtime_list(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Every runtime entry of a component."""
    cli: CliContext = ctx.obj
    check_output(output)
    with open_config(cli) as config:
        entries = config.runtime_entries(component)
    if not entries and output == "text":
        raise NotFoundError(f"no runtime entries for component {component}")
    print_entries(cli, entries, output)
