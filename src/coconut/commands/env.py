"""``coconut environment`` (``env``, ``e``): list, create, show, control and destroy environments on the core."""

# Annotations are evaluated here, not kept as strings (no ``from __future__ import annotations``): typer reads
# the commands' signatures at each run and would evaluate every string (issue 19).
import contextlib
import datetime
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import typer

from ecs_engine.errors import ExitStatus, HandledError, NotFoundError, RefusedError, UsageError
from ecs_engine.server.wire import ENVIRONMENT_ID_KEY, OPTYPE_EXIT, OPTYPE_RECOVER

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import (
    OUTPUT_OPTION,
    check_output,
    counted,
    message_dict,
    print_data,
    spinner,
    state_cell,
    table,
    vars_block,
)
from ..stores import open_config

app = command_group()

#: what ``-e/--event`` accepts, and the optype sent (EXIT and RECOVER are this project's extensions)
EVENTS = {
    "START_ACTIVITY": 1,
    "START": 1,
    "STOP_ACTIVITY": 2,
    "STOP": 2,
    "CONFIGURE": 3,
    "RESET": 4,
    "DEPLOY": 6,
    "EXIT": OPTYPE_EXIT,
    "RECOVER": OPTYPE_RECOVER,
}
#: the core's names of the events ``-e`` takes a shorter name for (START_ACTIVITY: START), to say them so
TYPED_NAMES = {
    name: short
    for name, optype in EVENTS.items()
    for short, same in EVENTS.items()
    if same == optype and len(short) < len(name)
}


def when(ms: int) -> str:
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _task_rows(tasks) -> list[list[str]]:
    return [
        [
            t.taskId,
            t.className.rsplit("/", 1)[-1],
            t.deploymentInfo.hostname,
            "yes" if t.critical else "no",
            t.status,
            t.state,
            str(t.restarts),
        ]
        for t in tasks
    ]


def _environment_text(cli: CliContext, reply: Any, *, show_vars: bool, error: str = "") -> None:
    """The environment's facts, then its variables: the facts of the reply (public, the core's error) among the
    others, not under a screenful of variables."""
    info = reply.environment
    lines = [
        ("environment id", info.id),
        ("workflow template", info.rootRole),
        ("description", info.description),
        ("created", when(info.createdWhen)),
        ("state", info.state),
        ("transition", info.currentTransition and f"{info.currentTransition} in progress"),
        ("last transition", _last_transition(info)),
        ("run number", str(info.currentRunNumber) if info.currentRunNumber else ""),
        ("FLPs", str(info.numberOfFlps)),
        ("detectors", ", ".join(info.includedDetectors)),
        ("tasks", f"{info.numberOfTasks} ({info.numberOfActiveTasks} active, {info.numberOfInactiveTasks} inactive)"),
        ("task restarts", _restarts(info.tasks)),
        ("error", error),
        ("public", "true" if reply.public else "false"),
    ]
    for label, value in lines:
        if value:
            cli.echo(f"{label + ':':<19} {value}")
    if show_vars:
        vars_block(cli, "global defaults and root defaults", dict(info.defaults))
        vars_block(cli, "global vars and root vars", dict(info.vars))
        vars_block(cli, "user vars", dict(info.userVars))


def _restarts(tasks) -> str:
    """How many times tasks were restarted by their restart policy, in all and per task ("" if never)."""
    restarted = [t for t in tasks if t.restarts]
    if not restarted:
        return ""
    each = ", ".join(f"{t.taskId} {t.restarts}" for t in restarted)
    return f"{sum(t.restarts for t in restarted)} ({each})"


def _last_transition(info: Any) -> str:
    """How the last transition run to its end ended (a client that went away learns it here)."""
    if not info.lastTransition:
        return ""
    outcome = f"failed: {info.lastTransitionError}" if info.lastTransitionError else "succeeded"
    return f"{info.lastTransition} {outcome} ({when(info.lastTransitionEnd)})"


