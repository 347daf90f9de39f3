"""What an environment of a workflow will be: role tree, task commands and channels, hook timelines.

Plain data (JSON-ready) so the CLI can print it as a tree/tables or as JSON.
"""

from __future__ import annotations

from typing import Any

from ecs_engine import fsm
from ecs_engine.ids import new_id

from .expand import Expander, role_renderer
from .model import Role, Workflow
from .tasks import build_command, task_stack
from .timeline import destroy_timeline, transition_timeline

URL_PREFIXES = ("tcp://", "ipc://", "inproc://")


def effective_constraints(role: Role) -> list[tuple[str, str]]:
    """A role's constraints merged with its ancestors' (nearest wins by attribute)."""
    merged: dict[str, str] = {}
    for r in [*reversed(role.ancestors()), role]:
        merged.update(dict(r.constraints))
    return sorted(merged.items())


def effective_channels(role: Role, section: str) -> list[dict[str, str]]:
    """Channels of a task role: merged with ancestors (nearest wins by name), then the class's (role wins)."""
    merged: dict[str, dict[str, str]] = {}
    for r in [*reversed(role.ancestors()), role]:
        for ch in getattr(r, section):
            merged[ch["name"]] = ch
    if section == "bind" and role.task_class is not None:
        for raw in role.task_class.bind:
            merged.setdefault(raw.name, dict(raw.fields))
    return list(merged.values())


def task_host(role: Role) -> str:
    return dict(effective_constraints(role)).get("machine_id", "")


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


def task_plan(expander: Expander, workflow: Workflow, role: Role, bind_map: dict[str, str]) -> dict[str, Any]:
    cls = role.task_class
    assert cls is not None
    host = task_host(role)
    task_id = new_id()
    special = {
        "task_name": f"{workflow.source.repo_id}/tasks/{cls.name}@{workflow.source.revision}#{task_id}",
        "task_id": task_id,
        "task_class_name": f"{workflow.source.repo_id}/tasks/{cls.name}@{workflow.source.revision}",
        "task_hostname": host,
        "environment_id": workflow.env_vars.user.get("environment_id", ""),
        "task_parent_role": role.path,
    }
    render = role_renderer(expander, role, file=cls.file)
    stack = task_stack(cls, role.stack(), special, render)
    command = build_command(cls, stack, render, hostname=host)
    binds = []
    for ch in effective_channels(role, "bind"):
        ch = {k: render(v, stack, f"bind.{k}") for k, v in ch.items()}
        binds.append({**ch, "address": ch.get("target") or f"{ch.get('addressing', 'tcp')} (allocated at deploy)"})
    connects = []
    for ch in effective_channels(role, "connect"):
        ch = {k: render(v, stack, f"connect.{k}") for k, v in ch.items()}
        target = ch.get("target", "")
        ch["matches"] = target if target.startswith(URL_PREFIXES) else bind_map.get(target, "")
        connects.append(ch)
    mode = cls.control_mode
    if role.is_hook:
        mode = "hook"
    return {
        "path": role.path,
        "class": cls.name,
        "mode": mode,
        "critical": role.critical,
        "trigger": str(role.traits.trigger) if role.is_hook and role.traits else "",
        "timeout": role.traits.timeout_text if role.traits else "0s",
        "host": host,
        "constraints": dict(effective_constraints(role)),
        "wants": {"cpu": cls.cpu, "memory": cls.memory, "ports": [list(p) for p in cls.ports]},
        "command": {**command.as_dict(), "argv": command.argv()},
        "bind": binds,
        "connect": connects,
        "properties": {k: render(v, stack, f"properties.{k}") for k, v in cls.properties.items()},
    }


def bind_map_of(tasks: list[Role]) -> dict[str, str]:
    """``<role.path>:<channel>`` and ``::<global>`` of every inbound channel -> the binding role and channel."""
    out: dict[str, str] = {}
    for role in tasks:
        for ch in effective_channels(role, "bind"):
            key = f"{role.path}:{ch['name']}"
            out[key] = key
            if ch.get("global"):
                out[f"::{ch['global']}"] = key
    return out


def build_plan(expander: Expander, workflow: Workflow) -> dict[str, Any]:
    tasks = workflow.task_roles()
    calls = workflow.call_roles()
    bind_map = bind_map_of(tasks)
    task_plans = [task_plan(expander, workflow, r, bind_map) for r in tasks]
    warnings = list(workflow.warnings)
    for t in task_plans:
        for ch in t["connect"]:
            if not ch["matches"]:
                warnings.append(
                    f"role {t['path']}: outbound channel '{ch['name']}' target '{ch.get('target', '')}' matches no inbound "
                    "channel (CONFIGURE would fail)"
                )
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
    steps = destroy_timeline(hook_roles, "CONFIGURED")
    timelines.append(
        {
            "transition": "DESTROY",
            "from": "CONFIGURED",
            "to": "DONE",
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
