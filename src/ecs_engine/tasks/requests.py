"""From a task role of an expanded workflow to a ``TaskRequest``: mode, constraints, channels, and the
command and properties rendered the way AliECS does (reference §4.3, §4.5), through the template package.
"""

from __future__ import annotations

from ecs_engine.template.expand import Expander, role_renderer
from ecs_engine.template.model import Role, Workflow
from ecs_engine.template.plan import effective_channels, effective_constraints
from ecs_engine.template.tasks import TaskCommand, build_command, task_stack

from .model import BASIC, HOOK, ChannelSpec, TaskRequest

PDP_ORBIT_RESET = "pdp_override_run_start_time"


def class_name(role: Role) -> str:
    """``<repoId>/tasks/<name>@<revision>``, the class id AliECS shows for a task."""
    assert role.task_class is not None and role.source is not None
    return f"{role.source.repo_id}/tasks/{role.task_class.name}@{role.source.revision}"


def task_request(expander: Expander, workflow: Workflow, role: Role, environment_id: str = "") -> TaskRequest:
    """The request for ``role``'s task; commands and properties are rendered later, on demand."""
    cls = role.task_class
    if cls is None:
        raise ValueError(f"role {role.path} is not a task role")
    environment_id = environment_id or workflow.env_vars.user.get("environment_id", "")
    name = class_name(role)
    render = role_renderer(expander, role, file=cls.file)
    mode = HOOK if role.is_hook else (BASIC if cls.is_basic else cls.control_mode)

    def stack(hostname: str, task_id: str) -> dict[str, str]:
        special = {
            "task_name": f"{name}#{task_id}",
            "task_id": task_id,
            "task_class_name": name,
            "task_hostname": hostname,
            "environment_id": environment_id,
            "task_parent_role": role.path,
        }
        return task_stack(cls, role.stack(), special, render)

    def command(hostname: str, task_id: str) -> TaskCommand:
        return build_command(cls, stack(hostname, task_id), render, hostname=hostname)

    def properties(hostname: str = "", task_id: str = "") -> dict[str, str]:
        values = stack(hostname, task_id)
        pushed = {k: render(v, values, f"properties.{k}") for k, v in cls.properties.items()}
        if values.get(PDP_ORBIT_RESET):
            pushed["orbit-reset-time"] = values[PDP_ORBIT_RESET]
        return pushed

    plain = role.stack()
    binds = tuple(
        ChannelSpec.from_fields({k: render(v, plain, f"bind.{k}") for k, v in ch.items()})
        for ch in effective_channels(role, "bind")
    )
    connects = tuple(
        ChannelSpec.from_fields({k: render(v, plain, f"connect.{k}") for k, v in ch.items()})
        for ch in effective_channels(role, "connect")
    )
    traits = role.traits
    return TaskRequest(
        role_path=role.path,
        class_name=name,
        mode=mode,
        critical=role.critical,
        constraints=tuple(effective_constraints(role)),
        bind=binds,
        connect=connects,
        hook_timeout=traits.timeout if traits is not None else 0.0,
        environment_id=environment_id,
        build_command=command,
        properties=properties,
    )
