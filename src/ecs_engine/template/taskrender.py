"""A task role rendered the way AliECS deploys it: the one renderer ``coconut template plan`` and deployment share.

The task's own fields (command, properties, the class's channels) render with the role's stack over the
class's defaults and vars, plus the task's special variables (reference §4.3, §4.5); the role's own
channels and constraints were rendered during expansion (stage 5) and are only merged here (§4.4).
"""

from __future__ import annotations

from collections.abc import Mapping

from ecs_engine.errors import TemplateError

from . import expr
from .expand import Expander, role_renderer
from .model import Role, Workflow
from .tasks import TaskClass, TaskCommand, output_mode

HOOK_MODE = "hook"  # a basic class used by a role with a trigger (§4.2)


def effective_constraints(role: Role) -> list[tuple[str, str]]:
    """A role's constraints merged with its ancestors' (nearest wins by attribute)."""
    merged: dict[str, str] = {}
    for r in [*reversed(role.ancestors()), role]:
        merged.update(dict(r.constraints))
    return sorted(merged.items())


def role_channels(role: Role, section: str) -> dict[str, dict[str, str]]:
    """A role's ``bind`` or ``connect`` channels merged with its ancestors' (nearest wins by name)."""
    merged: dict[str, dict[str, str]] = {}
    for r in [*reversed(role.ancestors()), role]:
        for ch in getattr(r, section):
            merged[ch["name"]] = ch
    return merged


class TaskRenderer:
    """One task role of an expanded workflow, rendered on demand.

    Stacks are taken from the role each time they are asked for, so a command or the properties built at
    CONFIGURE see variables set since the expansion (hooks, run variables).
    """

    def __init__(self, expander: Expander, workflow: Workflow, role: Role, environment_id: str = ""):
        if role.task_class is None:
            raise ValueError(f"role {role.path} is not a task role")
        self.role = role
        self.cls: TaskClass = role.task_class
        source = role.source or workflow.source
        #: ``<repoId>/tasks/<name>@<revision>``, the class id AliECS shows for a task
        self.class_name = f"{source.repo_id}/tasks/{self.cls.name}@{source.revision}"
        self.environment_id = environment_id or workflow.env_vars.user.get("environment_id", "")
        self.mode = HOOK_MODE if role.is_hook else self.cls.control_mode
        self.constraints = effective_constraints(role)
        self.host = dict(self.constraints).get("machine_id", "")  # where plan shows it; deploy picks a node
        self._render = role_renderer(expander, role, file=self.cls.file, lines=self.cls.lines)

    def stack(self, hostname: str, task_id: str) -> dict[str, str]:
        """What the task's own fields see: class defaults < class vars < the role's stack < task variables."""
        special = {
            "task_name": f"{self.class_name}#{task_id}",
            "task_id": task_id,
            "task_class_name": self.class_name,
            "task_hostname": hostname,
            "environment_id": self.environment_id,
            "task_parent_role": self.role.path,
        }
        layers = self.role.layers().over(task=special)
        defaults = {k: self._render(v, layers.stack, f"defaults.{k}") for k, v in self.cls.defaults.values.items()}
        layers = layers.over(class_defaults=defaults)
        own_vars = {k: self._render(v, layers.stack, f"vars.{k}") for k, v in self.cls.vars.values.items()}
        return layers.over(class_vars=own_vars).stack

    def command(self, stack: Mapping[str, str], hostname: str) -> TaskCommand:
        """The command the executor starts on ``hostname``, from ``stack(hostname, ...)`` (§4.3)."""
        raw = self.cls.command
        env = [self._render(e, stack, f"command.env[{i}]") for i, e in enumerate(raw.env)]
        names = {e.partition("=")[0] for e in env}
        if "O2_ROLE" not in names:
            env.append(f"O2_ROLE={hostname}")
        if "O2_SYSTEM" not in names:
            env.append("O2_SYSTEM=FLP")
        return TaskCommand(
            value=self._render(raw.value, stack, "command.value"),
            shell=raw.shell,
            user=self._render(raw.user, stack, "command.user"),
            env=env,
            arguments=[self._render(a, stack, f"command.arguments[{i}]") for i, a in enumerate(raw.arguments)],
            stdout=self._output_mode(raw.stdout, stack, "command.stdout"),
            stderr=self._output_mode(raw.stderr, stack, "command.stderr"),
        )

    def _output_mode(self, text: str, stack: Mapping[str, str], field_name: str) -> str:
        try:
            return output_mode(self._render(text, stack, field_name))
        except ValueError as exc:
            raise TemplateError(
                str(exc),
                file=self.cls.file,
                line=self.cls.lines.get(field_name),
                role_path=self.role.path,
                field=field_name,
            ) from None

    def properties(self, stack: Mapping[str, str]) -> dict[str, str]:
        """The class's ``properties``, rendered with a ``stack(...)`` (§4.5)."""
        return {k: self._render(v, stack, f"properties.{k}") for k, v in self.cls.properties.items()}

    def channels(self, section: str) -> list[dict[str, str]]:
        """``bind`` or ``connect`` channels: the role's merged with its ancestors', then the class's (role wins).

        A deployment fixes channels before a node or task id is chosen, so the class's channels see the
        stack of the host the role is constrained to and an empty task id.
        """
        merged = role_channels(self.role, section)
        if section == "bind":
            missing = [(i, ch) for i, ch in enumerate(self.cls.bind) if ch.name not in merged]
            templated = any(expr.has_expressions(v) for _, ch in missing for v in ch.fields.values())
            stack = self.stack(self.host, "") if templated else {}
            for i, ch in missing:
                merged[ch.name] = {k: self._render(v, stack, f"bind[{i}].{k}") for k, v in ch.fields.items()}
        return list(merged.values())
