"""``coconut watchdog``: the core's watchdogs (conditions that stop runs) — list them, show one with its history."""

from __future__ import annotations

from typing import Any

import typer

from ecs_engine.durations import format_duration

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, message_dict, print_data, table
from .env import when

app = command_group()


def _watchdogs(cli: CliContext, name: str = "") -> list[Any]:
    from ecs_engine.protocols import watchdogs_pb2 as pb

    with connect(cli) as core:
        return list(core.call("GetWatchdogs", pb.WatchdogsRequest(name=name)).watchdogs)


def _values(dog: Any) -> str:
    return ", ".join(f"{scope}: {value}" if scope else value for scope, value in sorted(dog.values.items()))


@command(app, "list", "ls", "l")
def list_watchdogs(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """Every watchdog: what it watches, its condition, action and state."""
    cli: CliContext = ctx.obj
    check_output(output)
    dogs = _watchdogs(cli)
    if output != "text":
        print_data(cli, {"watchdogs": [message_dict(d) for d in dogs]}, output)
        return
    columns = ["name", "watches", "condition", "grace", "action", "state", "value", "origin"]
    rows = [
        [
            d.name,
            f"{d.source} {d.subject}",
            d.condition,
            format_duration(d.graceSeconds),
            d.action + (" +resume" if d.resume else ""),
            d.state,
            _values(d),
            d.origin,
        ]
        for d in dogs
    ]
    table(cli, columns, rows)
    for d in dogs:
        for text in d.warnings:
            cli.error(f"coconut: warning: watchdog {d.name}: {text}")


@command(app, "show", "s")
def show(
    ctx: typer.Context, name: str = typer.Argument(..., help="Watchdog name."), output: str = OUTPUT_OPTION
) -> None:
    """One watchdog: its definition, its state and its history (oldest first)."""
    cli: CliContext = ctx.obj
    check_output(output)
    (dog,) = _watchdogs(cli, name)
    if output != "text":
        print_data(cli, {"watchdog": message_dict(dog)}, output)
        return
    lines = [
        ("name", dog.name),
        ("origin", dog.origin),
        ("watches", f"{dog.source} {dog.subject}"),
        ("condition", dog.condition),
        ("grace", format_duration(dog.graceSeconds)),
        ("action", dog.action),
        ("user", dog.user),
        ("applies to", f"environments with {dog.appliesTo}=true" if dog.appliesTo else "every environment"),
        ("resume", "yes" if dog.resume else "no"),
        ("state", dog.state + (f" since {when(dog.sinceMs)}" if dog.sinceMs else "")),
        ("value", _values(dog) or "(none seen)"),
        *(("warning", text) for text in dog.warnings),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        cli.echo(f"{key + ':':<{width + 1}} {value}")
    table(cli, ["time", "history"], [[when(h.timeMs), h.message] for h in dog.history])
