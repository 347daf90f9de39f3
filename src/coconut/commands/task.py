"""``coconut task`` (``t``): the tasks the core runs, cleaning up unlocked ones, and their output files."""

from __future__ import annotations

from pathlib import Path

import typer

from ecs_engine.errors import NotFoundError, UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, counted, message_dict, print_data, spinner, table, vars_block

app = command_group()

#: what fits 80 columns with ALICE's host names (alio2-cr1-flp146); the state cell also says what is unusual
#: (``_notes``); the pid and the rest are in 'task show' and -o json/yaml
COLUMNS = ["task id", "environment", "class", "host", "state"]


def _rows(tasks) -> list[list[str]]:
    return [
        [
            t.taskId,
            t.environmentId,
            t.className.rsplit("/", 1)[-1].partition("@")[0],
            t.deploymentInfo.hostname,
            " ".join([t.state, *_notes(t)]),
        ]
        for t in tasks
    ]


def _notes(task) -> list[str]:
    """What differs from a task of an environment running as it should, one word each (a narrow cell wraps them)."""
    notes = [task.status] if task.status != "ACTIVE" else []
    notes += ["claimable"] if task.claimable else []
    notes += ["non-critical"] if not task.critical else []
    return notes + ([f"restarts:{task.restarts}"] if task.restarts else [])


