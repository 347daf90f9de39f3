"""``coconut plugins``: the installed backends and the hooks each implements."""

from __future__ import annotations

import typer

from ecs_engine.errors import UsageError


def plugins(
    ctx: typer.Context,
    output: str = typer.Option("text", "-o", "--output", help="text, json or yaml."),
) -> None:
    """List installed plugins (entry-point group ecs_backends) and their hooks."""
    from ecs_engine.plugins import describe_plugins

    from ..render import print_data

    env = ctx.obj
    rows = [r for r in describe_plugins() if r["hooks"]]
    if output in ("json", "yaml"):
        print_data(env, rows, output)
        return
    if output != "text":
        raise UsageError(f"--output: expected text, json or yaml, got '{output}'")
    from rich.table import Table

    table = Table()
    for col in ("plugin", "module", "hooks"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["name"]), str(r["module"]), ", ".join(r["hooks"]))
    env.console.print(table)
