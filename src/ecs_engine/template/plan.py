"""What an environment of a workflow will be: role tree, task commands and channels, hook timelines.

Plain data (JSON-ready) so the CLI can print it as a tree/tables or as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ecs_engine import fsm
from ecs_engine.ids import new_id

from .expand import Expander
from .model import Role, Workflow
from .taskrender import TaskRenderer
from .timeline import destroy_timeline, transition_timeline

URL_PREFIXES = ("tcp://", "ipc://", "inproc://")
#: what the config/inventory helpers put where a value would be when they fail (AliECS's ``{"error":"..."}``)
_ERROR_VALUE = re.compile(r'\{"error":("(?:[^"\\]|\\.)*")\}')


def role_tree(role: Role) -> dict[str, Any]:
    node: dict[str, Any] = {"name": role.name, "path": role.path, "kind": role.kind}
    if role.kind == "task":
        node["class"] = role.task_class.name if role.task_class else role.load
        node["critical"] = role.critical
        if role.is_hook and role.traits and role.traits.trigger:
            node["trigger"] = str(role.traits.trigger)
    if role.kind == "call":
        node["func"] = role.func
        node["critical"] = role.critical
    if role.kind == "include":
        node["include"] = role.include
    if role.constraints:
        node["constraints"] = dict(role.constraints)
    if role.children:
        node["roles"] = [role_tree(c) for c in role.children]
    return node


def task_plan(task: TaskRenderer, binds: list[dict[str, str]], bind_map: dict[str, str]) -> dict[str, Any]:
    """One task as it would be deployed; the command with a fresh task id on the role's host."""
    role, cls, host = task.role, task.cls, task.host
    stack = task.stack(host, new_id())
    command = task.command(stack, host)
    connects = []
    for ch in task.channels("connect"):
        target = ch.get("target", "")
        connects.append({**ch, "matches": target if target.startswith(URL_PREFIXES) else bind_map.get(target, "")})
    return {
        "path": role.path,
        "class": cls.name,
        "mode": task.mode,
        "critical": role.critical,
        "trigger": str(role.traits.trigger) if role.is_hook and role.traits else "",
        "timeout": role.traits.timeout_text if role.traits else "0s",
        "host": host,
        "constraints": dict(task.constraints),
        "wants": {"cpu": cls.cpu, "memory": cls.memory, "ports": [list(p) for p in cls.ports]},
        "command": {**command.as_dict(), "argv": command.argv()},
        "bind": [
            {**ch, "address": ch.get("target") or f"{ch.get('addressing', 'tcp')} (allocated at deploy)"}
            for ch in binds
        ],
        "connect": connects,
        "properties": task.properties(stack),
    }


def _texts(where: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(f"{where}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(f"{where}[{index}]", item)


def unresolved_values(task: dict[str, Any]) -> list[str]:
    """Warnings for the ``{"error":"..."}`` values in a task's command and properties: a configuration path
    or a host's detector the store could not give; the process would receive the error text as its value."""
    command = {k: v for k, v in task["command"].items() if k != "argv"}
    found = []
    for where, text in [*_texts("command", command), *_texts("properties", task["properties"])]:
        for quoted in _ERROR_VALUE.findall(text):
            warning = f"role {task['path']}: {where}: {json.loads(quoted)}"
            if warning not in found:
                found.append(warning)
    return found


def unresolved_role_vars(role: Role) -> list[str]:
    """Warnings for the ``{"error":"..."}`` values among the variables a call role or the parent of calls sets
    itself (``odc_script`` from ``odc.GenerateEPNWorkflowScript()``...): what its calls would send."""
    found = []
    for kind, variables in (("defaults", role.defaults), ("vars", role.vars)):
        for name, text in variables.items():
            for quoted in _ERROR_VALUE.findall(text):
                found.append(f"role {role.path}: {kind}.{name}: {json.loads(quoted)}")
    return found


def bind_map_of(binds: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """``<role.path>:<channel>`` and ``::<global>`` of every inbound channel -> the binding role and channel."""
    out: dict[str, str] = {}
    for path, channels in binds.items():
        for ch in channels:
            key = f"{path}:{ch['name']}"
            out[key] = key
            if ch.get("global"):
                out[f"::{ch['global']}"] = key
    return out


def unmatched_channels(task: dict[str, Any]) -> list[str]:
    """Warnings for a planned task's outbound channels whose target no inbound channel matches."""
    return [
        f"role {task['path']}: outbound channel '{ch['name']}' target '{ch.get('target', '')}' matches no inbound "
        "channel (CONFIGURE would fail)"
        for ch in task["connect"]
        if not ch["matches"]
    ]


def plan_tasks(expander: Expander, workflow: Workflow) -> list[dict[str, Any]]:
    """Every task role rendered as it would be deployed: what ``plan`` shows and ``validate`` checks renders."""
    rendered = [TaskRenderer(expander, workflow, r) for r in workflow.task_roles()]
    binds = {t.role.path: t.channels("bind") for t in rendered}
    bind_map = bind_map_of(binds)
    return [task_plan(t, binds[t.role.path], bind_map) for t in rendered]


def build_plan(expander: Expander, workflow: Workflow) -> dict[str, Any]:
    tasks = workflow.task_roles()
    calls = workflow.call_roles()
    task_plans = plan_tasks(expander, workflow)
    warnings = list(workflow.warnings)
    for error in expander.call_errors:  # a create would succeed: the call fails only when its trigger fires
        warnings.append(f"{error.where()}: {error.message}" + (f" ({error.hint})" if error.hint else ""))
    for role in workflow.roles():
        if role.kind == "call" or any(child.kind == "call" for child in role.children):
            warnings.extend(unresolved_role_vars(role))
    for t in task_plans:
        warnings.extend(unresolved_values(t))
        warnings.extend(unmatched_channels(t))
    hook_roles = [r for r in workflow.roles() if r.traits is not None and r.traits.trigger is not None]
    timelines = []
    for event, source in fsm.LIFECYCLE:
        steps = transition_timeline(hook_roles, event, source)
        timelines.append(
            {
                "transition": event,
                "from": source,
                "to": fsm.TRANSITIONS[event][1],
                "steps": [{"moment": m, "hooks": [e.describe() for e in entries]} for m, entries in steps],
            }
        )
    steps = destroy_timeline(hook_roles, fsm.State.CONFIGURED)
    timelines.append(
        {
            "transition": "DESTROY",
            "from": fsm.State.CONFIGURED,
            "to": fsm.State.DONE,
            "steps": [{"moment": m, "hooks": [e.describe() for e in entries]} for m, entries in steps],
        }
    )
    return {
        "workflow": workflow.template.name,
        "file": workflow.template.file,
        "repository": workflow.source.display(),
        "public": workflow.template.public,
        "description": workflow.template.description,
        "counts": {
            "roles": sum(1 for _ in workflow.roles()),
            "tasks": len(tasks),
            "calls": len(calls),
            "hooks": sum(1 for r in tasks if r.is_hook),
        },
        "tree": role_tree(workflow.root),
        "tasks": task_plans,
        "calls": [
            {
                "path": r.path,
                "func": r.func,
                "trigger": str(r.traits.trigger) if r.traits and r.traits.trigger else "",
                "await": str(r.traits.await_) if r.traits and r.traits.await_ else "",
                "timeout": r.traits.timeout_text if r.traits else "",
                "critical": r.critical,
            }
            for r in calls
        ],
        "timelines": timelines,
        "warnings": warnings,
    }