# -- list ---------------------------------------------------------------------------------------------------


@command(app, "list", "ls", "l")
def list_environments(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "-s", "--show-all", help="Also environments that are not public."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List the environments: id, workflow template, created, state, run number."""
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    requests = [pb.GetEnvironmentsRequest(showAll=show_all)]
    if output == "text" and not show_all:
        requests.append(pb.GetEnvironmentsRequest(showAll=True))  # to count the hidden ones
    with connect(cli) as core:
        reply, *every = core.call_all([("GetEnvironments", request) for request in requests])
    if output != "text":
        print_data(cli, {"environments": [message_dict(e) for e in reply.environments]}, output)
        return
    hidden = len(every[0].environments) - len(reply.environments) if every else 0
    if reply.environments:
        rows = [
            [
                e.id,
                e.rootRole,
                when(e.createdWhen),
                state_cell(e.state, e.currentTransition),
                str(e.currentRunNumber) if e.currentRunNumber else "",
            ]
            for e in reply.environments
        ]
        table(cli, ["id", "workflow template", "created", "state", "run"], rows)
    elif not hidden:
        cli.echo("no environments")
    if hidden:
        plural = "s" if hidden > 1 else ""
        prefix = "" if reply.environments else "no public environments; "
        cli.echo(f"{prefix}{hidden} non-public environment{plural} hidden (show with -s/--show-all)")


# -- create -------------------------------------------------------------------------------------------------


def _configuration(cli: CliContext, name: str) -> dict[str, Any]:
    """``-c``: a local JSON file, or a COG-v1 entry of the configuration store (``o2/runtime/COG-v1/<name>``)."""
    import json  # here, not at the top: ~5M instructions of each env command's start (issue 19)

    path = Path(name).expanduser()
    if not path.is_absolute():
        path = cli.cwd / path
    if name.endswith(".json") or path.is_file():
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise UsageError(f"-c {name}: cannot read the file: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"-c {name}: not valid JSON: {exc}") from None
    else:
        with open_config(cli) as config:
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


def _workflow_expression(cli: CliContext, workflow: str, repo: str | None, config: dict[str, Any]) -> str:
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
        root = root if root.is_absolute() else cli.cwd / root
        if not (root / "workflows").is_dir():
            raise UsageError(f"--repo {repo}: {root} has no workflows/ folder")
        workflow = f"{root.resolve()}/workflows/{workflow}"
    return workflow


@command(app, "create", "new", "c", "n")
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
    auto: bool = typer.Option(
        False,
        "-a",
        "--auto",
        help="Run once, streaming its events: create, START, and once the run ends (every task done, or the"
        " auto_stop_timeout variable), STOP and destroy. Exits 1 if it fails.",
    ),
    asynchronous: bool = typer.Option(False, "-y", "--asynchronous", help="Return at once; creation goes on."),
    repo: str = typer.Option(None, "--repo", help="A local template directory with workflows/ and tasks/."),
    output: str = OUTPUT_OPTION,
) -> int:
    """Create an environment: deploy and configure the workflow's tasks (ends CONFIGURED)."""
    import json

    from ecs_engine.protocols import common_pb2
    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.uservars import parse_vars

    cli: CliContext = ctx.obj
    check_output(output)
    config = _configuration(cli, configuration) if configuration else {}
    variables = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (config.get("variables") or {}).items()}
    if config.get("detectors") and "detectors" not in variables:
        variables["detectors"] = json.dumps(config["detectors"])
    variables.update(parse_vars(extra_vars or []))
    expression = _workflow_expression(cli, workflow, repo, config)
    user = common_pb2.User(name=_user_name(cli))
    if auto:
        if asynchronous:
            raise UsageError("-a/--auto follows the run to its end: it cannot be combined with -y/--asynchronous")
        return _create_auto(cli, expression, variables, user)
    request = pb.NewEnvironmentRequest(workflowTemplate=expression, vars=variables, public=public, requestUser=user)
    announced: list[str] = []
    with (
        _said_if_interrupted(cli, lambda: _interrupted_create(announced)),
        connect(cli) as core,
        spinner(cli, f"Creating an environment of {expression}..."),
    ):
        if asynchronous:
            reply = core.call("NewEnvironmentAsync", request)
        else:
            reply = core.call("NewEnvironment", request, on_metadata=lambda md: _announce(cli, md, announced))
    info = reply.environment
    if output != "text":
        print_data(cli, message_dict(reply), output)
        return ExitStatus.OK
    if asynchronous:
        cli.echo(f"environment {info.id} is being created (state {info.state}); see 'coconut env show {info.id}'")
        return ExitStatus.OK
    cli.echo(f"new environment created with {counted(info.numberOfTasks, 'task')}")
    _environment_text(cli, reply, show_vars=cli.verbose)
    return ExitStatus.OK


