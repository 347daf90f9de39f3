"""``coconut environment`` (``env``, ``e``): list, create, show, control and destroy environments on the core."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup

from ecs_engine.errors import ExitStatus, HandledError, NotFoundError, UsageError

from .core import connect, spinner
from .repo import check_output, print_data


def alias_group() -> type[TyperGroup]:
    """A command group class that also answers to its commands' aliases (not listed, not built twice)."""

    class AliasGroup(TyperGroup):
        aliases: ClassVar[dict[str, str]] = {}

        def get_command(self, ctx, cmd_name: str):
            return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    return AliasGroup


def aliased(group: typer.Typer, *names: str) -> Callable:
    """Register a command of ``group`` (made with ``cls=alias_group()``) under its upstream name and aliases."""

    def register(func: Callable) -> Callable:
        group.command(names[0])(func)
        group.info.cls.aliases.update(dict.fromkeys(names[1:], names[0]))
        return func

    return register


app = typer.Typer(no_args_is_help=True, cls=alias_group())

OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")
#: what ``-e/--event`` accepts, and the optype sent (EXIT and RECOVER are this project's extensions)
EVENTS = {
    "START_ACTIVITY": 1,
    "START": 1,
    "STOP_ACTIVITY": 2,
    "STOP": 2,
    "CONFIGURE": 3,
    "RESET": 4,
    "GO_ERROR": 5,
    "DEPLOY": 6,
    "EXIT": 1000,
    "RECOVER": 1001,
}


def when(ms: int) -> str:
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def message_dict(message) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, always_print_fields_with_no_presence=True)


def table(env, columns: list[str], rows: list[list[str]]) -> None:
    from rich.box import SIMPLE
    from rich.table import Table

    out = Table(box=SIMPLE, header_style="bold blue")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*row)
    console = env.console
    if not console.is_terminal:  # in a pipe there is no width to fit: rows as wide as their content
        from rich.console import Console

        console = Console(file=env.stdout, width=250, no_color=env.color is False, highlight=False)
    console.print(out)


def vars_block(env, title: str, values: dict[str, str]) -> None:
    if not values:
        return
    from rich.markup import escape

    env.console.print(f"[bold]{title}[/bold]")
    width = max(len(k) for k in values)
    for key in sorted(values):
        env.console.print(f"  {escape(key):<{width}}  {escape(values[key])}", highlight=False)


def _task_rows(tasks) -> list[list[str]]:
    return [
        [
            t.taskId,
            t.className.rsplit("/", 1)[-1],
            t.deploymentInfo.hostname,
            "yes" if t.critical else "no",
            t.status,
            t.state,
        ]
        for t in tasks
    ]


def _environment_text(env, info, *, show_vars: bool) -> None:
    lines = [
        ("environment id", info.id),
        ("workflow template", info.rootRole),
        ("description", info.description),
        ("created", when(info.createdWhen)),
        ("state", info.state),
        ("transition", info.currentTransition),
        ("run number", str(info.currentRunNumber) if info.currentRunNumber else ""),
        ("FLPs", str(info.numberOfFlps)),
        ("detectors", ", ".join(info.includedDetectors)),
        ("tasks", f"{info.numberOfTasks} ({info.numberOfActiveTasks} active, {info.numberOfInactiveTasks} inactive)"),
    ]
    for label, value in lines:
        if value:
            env.echo(f"{label + ':':<19} {value}")
    if show_vars:
        vars_block(env, "global defaults and root defaults", dict(info.defaults))
        vars_block(env, "global vars and root vars", dict(info.vars))
        vars_block(env, "user vars", dict(info.userVars))


# -- list ---------------------------------------------------------------------------------------------------


