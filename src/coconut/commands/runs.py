"""``coconut runs``: the run registry the core keeps in its event journal — list the runs, show one."""

from __future__ import annotations

import time
from typing import Any

import typer

from ecs_engine.durations import format_duration
from ecs_engine.errors import UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, message_dict, print_data, table
from ..query_times import time_range, whole_number
from .env import when

app = command_group()

OUTCOMES = ("ok", "error", "running")


def _runs(cli: CliContext, number: int = 0) -> list[Any]:
    from ecs_engine.protocols import journal_pb2 as pb

    with connect(cli) as core:
        return list(core.call("GetRuns", pb.RunsRequest(runNumber=number)).runs)


def _duration(start_ms: int, end_ms: int) -> str:
    return format_duration(round((end_ms - start_ms) / 1000, 3)) if start_ms and end_ms else ""


def run_duration(run: Any, now_ms: int | None = None) -> str:
    """How long the run lasted, or for one still going on, how long it has lasted so far."""
    if run.outcome != "running" or run.endMs or not run.startMs:
        return _duration(run.startMs, run.endMs)
    now_ms = now_ms or int(time.time() * 1000)
    return f"{format_duration(round((now_ms - run.startMs) / 1000))} so far"


def matching(
    runs: list[Any],
    *,
    env: str | None = None,
    detectors: list[str] | None = None,
    outcome: str | None = None,
    since_ms: int = 0,
    until_ms: int = 0,
) -> list[Any]:
    """The runs of ``env``, with any of ``detectors``, of ``outcome``, going on at some time between ``since_ms``
    and ``until_ms`` (a run still going on lasts until now): what an operator asks of a shift's runs."""
    return [
        r
        for r in runs
        if (not env or r.environmentId == env)
        and (not detectors or set(detectors) & set(r.detectors))
        and (not outcome or r.outcome == outcome)
        and (not until_ms or r.startMs < until_ms)
        and (not since_ms or not r.endMs or r.endMs >= since_ms)
    ]


@command(app, "list", "ls", "l")
def list_runs(
    ctx: typer.Context,
    env: str = typer.Option(None, "--env", help="Only this environment's runs."),
    detector: list[str] = typer.Option(None, "--detector", help="Only runs with this detector; repeatable."),
    outcome: str = typer.Option(None, "--outcome", help="Only runs that ended so: ok, error or running."),
    since: str = typer.Option(
        None, "--since", help="Only runs going on at or after this time: ISO 8601, '1 hour ago', 30m, today."
    ),
    until: str = typer.Option(None, "--until", help="Only runs begun before this time (same forms as --since)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """The runs in the journal, oldest first: every one, or those the options name."""
    cli: CliContext = ctx.obj
    check_output(output)
    if outcome is not None and outcome not in OUTCOMES:
        raise UsageError(f"--outcome: expected one of {', '.join(OUTCOMES)}, got '{outcome}'")
    since_ms, until_ms = time_range(since, until)
    every = _runs(cli)
    runs = matching(every, env=env, detectors=detector, outcome=outcome, since_ms=since_ms, until_ms=until_ms)
    if output != "text":
        print_data(cli, {"runs": [message_dict(r) for r in runs]}, output)
        return
    if not runs:
        cli.echo(f"no runs (of {len(every)}) match" if every else "no runs")
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
            run_duration(r),
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
        ("duration", run_duration(run)),
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
