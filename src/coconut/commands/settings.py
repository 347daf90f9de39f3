"""``coconut settings show``: every effective setting and, with ``--origin``, the layer it came from (default,
/etc/coconut/settings.yaml, the user's file, ./coconut.yaml, an environment variable or a flag)."""

from __future__ import annotations

import json
from typing import Any

import typer

from ecs_engine.server.layered_settings import Setting

from ..aliases import command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_data, table
from ..stores import default_config_url

app = command_group()

#: settings whose value is a secret: shown as set or not, never printed
SECRETS = ("token",)
#: settings whose "" stands for another setting's value (as the core reads them: server/settings.py)
FOLLOWS = {"core.listen": "endpoint", "core.config_endpoint": "config_endpoint"}


def _effective(cli: CliContext) -> dict[str, Setting]:
    """Each setting with what an empty value stands for, so it shows what is used (as ``coconut about``)."""
    settings = dict(cli.settings.layers.settings)
    store = settings["config_endpoint"]
    if not store.value:
        settings["config_endpoint"] = Setting(default_config_url(cli), store.origin)
    for key, source in FOLLOWS.items():
        if not settings[key].value:
            settings[key] = Setting(settings[source].value, f"{settings[key].origin} (= {source})")
    return settings


def _text(key: str, value: Any) -> str:
    if key in SECRETS:
        return "(set)" if value else ""
    if value is None:
        return "(unset)"
    return value if isinstance(value, str) else json.dumps(value)


@app.command("show")
def show(
    ctx: typer.Context,
    origin: bool = typer.Option(False, "--origin", help="Also say where each value came from."),
    output: str = OUTPUT_OPTION,
) -> None:
    """The effective settings, sorted by name; files read are listed first (on stderr in text)."""
    cli: CliContext = ctx.obj
    check_output(output)
    layers = cli.settings.layers
    items = sorted(_effective(cli).items())
    if output != "text":
        values = {key: _text(key, s.value) if key in SECRETS else s.value for key, s in items}
        data: dict[str, Any] = {"files": [str(path) for path in layers.files], "settings": values}
        if origin:
            data["origins"] = {key: s.origin for key, s in items}
        print_data(cli, data, output)
        return
    cli.error("settings files read: " + (", ".join(str(p) for p in layers.files) or "none (built-in defaults)"))
    columns = ["SETTING", "VALUE", *(["ORIGIN"] if origin else [])]
    rows = [[key, _text(key, s.value), *([s.origin] if origin else [])] for key, s in items]
    table(cli, columns, rows)
