"""``coconut apricot``: serve AliECS's configuration service (``apricot.Apricot``) from the configuration store,
apart from the core, for sites whose GUI or tools reach it on its own port (the core serves it too when
``apricot.listen`` is set)."""

from __future__ import annotations

import typer

from ..aliases import command_group
from ..context import CliContext
from ..stores import open_config

app = command_group()


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: int = typer.Option(None, "--port", help="Port to listen on (default: apricot.listen's, else 32101)."),
) -> None:
    """Serve apricot.Apricot in the foreground until Ctrl-C or SIGTERM; same token rule as the core."""
    import logging

    from ecs_engine.server.apricot import apart_listen, run_apart
    from ecs_engine.server.endpoints import check_port
    from ecs_engine.server.settings import CoreSettings

    if port is not None:
        check_port(port, f"--port {port}")
    cli: CliContext = ctx.obj
    layers = cli.settings.layers
    settings = CoreSettings.from_values(
        layers.nested(), data_dir=cli.data_dir, state_dir=cli.state_dir, where=layers.where
    )
    listen = apart_listen(settings, port)
    handler = logging.StreamHandler(cli.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with open_config(cli) as config:
            run_apart(settings, config, listen)
    finally:
        root.removeHandler(handler)
