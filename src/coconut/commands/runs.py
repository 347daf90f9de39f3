"""``coconut runs``: the run registry the core keeps in its event journal — list the runs, show one."""

from __future__ import annotations

from typing import Any

import typer

from ecs_engine.durations import format_duration

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, message_dict, print_data, table
from ..query_times import whole_number
from .env import when

app = command_group()


def _runs(cli: CliContext, number: int = 0) -> list[Any]:
    from ecs_engine.protocols import journal_pb2 as pb

    with connect(cli) as core:
        return list(core.call("GetRuns", pb.RunsRequest(runNumber=number)).runs)


def _duration(start_ms: int, end_ms: int) -> str:
    return format_duration(round((end_ms - start_ms) / 1000, 3)) if start_ms and end_ms else ""


@command(app, "list", "ls", "l")
def list_runs(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """Every run in the journal, oldest first."""
    cli: CliContext = ctx.obj
    check_output(output)
    runs = _runs(cli)
    if output != "text":
        print_data(cli, {"runs": [message_dict(r) for r in runs]}, output)
        return
    if not runs:
        cli.echo("no runs")
        return
    columns = ["run", "environment", "detectors", "run type", "start", "end", "duration", "by", "outcome"]
    rows = [
        [
            str(r.runNumber),
            r.environmentId,
            " ".join(r.detectors),
            r.runType,
            when(r.startMs),
            when(r.endMs),
            _duration(r.startMs, r.endMs),
            r.startedBy,
            r.outcome + (f": {r.error}" if r.error else ""),
        ]
        for r in runs
    ]
    table(cli, columns, rows)


@command(app, "show", "s")
def show(
    ctx: typer.Context,
    number: int = typer.Argument(..., parser=whole_number("a run number", 1), help="Run number."),
    output: str = OUTPUT_OPTION,
) -> None:
    """One run: who started and stopped it, its transitions and how long each took."""
    cli: CliContext = ctx.obj
    check_output(output)
    (run,) = _runs(cli, number)
    if output != "text":
        print_data(cli, {"run": message_dict(run)}, output)
        return
    lines = [
        ("run number", str(run.runNumber)),
        ("environment", run.environmentId),
        ("detectors", " ".join(run.detectors)),
        ("run type", run.runType),
        ("start", when(run.startMs)),
        ("end", when(run.endMs)),
        ("duration", _duration(run.startMs, run.endMs)),
        ("started by", run.startedBy),
        ("stopped by", run.stoppedBy),
        ("outcome", run.outcome + (f": {run.error}" if run.error else "")),
        ("journal", f"events {run.firstSeq}-{run.lastSeq or ''}"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        cli.echo(f"{key + ':':<{width + 1}} {value}")
    rows = [
        [t.transition, when(t.startMs), _duration(t.startMs, t.endMs), t.status or "running", t.user]
        for t in run.transitions
    ]
    table(cli, ["transition", "start", "duration", "status", "by"], rows)