def _announce(cli: CliContext, metadata: dict[str, str], announced: list[str]) -> None:
    """The new environment's id, on stderr as soon as it exists (kept in ``announced``): an interrupted create
    can be found."""
    environment_id = metadata.get(ENVIRONMENT_ID_KEY)
    if environment_id:
        announced.append(environment_id)
        cli.error(f"coconut: environment {environment_id} exists, deploying and configuring it")


def _interrupted_create(announced: list[str]) -> str:
    """What a Ctrl-C during a create leaves: the core goes on with it."""
    if not announced:
        return "the core may still create the environment; see 'coconut env list'"
    environment_id = announced[0]
    return (
        f"the core goes on deploying and configuring environment {environment_id}; "
        f"see 'coconut env show {environment_id}', end it with 'coconut env destroy {environment_id}'"
    )


@contextlib.contextmanager
def _said_if_interrupted(cli: CliContext, what_goes_on: Callable[[], str]) -> Iterator[None]:
    """Ctrl-C cancels coconut's call, not what the core received: say what goes on, then end interrupted (130)."""
    try:
        yield
    except KeyboardInterrupt:
        cli.error(f"coconut: interrupted: {what_goes_on()}")
        raise


def _user_name(cli: CliContext) -> str:
    import getpass

    try:
        return cli.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _create_auto(cli: CliContext, expression: str, variables: dict[str, str], user: Any) -> ExitStatus:
    """NewAutoEnvironment, then print its events (Subscribe) until it is gone; 1 if it failed on the way."""
    import threading

    from ecs_engine.ids import new_id
    from ecs_engine.protocols import o2control_pb2 as pb

    stream_id = new_id()
    status = {"error": "", "failure": "", "environment": ""}
    with connect(cli) as core:
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
        try:
            _follow_auto(cli, events, status)
        except KeyboardInterrupt:
            if status["environment"]:  # Ctrl-C stops the following, not the run
                cli.error(
                    f"coconut: environment {status['environment']} goes on; to end it: "
                    f"coconut env destroy {status['environment']} -a"
                )
            raise
        thread.join()
    if status["error"] or status["failure"]:  # the run failed: a script sees it in the exit status
        raise HandledError(status["error"] or status["failure"])
    return ExitStatus.OK


def _follow_auto(cli: CliContext, events: Any, status: dict[str, str]) -> None:
    """Print each event of the auto environment; keep its id and the first error (the cause: a teardown repeats
    it) in ``status``."""
    from ecs_engine.events.model import to_dict

    for event in events:
        data = to_dict(event)
        environment_id = next((v.get("environmentId", "") for v in data.values() if isinstance(v, dict)), "")
        if environment_id and not status["environment"]:  # so an interrupted run can be found (env show, events)
            cli.error(f"coconut: environment {environment_id} exists, running it once")
            status["environment"] = environment_id
        failure = data.get("environmentEvent", {}).get("error", "")
        if failure and not status["failure"]:
            status["failure"] = f"environment {environment_id}: {failure}"
        cli.echo(event_line(data))


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
        import json

        text = json.dumps(p, sort_keys=True)
    return f"{clock} {kind.removesuffix('Event'):<12} {text}"


