"""``coconut task`` (``t``): the tasks the core runs, cleaning up unlocked ones, and their output files."""

from __future__ import annotations

from pathlib import Path

import typer

from ecs_engine.errors import NotFoundError, UsageError

from .core import connect, spinner
from .env import alias_group, aliased, message_dict, table
from .repo import check_output, print_data

app = typer.Typer(no_args_is_help=True, cls=alias_group())

OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")
COLUMNS = ["task id", "class", "host", "locked", "claimable", "critical", "status", "state", "PID"]


def _rows(tasks) -> list[list[str]]:
    yes = {True: "yes", False: "no"}
    return [
        [
            t.taskId,
            t.className.rsplit("/", 1)[-1],
            t.deploymentInfo.hostname,
            yes[t.locked],
            yes[t.claimable],
            yes[t.critical],
            t.status,
            t.state,
            t.pid,
        ]
        for t in tasks
    ]


def _table(env, rows) -> None:
    table(env, COLUMNS, rows)


@aliased(app, "list", "ls", "l")
def list_tasks(ctx: typer.Context, output: str = OUTPUT_OPTION) -> None:
    """List every task the core runs, locked (in an environment) or not."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    with connect(env) as core:
        reply = core.call("GetTasks", pb.GetTasksRequest())
    if output != "text":
        print_data(env, {"tasks": [message_dict(t) for t in reply.tasks]}, output)
        return
    if not reply.tasks:
        env.echo("no tasks running")
        return
    _table(env, _rows(reply.tasks))


@aliased(app, "clean", "cleanup", "cl")
def clean(
    ctx: typer.Context,
    task_ids: list[str] = typer.Argument(None, metavar="[ID]...", help="Tasks to kill (default: every unlocked one)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Kill unlocked tasks (left running by 'env destroy -k'); tasks of an environment are refused."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    with connect(env) as core, spinner(env, "Killing tasks..."):
        reply = core.call("CleanupTasks", pb.CleanupTasksRequest(taskIds=task_ids or []))
    if output != "text":
        print_data(env, message_dict(reply), output)
        return
    if reply.killedTasks:
        env.echo("killed tasks:")
        _table(env, _rows(reply.killedTasks))
    else:
        env.echo("no task killed")
    env.echo(f"{len(reply.runningTasks)} tasks running")


@aliased(app, "logs", "log")
def logs(
    ctx: typer.Context,
    task_id: str = typer.Argument(..., metavar="ID", help="Task id (see 'coconut task list')."),
    stream: str = typer.Option("all", "-s", "--stream", help="stdout, stderr or all."),
    lines: int = typer.Option(0, "-n", "--lines", help="Only the last N lines of each (0: all)."),
) -> None:
    """Print a task's output files (stdout/stderr of the task template set to 'stdout' or 'all')."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    if stream not in ("stdout", "stderr", "all"):
        raise UsageError(f"--stream: expected stdout, stderr or all, got '{stream}'")
    with connect(env) as core:
        task = core.call("GetTask", pb.GetTaskRequest(taskId=task_id)).task
    paths = {"stdout": task.properties.get("stdoutLog", ""), "stderr": task.properties.get("stderrLog", "")}
    wanted = ["stdout", "stderr"] if stream == "all" else [stream]
    shown = 0
    for name in wanted:
        path = paths[name]
        if not path:
            continue
        try:
            text = Path(path).read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        body = text.splitlines()[-lines:] if lines else text.splitlines()
        if stream == "all":
            env.echo(f"==> {name}: {path} <==")
        for line in body:
            env.echo(line)
        shown += 1
    if not shown:
        raise NotFoundError(
            f"task {task_id} keeps no {stream if stream != 'all' else 'output'} file",
            hint="its task template sends it to 'none'; set command.stdout/stderr to 'stdout' or 'all'",
        )