@aliased(app, "list", "ls", "l")
def list_environments(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "-s", "--show-all", help="Also environments that are not public."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List the environments: id, workflow template, created, state, run number."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    with connect(env) as core:
        reply = core.call("GetEnvironments", pb.GetEnvironmentsRequest(showAll=show_all))
    if output != "text":
        print_data(env, {"environments": [message_dict(e) for e in reply.environments]}, output)
        return
    if not reply.environments:
        env.echo("no environments running")
        return
    rows = [
        [e.id, e.rootRole, when(e.createdWhen), e.state, str(e.currentRunNumber) if e.currentRunNumber else ""]
        for e in reply.environments
    ]
    table(env, ["id", "workflow template", "created", "state", "run"], rows)


# -- create -------------------------------------------------------------------------------------------------


def _configuration(env, name: str) -> dict[str, Any]:
    """``-c``: a local JSON file, or a COG-v1 entry of the configuration store (``o2/runtime/COG-v1/<name>``)."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = env.cwd / path
    if name.endswith(".json") or path.is_file():
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise UsageError(f"-c {name}: cannot read the file: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"-c {name}: not valid JSON: {exc}") from None
    else:
        from ecs_engine.config import Configuration

        with Configuration.open(env.settings.get("config_endpoint") or None, data_dir=env.data_dir) as config:
            text = config.runtime_get("COG-v1", name)
        if text is None:
            raise NotFoundError(f"-c {name}: no such file and no configuration 'COG-v1/{name}' in the store")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"configuration COG-v1/{name}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"-c {name}: expected a JSON object with workflow, variables, ...")
    return data


def _workflow_expression(env, workflow: str, repo: str | None, config: dict[str, Any]) -> str:
    if not workflow:
        workflow = str(config.get("workflow", ""))
        if config.get("repository"):
            workflow = f"{config['repository'].rstrip('/')}/workflows/{workflow}"
        if config.get("revision"):
            workflow += f"@{config['revision']}"
    if not workflow:
        raise UsageError("no workflow template: give -w NAME (or -c with a 'workflow')")
    if repo:
        root = Path(repo).expanduser()
        root = root if root.is_absolute() else env.cwd / root
        if not (root / "workflows").is_dir():
            raise UsageError(f"--repo {repo}: {root} has no workflows/ folder")
        workflow = f"{root.resolve()}/workflows/{workflow}"
    return workflow


@aliased(app, "create", "new", "c", "n")
def create(
    ctx: typer.Context,
    workflow: str = typer.Option("", "-w", "--workflow-template", help="Workflow: [repo/workflows/]name[@rev]."),
    configuration: str = typer.Option(
        "", "-c", "--configuration", help="A .json file or a COG-v1 configuration name (-w and -e win)."
    ),
    extra_vars: list[str] = typer.Option(None, "-e", "--extra-vars", help="Variables: k=v,k2=v2 or a JSON object."),
    public: bool = typer.Option(
        True,
        "-p/-P",
        "--public/--private",
        show_default=False,
        help="Public (default) or not: -P leaves it to the template.",
    ),
    auto: bool = typer.Option(False, "-a", "--auto", help="Run once (create, start, stop, destroy) and stream events."),
    asynchronous: bool = typer.Option(False, "-y", "--asynchronous", help="Return at once; creation goes on."),
    repo: str = typer.Option(None, "--repo", help="A local template directory with workflows/ and tasks/."),
    output: str = OUTPUT_OPTION,
) -> int:
    """Create an environment: deploy and configure the workflow's tasks (ends CONFIGURED)."""
    from ecs_engine.protocols import common_pb2
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.uservars import parse_vars

    env = ctx.obj
    check_output(output)
    config = _configuration(env, configuration) if configuration else {}
    variables = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (config.get("variables") or {}).items()}
    if config.get("detectors") and "detectors" not in variables:
        variables["detectors"] = json.dumps(config["detectors"])
    variables.update(parse_vars(extra_vars or []))
    expression = _workflow_expression(env, workflow, repo, config)
    user = common_pb2.User(name=_user_name(env))
    if auto:
        return _create_auto(env, expression, variables, user)
    request = pb.NewEnvironmentRequest(workflowTemplate=expression, vars=variables, public=public, requestUser=user)
    with connect(env) as core, spinner(env, f"Creating an environment of {expression}..."):
        reply = core.call("NewEnvironmentAsync" if asynchronous else "NewEnvironment", request)
    info = reply.environment
    if output != "text":
        print_data(env, message_dict(reply), output)
        return ExitStatus.OK
    if asynchronous:
        env.echo(f"environment {info.id} is being created (state {info.state}); see 'coconut env show {info.id}'")
        return ExitStatus.OK
    env.echo(f"new environment created with {info.numberOfTasks} tasks")
    _environment_text(env, info, show_vars=env.verbose)
    env.echo(f"{'public:':<19} {'true' if reply.public else 'false'}")
    return ExitStatus.OK