# -- show ---------------------------------------------------------------------------------------------------


@command(app, "show", "get", "s", "g")
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

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core:
        try:
            reply = core.call("GetEnvironment", pb.GetEnvironmentRequest(id=environment_id, showWorkflowTree=workflow))
        except NotFoundError as exc:
            failure = _creation_failure(cli, environment_id)
            if failure is None:
                raise _with_closest_id(cli, exc, environment_id) from None
            raise NotFoundError(f"environment {environment_id} was not created: {failure}", hint=exc.hint) from None
        reason = core.last_error
    info = reply.environment
    if output != "text":
        print_data(cli, {**message_dict(reply), **({"error": reason} if reason else {})}, output)
        return
    _environment_text(cli, reply, show_vars=True, error=reason)
    if tasks:
        cli.echo("")
        table(cli, ["task id", "class", "hostname", "critical", "status", "state", "restarts"], _task_rows(info.tasks))
    if workflow:
        from rich.tree import Tree

        def add(tree, role) -> None:
            branch = tree.add(f"[bold]{role.name}[/bold]  {role.status}  {role.state}")
            for child in role.roles:
                add(branch, child)

        root = Tree(f"[bold]{reply.workflow.name}[/bold]  {reply.workflow.status}  {reply.workflow.state}")
        for child in reply.workflow.roles:
            add(root, child)
        cli.console.print(root)
    if services:
        if info.integratedServicesData:
            vars_block(cli, "integrated services", dict(info.integratedServicesData))
        else:
            cli.echo("integrated services: none (no integrated service holds data for this environment)")


def _creation_failure(cli: CliContext, environment_id: str) -> str | None:
    """Why an environment is gone that failed while it was created (``create -y`` answered before): the
    error its creation left in the journal, or None if it left none."""
    from ecs_engine.events.model import to_dict
    from ecs_engine.protocols import journal_pb2

    query = journal_pb2.EventQuery(environmentId=environment_id, kinds=["environmentEvent"])
    with connect(cli) as core:
        events = core.call("QueryEvents", query).events  # a first page: a creation leaves few events
    errors = [
        payload["error"]
        for payload in (to_dict(e.event).get("environmentEvent", {}) for e in events)
        if payload.get("error") and payload.get("message") == "cannot create new environment"
    ]
    return errors[-1] if errors else None


def _with_closest_id(cli: CliContext, exc: NotFoundError, environment_id: str) -> NotFoundError:
    """``exc`` (no environment ``environment_id``) with a hint: the closest id the core has (a typo), or where
    they are listed."""
    import difflib

    from ecs_engine.protocols import o2control_pb2 as pb

    if exc.hint or exc.cli_hint:
        return exc
    with connect(cli) as core:
        known = [e.id for e in core.call("GetEnvironments", pb.GetEnvironmentsRequest(showAll=True)).environments]
    closest = difflib.get_close_matches(environment_id, known, n=1, cutoff=0.6)
    listed = "'coconut env list' lists them"
    exc.cli_hint = f"did you mean {closest[0]}? ({listed})" if closest else listed
    return exc


def _environment_call(
    cli: CliContext, rpc: str, request: Any, environment_id: str, what: str, doing: str
) -> tuple[Any, str]:
    """``rpc`` on one environment, ``doing`` shown while it runs: the reply, and the reason the core gave for a
    failed transition. Ctrl-C says that ``what`` the core received goes on; a mistyped id gets the closest one."""
    goes_on = f"{what} the core received goes on; see 'coconut env show {environment_id}'"
    try:
        with (
            _said_if_interrupted(cli, lambda: goes_on),
            connect(cli) as core,
            spinner(cli, f"{doing} {environment_id}..."),
        ):
            return core.call(rpc, request), core.last_error
    except NotFoundError as exc:
        raise _with_closest_id(cli, exc, environment_id) from None


