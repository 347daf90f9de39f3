"""``coconut events``: the core's event journal — query it, follow it live, browse it full-screen.

The core owns the journal; these commands read it through the core's ``ecs.journal.Journal`` service.
"""

from __future__ import annotations

from typing import Any

import typer

from ecs_engine.errors import ExitStatus, UnreachableError, UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..event_output import EVENT_HEADER, event_data, event_text, kind_names
from ..output import OUTPUT_OPTION, check_output, heading, print_data
from ..query_times import time_range, whole_number

app = command_group()

#: events asked for per QueryEvents call (the core answers at most 10,000)
PAGE = 5000

ENV_OPTION = typer.Option(None, "--env", help="Only this environment's events.")
RUN_OPTION = typer.Option(
    None,
    "--run",
    parser=whole_number("a run number", 1),
    help="Only the events of this run (the journal range it owns).",
)
KIND_OPTION = typer.Option(
    None,
    "--kind",
    help="Only this kind (environment, task, role, call, integratedService, run, framework, mesosHeartbeat,"
    " coreStart, beamMode); repeatable.",
)
SEVERITIES = ("info", "warning", "error")
SEVERITY_OPTION = typer.Option(
    None, "--severity", help="Only events of this level (info, warning, error); repeatable, e.g. --severity error."
)
SINCE_OPTION = typer.Option(None, "--since", help="From this time: ISO 8601, '1 hour ago', 30m, today.")
UNTIL_OPTION = typer.Option(None, "--until", help="Up to this time (same forms as --since).")


def event_query(
    env: str | None,
    run: int | None,
    kinds: list[str] | None,
    since: str | None,
    until: str | None,
    **fields: Any,
) -> Any:
    from ecs_engine.protocols import journal_pb2 as pb

    since_ms, until_ms = time_range(since, until)
    return pb.EventQuery(
        environmentId=env or "",
        runNumber=run or 0,
        kinds=kind_names(kinds),
        sinceMs=since_ms,
        untilMs=until_ms,
        **fields,
    )


def severity_filter(severities: list[str] | None) -> frozenset[str]:
    """The ``--severity`` levels kept (none: every level); a UsageError for one that no event has."""
    for severity in severities or ():
        if severity not in SEVERITIES:
            raise UsageError(f"--severity: expected one of {', '.join(SEVERITIES)}, got '{severity}'")
    return frozenset(severities or ())


def fetch_events(cli: CliContext, query: Any, severities: frozenset[str] = frozenset()) -> list[Any]:
    """Every event ``query`` matches of ``severities`` (any if none; the core does not filter by level), at most
    its ``limit`` if set, asked for a page at a time; a run the journal does not know is a NotFoundError, as for
    ``runs show``, not an empty answer."""
    from ecs_engine.protocols import journal_pb2 as pb

    wanted = query.limit or None
    events: list[Any] = []
    with connect(cli) as core:
        while wanted is None or len(events) < wanted:
            query.limit = PAGE if wanted is None or severities else min(PAGE, wanted - len(events))
            page = core.call("QueryEvents", query).events
            events.extend(e for e in page if not severities or e.severity in severities)
            if len(page) < query.limit:
                break
            query.afterSeq = page[-1].seq
        if not events and query.runNumber:
            core.call("GetRuns", pb.RunsRequest(runNumber=query.runNumber))
    return events[:wanted]


@command(app, "query", "q", "list", "ls", "l")  # list: as env, runs and task list theirs
def query(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    run: int = RUN_OPTION,
    kind: list[str] = KIND_OPTION,
    severity: list[str] = SEVERITY_OPTION,
    since: str = SINCE_OPTION,
    until: str = UNTIL_OPTION,
    limit: int = typer.Option(
        0, "--limit", parser=whole_number("a number of events", 0), help="Only the first (oldest) N events (0: all)."
    ),
    output: str = OUTPUT_OPTION,
) -> None:
    """Events of the journal, oldest first."""
    cli: CliContext = ctx.obj
    check_output(output)
    levels = severity_filter(severity)
    events = fetch_events(cli, event_query(env, run, kind, since, until, limit=limit), levels)
    if output != "text":
        print_data(cli, [event_data(e) for e in events], output)
        return
    if not events:
        cli.echo("no events")
        return
    heading(cli, EVENT_HEADER)
    for entry in events:
        cli.echo(event_text(entry))


@command(app, "follow", "f")
def follow(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    kind: list[str] = KIND_OPTION,
    severity: list[str] = SEVERITY_OPTION,
    after: int = typer.Option(
        None,
        "--after",
        parser=whole_number("a sequence number", 0),
        help="Replay the events after this sequence number first (default: from now).",
    ),
    output: str = typer.Option("text", "-o", "--output", help="text, or json (one object per line)."),
) -> ExitStatus:
    """Events as they happen, until Ctrl-C, or until the core stops (exit 3, naming the --after to go on with)."""
    import json

    cli: CliContext = ctx.obj
    check_output(output, ("text", "json"))
    levels = severity_filter(severity)
    request = event_query(env, None, kind, None, None, afterSeq=after or 0, fromNow=after is None)
    shown = after
    try:
        with connect(cli) as core:
            events = core.stream("FollowEvents", request)
            try:
                for entry in events:
                    shown = entry.seq
                    if levels and entry.severity not in levels:
                        continue
                    cli.echo(event_text(entry) if output == "text" else json.dumps(event_data(entry)))
                    cli.stdout.flush()
            except UnreachableError:  # (the core went away during the call): say how to go on without a gap
                since = f" --after {shown}" if shown is not None else ""
                raise UnreachableError(
                    f"the core at {core.endpoint} stopped answering while its events were followed",
                    hint=f"once a core answers, go on without a gap: 'coconut events follow{since}' with the same options",
                ) from None
    except KeyboardInterrupt:
        pass  # Ctrl-C is how following ends
    return ExitStatus.OK


def on_a_terminal(cli: CliContext) -> bool:
    """Whether the pager has a terminal to read keys from and draw on (tests that drive it through
    prompt_toolkit's pipe input replace this)."""
    return cli.stdin.isatty() and cli.stdout.isatty()


@command(app, "browse", "b")
def browse(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    run: int = RUN_OPTION,
    kind: list[str] = KIND_OPTION,
    severity: list[str] = SEVERITY_OPTION,
    since: str = SINCE_OPTION,
    until: str = UNTIL_OPTION,
) -> None:
    """A full-screen pager over the journal: scroll, search (/), filter (f), jump to a run (r), quit (q)."""
    cli: CliContext = ctx.obj
    levels = severity_filter(severity)
    if not on_a_terminal(cli):  # prompt_toolkit would only warn, then fail on EOF
        raise UsageError("events browse needs a terminal", hint="events query prints the same events as text")
    from ..events_browser import EventBrowser

    events = fetch_events(cli, event_query(env, run, kind, since, until), levels)
    EventBrowser(events).run()