def _user_name(env) -> str:
    import getpass

    try:
        return env.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _create_auto(env, expression: str, variables: dict[str, str], user) -> int:
    """NewAutoEnvironment, then print its events (Subscribe) until it is gone."""
    import threading

    from ecs_engine.events.model import to_dict
    from ecs_engine.ids import new_id
    from ecs_engine.protocols import o2control_pb2 as pb

    stream_id = new_id()
    status = {"error": ""}
    with connect(env) as core:
        events = core.stream("Subscribe", pb.SubscribeRequest(id=stream_id))

        def request() -> None:
            try:
                core.call(
                    "NewAutoEnvironment",
                    pb.NewAutoEnvironmentRequest(
                        workflowTemplate=expression, vars=variables, id=stream_id, requestUser=user
                    ),
                )
            except HandledError as exc:
                status["error"] = exc.render()

        thread = threading.Thread(target=request, daemon=True)
        thread.start()
        for event in events:
            env.echo(event_line(to_dict(event)))
        thread.join()
    if status["error"]:
        raise HandledError(status["error"])
    return ExitStatus.OK


def event_line(data: dict[str, Any]) -> str:
    """One line per event of ``env create -a``: time, kind, and what it says."""
    clock = datetime.datetime.fromtimestamp(int(data.get("timestamp", 0)) / 1000).strftime("%H:%M:%S.%f")[:-3]
    kind = next((k for k in data if k not in ("timestamp", "timestampNano")), "")
    p = data.get(kind, {})
    if kind == "environmentEvent":
        text = " ".join(
            x
            for x in (p.get("state", ""), p.get("transition", ""), p.get("transitionStep", ""), p.get("message", ""))
            if x
        )
        if p.get("error"):
            text += f" error: {p['error']}"
    elif kind == "taskEvent":
        text = f"task {p.get('path', '')} {p.get('status', '')} {p.get('state', '')}"
    elif kind == "roleEvent":
        text = f"role {p.get('rolePath', '')} {p.get('status', '')} {p.get('state', '')}"
    elif kind == "callEvent":
        text = f"call {p.get('path', '')} {p.get('func', '')} {p.get('callStatus', '')} {p.get('error', '')}".rstrip()
    elif kind == "runEvent":
        text = f"run {p.get('runNumber', '')} {p.get('transition', '')} {p.get('transitionStatus', '')}"
    else:
        text = json.dumps(p, sort_keys=True)
    return f"{clock} {kind.removesuffix('Event'):<12} {text}"


# -- show ---------------------------------------------------------------------------------------------------


