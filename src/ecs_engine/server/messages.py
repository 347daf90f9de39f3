"""Engine and executor objects as o2control messages: EnvironmentInfo, ShortTaskInfo, TaskInfo, RoleInfo."""

from __future__ import annotations

import json
from typing import Any

from ecs_engine.occ.states import STANDBY
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.tasks.model import TaskProcess
from ecs_engine.tasks.reports import ACTIVE, UNKNOWN


def short_task(task: TaskProcess, restarts: int = 0) -> pb.ShortTaskInfo:
    """``restarts``: the engine's count for its role (the executor does not know it)."""
    return pb.ShortTaskInfo(
        name=task.name,
        locked=task.locked,
        taskId=task.id,
        status=task.status,
        state=task.state or UNKNOWN,
        className=task.request.class_name,
        deploymentInfo=pb.TaskDeploymentInfo(
            hostname=task.node.name, agentId=task.node.name, offerId="", executorId=_executor(task)
        ),
        pid=str(task.pid) if task.pid else "",
        sandboxStdout=task.stdout_path,
        claimable=not task.locked and task.status == ACTIVE and task.state == STANDBY,
        critical=task.request.critical,
        restarts=restarts,
        environmentId=environment_of(task),
    )


def environment_of(task: TaskProcess) -> str:
    """The environment holding the task: none once released (``env destroy -k``), though it came from one."""
    return task.environment_id if task.locked else ""


def _lost_tasks(env: Any, known: set[str]) -> list[pb.ShortTaskInfo]:
    """The tasks of ``env`` the executor does not know (ids not in ``known``: lost while the core was down, INACTIVE),
    from what the engine kept of them: the environment's list shows every task its counts count."""
    return [
        pb.ShortTaskInfo(
            name=task.name,
            locked=task.locked,
            taskId=task.id,
            status=task.status,
            state=task.state or UNKNOWN,
            className=task.class_name,
            deploymentInfo=pb.TaskDeploymentInfo(hostname=task.hostname, agentId=task.hostname),
            critical=task.critical,
            restarts=task.restarts,
            environmentId=env.id,
        )
        for task in sorted(env.tasks.values(), key=lambda t: t.path)
        if task.id not in known
    ]


def _executor(task: TaskProcess) -> str:
    """The agent job (or ``local``) the task's process runs in; a hook or basic task between runs has none."""
    return task.process.executor if task.process is not None else ""


def task_info(task: TaskProcess) -> pb.TaskInfo:
    def channels(specs) -> list[pb.ChannelInfo]:
        return [pb.ChannelInfo(name=c.name, type=c.type, target=c.target) for c in specs]

    inbound = [
        pb.ChannelInfo(name=c.name, type=c.type, target=task.reachable.get(c.name, c.target)) for c in task.request.bind
    ]
    command = task.command
    return pb.TaskInfo(
        shortInfo=short_task(task),
        inboundChannels=inbound,
        outboundChannels=channels(task.request.connect),
        commandInfo=pb.CommandInfo(
            env=list(command.env),
            shell=command.shell,
            value=command.value,
            arguments=list(command.arguments),
            user=command.user,
        ),
        taskPath=task.request.role_path,
        envId=environment_of(task),
        properties=_task_properties(task),
    )


def _task_properties(task: TaskProcess) -> dict[str, str]:
    """How to reach the task and where its output goes (this core's additions; upstream: its properties)."""
    out = {"stdoutLog": task.stdout_path, "stderrLog": task.stderr_path}
    if task.control_port:
        out.update(controlPort=str(task.control_port), transport=task.transport)
    for name, address in task.bound.items():
        out[f"chans.{name}.address"] = address
    if task.last_result is not None and not task.pid:  # its process ended and none runs now: how (coconut task logs
        out["ended"] = task.last_result.how  # -f stops there)
    return {k: v for k, v in out.items() if v}


def _hosts(stack: dict[str, str]) -> int:
    try:
        hosts = json.loads(stack.get("hosts", "[]") or "[]")
    except ValueError:
        return 0
    return len(hosts) if isinstance(hosts, list) else 0


def restarts_of(env: Any, task_id: str) -> int:
    """How many times the task's role was restarted in ``env`` (an Environment, or None: 0)."""
    task = env.tasks.get(task_id) if env is not None else None
    return task.restarts if task is not None else 0


def environment_info(env: Any, tasks: list[TaskProcess], *, with_tasks: bool, services: dict[str, str] | None = None):
    """``env``: an ``ecs_engine.environment.Environment``; ``tasks``: its tasks as the executor knows them."""
    stack = env.stack()
    known = {t.id for t in tasks}
    active = sum(1 for t in env.tasks.values() if t.status == ACTIVE)
    last_event, last_error, last_end = env.last_transition or ("", "", 0)
    return pb.EnvironmentInfo(
        id=env.id,
        createdWhen=env.created_ms,
        state=env.state,
        tasks=[short_task(t, restarts_of(env, t.id)) for t in tasks] + _lost_tasks(env, known) if with_tasks else [],
        rootRole=env.root.name,
        currentRunNumber=env.current_run,
        defaults={**env.env_vars.defaults, **env.root.defaults},
        vars={**env.env_vars.vars, **env.root.vars},
        userVars={**env.env_vars.user, **env.root.user_vars},
        numberOfFlps=_hosts(stack),
        includedDetectors=list(env.detectors),
        description=env.template.get("description", ""),
        numberOfHosts=len({t.hostname for t in env.tasks.values()}),
        integratedServicesData=services or {},
        numberOfTasks=len(env.tasks) or len(known),
        currentTransition=env.current_transition or (env.busy[0] if env.busy else ""),
        numberOfActiveTasks=active,
        numberOfInactiveTasks=len(env.tasks) - active,
        lastTransition=last_event,
        lastTransitionError=last_error,
        lastTransitionEnd=last_end,
    )


def role_info(env: Any, role: Any, *, recursive: bool = True) -> pb.RoleInfo:
    task = env.tasks_by_role.get(role.path)
    return pb.RoleInfo(
        name=role.name,
        status=env.roles.status.get(role.path, ""),
        state=env.roles.state.get(role.path, ""),
        fullPath=role.path,
        taskIds=[task.id] if task is not None else [],
        roles=[role_info(env, child) for child in role.children] if recursive else [],
        defaults=dict(role.defaults),
        vars=dict(role.vars),
        userVars=dict(role.user_vars),
        consolidatedStack=role.stack(),
        description=getattr(role, "description", ""),
    )