# -- control ------------------------------------------------------------------------------------------------


@command(app, "control", "ctl", "ct", "t")
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

    cli: CliContext = ctx.obj
    check_output(output)
    optype = EVENTS.get(event.strip().upper())
    if optype is None:
        raise UsageError(f"-e/--event: unknown event '{event}' (expected one of {', '.join(EVENTS)})")
    # proto3 enums are open: the stub's Optype does not list EXIT and RECOVER, the wire takes them
    request = pb.ControlEnvironmentRequest(
        id=environment_id,
        type=cast("pb.ControlEnvironmentRequest.Optype", optype),
        requestUser=common_pb2.User(name=_user_name(cli)),
    )
    try:
        reply, reason = _environment_call(
            cli, "ControlEnvironment", request, environment_id, f"a {event.upper()}", f"{event.upper()} of"
        )
    except RefusedError as refused:  # "STOP_ACTIVITY is not allowed there (allowed: START_ACTIVITY...)"
        typed = re.compile(r"\b(?:" + "|".join(TYPED_NAMES) + r")\b")
        refused.message = typed.sub(lambda m: TYPED_NAMES[m[0]], refused.message)
        if refused.hint:  # the core sends its hint apart from the message
            refused.hint = typed.sub(lambda m: TYPED_NAMES[m[0]], refused.hint)
        raise
    if output != "text":
        print_data(cli, {**message_dict(reply), **({"error": reason} if reason else {})}, output)
    if reason:
        raise HandledError(f"transition {event.upper()} failed: {reason}; the environment is now {reply.state}")
    if output == "text":
        cli.echo("transition complete")
        cli.echo(f"{'environment id:':<19} {reply.id}")
        cli.echo(f"{'state:':<19} {reply.state}")
        if reply.currentRunNumber:
            cli.echo(f"{'run number:':<19} {reply.currentRunNumber}")
        cli.echo(f"{'start:':<19} {when(reply.startOfTransition)}")
        cli.echo(f"{'end:':<19} {when(reply.endOfTransition)}")
        cli.echo(f"{'duration:':<19} {reply.transitionDuration / 1000:.3f} s")
    return ExitStatus.OK


# -- destroy ------------------------------------------------------------------------------------------------


@command(app, "destroy", "des", "d")
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

    cli: CliContext = ctx.obj
    check_output(output)
    request = pb.DestroyEnvironmentRequest(
        id=environment_id, keepTasks=keep_tasks, allowInRunningState=allow_in_running_state, force=force
    )
    reply, _ = _environment_call(cli, "DestroyEnvironment", request, environment_id, "a destroy", "Destroying")
    if output != "text":
        print_data(cli, message_dict(reply), output)
        return
    killed = len(reply.cleanupTasksReply.killedTasks)
    cli.echo(f"teardown complete for environment {environment_id}")
    cli.echo(f"{counted(killed, 'task')} killed" + (", tasks kept running (unlocked)" if keep_tasks else ""))


# -- subscribe ----------------------------------------------------------------------------------------------


@command(app, "subscribe", "sub")
def subscribe(
    ctx: typer.Context,
    environment_id: str = typer.Argument(None, help="Environment id (default: every environment)."),
    after: int = typer.Option(
        None, "--after", help="First the journal's events after this sequence number (resume where you left)."
    ),
) -> ExitStatus:
    """Print an environment's events as they happen, as 'env create -a' does, until it is destroyed or Ctrl-C."""
    from ecs_engine.events.model import to_dict
    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    request = pb.SubscribeRequest(environmentId=environment_id or "")
    if after is not None:
        if after < 0:
            raise UsageError(f"--after: expected a sequence number (0 or more), got {after}")
        request.afterSeq = after
    try:
        with connect(cli) as core:
            for event in core.stream("Subscribe", request):
                cli.echo(event_line(to_dict(event)))
                cli.stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how subscribing ends
    return ExitStatus.OK