@aliased(app, "show", "get", "s", "g")
def show(
    ctx: typer.Context,
    environment_id: str = typer.Argument(..., metavar="ID", help="Environment id."),
    tasks: bool = typer.Option(False, "-t", "--tasks", help="Table of the environment's tasks."),
    workflow: bool = typer.Option(False, "-w", "--workflow", help="The role tree with status and state."),
    services: bool = typer.Option(False, "-s", "--services", help="Integrated services' data of the environment."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Show one environment: state, run, variables; its tasks (-t), role tree (-w), services (-s)."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    with connect(env) as core:
        reply = core.call("GetEnvironment", pb.GetEnvironmentRequest(id=environment_id, showWorkflowTree=workflow))
        reason = core.last_error
    info = reply.environment
    if output != "text":
        print_data(env, {**message_dict(reply), **({"error": reason} if reason else {})}, output)
        return
    _environment_text(env, info, show_vars=True)
    if reason:
        env.echo(f"{'error:':<19} {reason}")
    env.echo(f"{'public:':<19} {'true' if reply.public else 'false'}")
    if tasks:
        env.echo("")
        table(env, ["task id", "class", "hostname", "critical", "status", "state"], _task_rows(info.tasks))
    if workflow:
        from rich.tree import Tree

        def add(tree, role) -> None:
            branch = tree.add(f"[bold]{role.name}[/bold]  {role.status}  {role.state}")
            for child in role.roles:
                add(branch, child)

        root = Tree(f"[bold]{reply.workflow.name}[/bold]  {reply.workflow.status}  {reply.workflow.state}")
        for child in reply.workflow.roles:
            add(root, child)
        env.console.print(root)
    if services:
        vars_block(env, "integrated services", dict(info.integratedServicesData))


# -- control ------------------------------------------------------------------------------------------------


@aliased(app, "control", "ctl", "ct", "t")
def control(
    ctx: typer.Context,
    environment_id: str = typer.Argument(..., metavar="ID", help="Environment id."),
    event: str = typer.Option(
        ..., "-e", "--event", help="START (START_ACTIVITY), STOP (STOP_ACTIVITY), CONFIGURE, RESET, RECOVER, EXIT."
    ),
    output: str = OUTPUT_OPTION,
) -> int:
    """Run one transition of an environment."""
    from ecs_engine.protocols import common_pb2
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    optype = EVENTS.get(event.strip().upper())
    if optype is None:
        raise UsageError(f"-e/--event: unknown event '{event}' (expected one of {', '.join(EVENTS)})")
    request = pb.ControlEnvironmentRequest(
        id=environment_id, type=optype, requestUser=common_pb2.User(name=_user_name(env))
    )
    with connect(env) as core, spinner(env, f"{event.upper()} of {environment_id}..."):
        reply = core.call("ControlEnvironment", request)
        reason = core.last_error
    if output != "text":
        print_data(env, {**message_dict(reply), **({"error": reason} if reason else {})}, output)
    if reason:
        raise HandledError(f"transition {event.upper()} failed: {reason}; the environment is now {reply.state}")
    if output == "text":
        env.echo("transition complete")
        env.echo(f"{'environment id:':<19} {reply.id}")
        env.echo(f"{'state:':<19} {reply.state}")
        if reply.currentRunNumber:
            env.echo(f"{'run number:':<19} {reply.currentRunNumber}")
        env.echo(f"{'start:':<19} {when(reply.startOfTransition)}")
        env.echo(f"{'end:':<19} {when(reply.endOfTransition)}")
        env.echo(f"{'duration:':<19} {reply.transitionDuration / 1000:.3f} s")
    return ExitStatus.OK


# -- destroy ------------------------------------------------------------------------------------------------


@aliased(app, "destroy", "des", "d")
def destroy(
    ctx: typer.Context,
    environment_id: str = typer.Argument(..., metavar="ID", help="Environment id."),
    keep_tasks: bool = typer.Option(False, "-k", "--keep-tasks", help="Leave the tasks running (unlocked)."),
    allow_in_running_state: bool = typer.Option(
        False, "-a", "--allow-in-running-state", help="If RUNNING, STOP first (else refused)."
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Tear down whatever the state (skips STOP/RESET)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Tear an environment down and kill its tasks."""
    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    request = pb.DestroyEnvironmentRequest(
        id=environment_id, keepTasks=keep_tasks, allowInRunningState=allow_in_running_state, force=force
    )
    with connect(env) as core, spinner(env, f"Destroying {environment_id}..."):
        reply = core.call("DestroyEnvironment", request)
    if output != "text":
        print_data(env, message_dict(reply), output)
        return
    killed = len(reply.cleanupTasksReply.killedTasks)
    env.echo(f"teardown complete for environment {environment_id}")
    env.echo(f"{killed} task(s) killed" + (", tasks kept running (unlocked)" if keep_tasks else ""))