@command(app, "list", "ls", "l")
def list_tasks(
    ctx: typer.Context,
    env: str = typer.Option(None, "--env", metavar="ID", help="Only this environment's tasks."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List every task the core runs: an environment's (locked), or released by 'env destroy -k' (no environment)."""
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core:
        reply = core.call("GetTasks", pb.GetTasksRequest(environmentId=env or ""))
    if output != "text":
        print_data(cli, {"tasks": [message_dict(t) for t in reply.tasks]}, output)
        return
    if not reply.tasks:
        cli.echo(f"no tasks running in environment {env}" if env else "no tasks running")
        return
    table(cli, COLUMNS, _rows(reply.tasks))


@command(app, "clean", "cleanup", "cl")
def clean(
    ctx: typer.Context,
    task_ids: list[str] = typer.Argument(None, metavar="[ID]...", help="Tasks to kill (default: every unlocked one)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Kill unlocked tasks (left running by 'env destroy -k'); tasks of an environment are refused."""
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core, spinner(cli, "Killing tasks..."):
        reply = core.call("CleanupTasks", pb.CleanupTasksRequest(taskIds=task_ids or []))
    if output != "text":
        print_data(cli, message_dict(reply), output)
        return
    if reply.killedTasks:
        cli.echo("killed tasks:")
        table(cli, COLUMNS, _rows(reply.killedTasks))
    else:
        cli.echo("no task killed")
    cli.echo(f"{counted(len(reply.runningTasks), 'task')} running")


@command(app, "show", "get", "s")
def show(
    ctx: typer.Context,
    task_id: str = typer.Argument(..., metavar="ID", help="Task id (see 'coconut task list')."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Show one task: environment, role path, host, state, pid, command line, channels, properties (also one of the
    last that failed to start: 'ended' says why)."""
    import shlex

    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core:
        task = core.call("GetTask", pb.GetTaskRequest(taskId=task_id)).task
    if output != "text":
        print_data(cli, {"task": message_dict(task)}, output)
        return
    short, command_info = task.shortInfo, task.commandInfo
    yes = {True: "yes", False: "no"}
    command_line = (
        command_info.value if command_info.shell else shlex.join([command_info.value, *command_info.arguments])
    )
    fields = [
        ("task id", short.taskId),
        ("environment", task.envId),
        ("role path", task.taskPath),
        ("class", short.className.rsplit("/", 1)[-1]),
        ("host", short.deploymentInfo.hostname),
        ("locked", yes[short.locked]),
        ("claimable", yes[short.claimable]),
        ("critical", yes[short.critical]),
        ("status", short.status),
        ("state", short.state),
        ("PID", short.pid),
        ("restarts", str(short.restarts)),
        ("command", command_line),
        ("inbound", ", ".join(f"{c.name} ({c.type}) {c.target}".rstrip() for c in task.inboundChannels)),
        ("outbound", ", ".join(f"{c.name} ({c.type}) {c.target}".rstrip() for c in task.outboundChannels)),
    ]
    for label, value in fields:
        if value:
            cli.echo(f"{label + ':':<13} {value}")
    vars_block(cli, "properties", dict(task.properties))


@command(app, "logs", "log")
def logs(
    ctx: typer.Context,
    task_id: str = typer.Argument(..., metavar="ID", help="Task id (see 'coconut task list')."),
    stream: str = typer.Option("all", "-s", "--stream", help="stdout, stderr or all."),
    lines: int = typer.Option(0, "-n", "--lines", help="Only the last N lines of each (0: all)."),
    follow: bool = typer.Option(
        False, "-f", "--follow", help="Then print what is written, until the task ends or Ctrl-C."
    ),
) -> None:
    """Print a task's output files (stdout/stderr of the task template set to 'stdout' or 'all')."""
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    if stream not in ("stdout", "stderr", "all"):
        raise UsageError(f"--stream: expected stdout, stderr or all, got '{stream}'")
    if lines < 0:
        raise UsageError(f"--lines: expected 0 (all) or a positive number, got {lines}")
    with connect(cli) as core:
        task = core.call("GetTask", pb.GetTaskRequest(taskId=task_id)).task
    paths = {"stdout": task.properties.get("stdoutLog", ""), "stderr": task.properties.get("stderrLog", "")}
    wanted = ["stdout", "stderr"] if stream == "all" else [stream]
    read: dict[str, int] = {}  # bytes printed of each file, where following goes on
    for name in wanted:
        path = paths[name]
        if not path:
            continue
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            data = b""
        text = data.decode(errors="replace")
        body = text.splitlines()[-lines:] if lines else text.splitlines()
        if stream == "all":
            cli.echo(f"==> {name}: {path} <==")
        for line in body:
            cli.echo(line)
        read[path] = len(data)
    if not read:
        raise NotFoundError(
            f"task {task_id} keeps no {stream if stream != 'all' else 'output'} file",
            hint="its task template sends it to 'none'; set command.stdout/stderr to 'stdout' or 'all'",
        )
    if follow:
        try:
            _follow(cli, task_id, read)
        except KeyboardInterrupt:  # Ctrl-C ends following: not an error
            pass


def _follow(cli: CliContext, task_id: str, read: dict[str, int]) -> None:
    """Print what is appended to the files in ``read`` until the task's process has ended or the core no longer
    knows the task."""
    import time

    from ecs_engine.protocols import o2control_pb2 as pb

    with connect(cli) as core:
        while True:
            end = _task_end(core, pb, task_id)
            gone = end is not None
            for path, offset in read.items():
                try:
                    with open(path, "rb") as file:
                        file.seek(offset)
                        data = file.read()
                except FileNotFoundError:
                    continue
                complete = data[: data.rfind(b"\n") + 1] if not gone else data  # whole lines while it runs
                for line in complete.decode(errors="replace").splitlines():
                    cli.echo(line)
                read[path] = offset + len(complete)
            cli.stdout.flush()
            if gone:
                cli.error(f"coconut: task {task_id} has ended{end}")
                return
            time.sleep(FOLLOW_INTERVAL)


FOLLOW_INTERVAL = 0.25  # seconds between looks at the files, as tail -f's default 1 s but livelier


def _task_end(core, pb, task_id: str) -> str | None:
    """None while the task may still write: known to the core and its process running, or not started yet (a
    basic task before START); else how it ended (``: exited with code 127``), "" if the core forgot it."""
    try:
        task = core.call("GetTask", pb.GetTaskRequest(taskId=task_id)).task
    except NotFoundError:
        return ""
    ended = task.properties.get("ended", "")
    return f": {ended}" if ended and not task.shortInfo.pid else None
