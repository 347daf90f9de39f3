"""``coconut plugins``: the plugins (built-in and installed) and the hooks each implements."""

from __future__ import annotations

from typing import cast

import typer

from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_data, table


def plugins(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """List the plugins (built-in, and installed in the entry-point group ecs_backends) and their hooks."""
    from ecs_engine.plugins import describe_plugins

    cli: CliContext = ctx.obj
    check_output(output)
    rows = [r for r in describe_plugins() if r["hooks"]]
    if output != "text":
        print_data(cli, rows, output)
        return
    # describe_plugins types its rows' values as object
    rows_text = [[str(r["name"]), str(r["module"]), ", ".join(cast("list[str]", r["hooks"]))] for r in rows]
    table(cli, ("plugin", "module", "hooks"), rows_text)
