"""From a task role of an expanded workflow to a ``TaskRequest``: mode, constraints, channels, and the
command and properties rendered the way AliECS does (reference §4.3, §4.5), through the same
``template.taskrender.TaskRenderer`` that ``coconut template plan`` shows.
"""

from __future__ import annotations

from ecs_engine.template.expand import Expander
from ecs_engine.template.model import Role, Workflow
from ecs_engine.template.taskrender import TaskRenderer
from ecs_engine.template.tasks import TaskCommand

from .model import ChannelSpec, TaskRequest
from .resources import Wants

PDP_ORBIT_RESET = "pdp_override_run_start_time"


def task_request(expander: Expander, workflow: Workflow, role: Role, environment_id: str = "") -> TaskRequest:
    """The request for ``role``'s task; commands and properties are rendered later, on demand."""
    task = TaskRenderer(expander, workflow, role, environment_id)

    def command(hostname: str, task_id: str) -> TaskCommand:
        return task.command(task.stack(hostname, task_id), hostname)

    def properties(hostname: str = "", task_id: str = "") -> dict[str, str]:
        """What is pushed at CONFIGURE: the class's properties and the orbit reset time (§4.5)."""
        stack = task.stack(hostname, task_id)
        pushed = task.properties(stack)
        if stack.get(PDP_ORBIT_RESET):
            pushed["orbit-reset-time"] = stack[PDP_ORBIT_RESET]
        return pushed

    traits = role.traits
    return TaskRequest(
        role_path=role.path,
        class_name=task.class_name,
        mode=task.mode,
        critical=role.critical,
        constraints=tuple(task.constraints),
        bind=tuple(ChannelSpec.from_fields(ch) for ch in task.channels("bind")),
        connect=tuple(ChannelSpec.from_fields(ch) for ch in task.channels("connect")),
        hook_timeout=traits.timeout if traits is not None else 0.0,
        environment_id=task.environment_id,
        wants=Wants(task.cls.cpu or 0.0, task.cls.memory or 0.0),
        build_command=command,
        properties=properties,
    )
