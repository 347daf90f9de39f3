"""An environment as plain data: what the store keeps, and ``reload`` to rebuild it in a restarted manager.

The role tree is kept with each role's own variable maps, traits and task class (name, file, control
mode), so a reloaded environment runs its hooks and calls without reading its templates again; the tasks
are kept with the executor's own ``data`` so the executor can find its processes (``reattach``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ecs_engine.fsm import Event, State
from ecs_engine.occ.states import OccState
from ecs_engine.tasks.reports import ACTIVE, INACTIVE
from ecs_engine.template.model import EnvVars, Role, Traits
from ecs_engine.template.tasks import TaskClass
from ecs_engine.template.triggers import parse_trigger

from .environment import CORE_STOP, DESTROY, Environment, EnvironmentServices
from .store import StoredEnvironment
from .taskport import Task

VAR_MAPS = ("defaults", "vars", "user_vars")


@dataclass
class Structure:
    """The part of a record that does not change, as JSON text, and whether a commit has written it (the commit
    thread is handed this, not the record: what it holds must not keep a destroyed environment alive)."""

    text: str
    saved: bool = False


class EnvironmentRecord:
    """An environment's stored record, built cheaply after the first time.

    The role tree is serialised once (``structure``); every later record carries only what a transition
    changes: the environment variables, the tasks, and the variable maps of the roles whose maps changed
    since (a START sets a few root variables; it does not change the tree).
    """

    def __init__(self, env: Environment):
        self.env = env
        structure = {
            "root": role_to_data(env.root),
            "template": env.template,
            "request_vars": env.request_vars,
            "detectors": env.detectors,
            "public": env.public,
            "auto": env.auto,
        }
        self.structure = Structure(json.dumps(structure, separators=(",", ":")))
        self._maps = [(role, [dict(getattr(role, key)) for key in VAR_MAPS]) for role in env.root.walk()]

    def live(self) -> dict[str, Any]:
        """What changed since the structure was written, as plain data."""
        role_vars = {}
        for role, maps in self._maps:
            current = [getattr(role, key) for key in VAR_MAPS]
            if current != maps:
                role_vars[role.path] = {key: dict(value) for key, value in zip(VAR_MAPS, current, strict=True)}
        return {
            "env_vars": env_vars_to_data(self.env.env_vars),
            "role_vars": role_vars,
            "tasks": [task_to_data(t) for t in self.env.tasks.values()],
            "last_transition": self.env.last_transition,
            "transition": self.env.current_transition,
        }


def role_to_data(role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": role.kind, "name": role.name, "file": role.file, "line": role.line}
    for key in ("defaults", "vars", "user_vars"):
        if getattr(role, key):
            data[key] = dict(getattr(role, key))
    for key in ("load", "func", "return_var", "include", "description"):
        if getattr(role, key):
            data[key] = getattr(role, key)
    if role.constraints:
        data["constraints"] = [list(c) for c in role.constraints]
    for key in ("connect", "bind"):
        if getattr(role, key):
            data[key] = getattr(role, key)
    if role.traits is not None:
        t = role.traits
        data["traits"] = {
            "trigger": str(t.trigger) if t.trigger else "",
            "await": str(t.await_) if t.await_ else "",
            "timeout": t.timeout,
            "timeout_text": t.timeout_text,
            "critical": t.critical,
        }
    if role.task_class is not None:
        cls = role.task_class
        data["task_class"] = {"name": cls.name, "file": cls.file, "control_mode": cls.control_mode}
    if role.children:
        data["children"] = [role_to_data(c) for c in role.children]
    return data


def role_from_data(
    data: dict[str, Any], env_vars: EnvVars, parent: Role | None = None, role_vars: dict[str, Any] | None = None
) -> Role:
    """Rebuild a role tree; ``role_vars`` (path -> var maps) replaces the maps of the roles it names."""
    path = f"{parent.path}.{data['name']}" if parent is not None else data["name"]
    data = {**data, **(role_vars or {}).get(path, {})}
    role = Role(
        kind=data["kind"],
        name=data["name"],
        path=path,
        parent=parent,
        env_vars=env_vars,
        file=data.get("file", ""),
        line=data.get("line", 0),
        defaults=dict(data.get("defaults", {})),
        vars=dict(data.get("vars", {})),
        user_vars=dict(data.get("user_vars", {})),
        constraints=[tuple(c) for c in data.get("constraints", [])],
        connect=list(data.get("connect", [])),
        bind=list(data.get("bind", [])),
        load=data.get("load", ""),
        func=data.get("func", ""),
        return_var=data.get("return_var", ""),
        include=data.get("include", ""),
        description=data.get("description", ""),
    )
    if "traits" in data:
        t = data["traits"]
        role.traits = Traits(
            trigger=parse_trigger(t["trigger"])[0] if t["trigger"] else None,
            await_=parse_trigger(t["await"])[0] if t["await"] else None,
            timeout=t["timeout"],
            timeout_text=t["timeout_text"],
            critical=t["critical"],
        )
    if "task_class" in data:
        c = data["task_class"]
        role.task_class = TaskClass(name=c["name"], file=c["file"], control_mode=c["control_mode"])
    role.children = [role_from_data(c, env_vars, role, role_vars) for c in data.get("children", [])]
    return role


def task_to_data(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "path": task.path,
        "class_name": task.class_name,
        "hostname": task.hostname,
        "state": task.state,
        "status": task.status,
        "locked": task.locked,
        "safe_to_stop": task.safe_to_stop,
        "data": task.data,
        "restarts": task.restarts,
    }


def task_from_data(data: dict[str, Any], roles: dict[str, Role], environment_id: str) -> Task:
    return Task(
        id=data["id"],
        role=roles[data["path"]],
        environment_id=environment_id,
        class_name=data["class_name"],
        hostname=data["hostname"],
        state=data["state"],
        status=data["status"],
        locked=data["locked"],
        safe_to_stop=data["safe_to_stop"],
        data=dict(data.get("data", {})),
        restarts=int(data.get("restarts", 0)),
    )


def env_vars_to_data(env_vars: EnvVars) -> dict[str, dict[str, str]]:
    return {"defaults": dict(env_vars.defaults), "vars": dict(env_vars.vars), "user": dict(env_vars.user)}


def env_vars_from_data(data: dict[str, dict[str, str]]) -> EnvVars:
    return EnvVars(defaults=dict(data["defaults"]), vars=dict(data["vars"]), user=dict(data["user"]))


#: the transitions of a run that a restart ends if the core stopped during them (``interrupted``)
RUN_TRANSITIONS = (Event.START_ACTIVITY, Event.STOP_ACTIVITY, Event.GO_ERROR, CORE_STOP)


def interrupted(stored: StoredEnvironment) -> str:
    """The transition the core stopped during that the restart must end, "" if none: a START once its run number
    was taken (also in its enter/after hooks, past its tasks: the hooks that start a site's run, the trigger's among
    them, may not have run), a STOP or GO_ERROR once the run's end was stamped, the teardown (DESTROY) of a RUNNING
    environment once it ended the run, a graceful stop of the core (CORE_STOP) during a run once it stamped the run's
    end (each commits the environment's record then, before hooks and tasks go on or the tasks are killed; one that
    ended wrote its record without a transition)."""
    event = stored.snapshot.get("transition", "")
    if event == DESTROY:
        return DESTROY if stored.state == State.RUNNING else ""
    if event not in RUN_TRANSITIONS or stored.current_run <= 0:
        return ""
    return str(event)


async def reload(stored: StoredEnvironment, services: EnvironmentServices) -> Environment:
    """Rebuild a stored environment; its tasks found alive are re-attached, the others marked lost."""
    data = stored.snapshot
    env_vars = env_vars_from_data(data["env_vars"])
    root = role_from_data(data["root"], env_vars, role_vars=data.get("role_vars"))
    env = Environment(
        services,
        environment_id=stored.id,
        root=root,
        env_vars=env_vars,
        template=data["template"],
        request_vars=data["request_vars"],
        created_ms=stored.created_ms,
        detectors=data["detectors"],
        public=data["public"],
        auto=data["auto"],
    )
    env.state = State(stored.state)
    env.current_run = stored.current_run
    env.last_run = stored.last_run
    if data.get("last_transition"):  # (records written before it was kept have none)
        event, error, end_ms = data["last_transition"]
        env.last_transition = (event, error, end_ms)
    roles = {r.path: r for r in root.walk()}
    tasks = [task_from_data(t, roles, env.id) for t in data["tasks"]]
    alive = await services.controller.reattach(tasks) if tasks else set()
    lost = []
    for task in tasks:
        if task.id not in alive:
            task.status, task.state = INACTIVE, OccState.ERROR
            env.warn(f"task {task.name} ({task.path}) was lost while the core was down")
            lost.append(task)
        env.add_task(task)
    for role in root.walk():
        if role.kind == "call" and env.state not in (State.STANDBY, State.DONE):
            env.roles.set(role, status=ACTIVE)
    env.arm_error_watch(env.state in (State.CONFIGURED, State.RUNNING))
    for task in lost:
        if task.critical and not task.is_hook:
            env.watch_error(task)
    env.env_event(message="environment reloaded from the store")
    return env
