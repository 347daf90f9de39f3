"""The expanded workflow: its roles, their traits and variable layers, and the expression environment.

Plain data shared by the expander (which builds it), the task renderer and plan, and the environment
engine (which runs it); kept apart from the expander so those readers need not import how it is built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .precedence import VarLayers
from .restart import RestartPolicy
from .roles import WorkflowTemplate
from .sources import TemplateSource
from .tasks import TaskClass
from .triggers import Trigger

#: what a call adds to its role's stack when its trigger fires, in this order (reference §2.3; ``environment/calls.py``)
CALL_VARIABLES = (
    "__call_func",
    "__call_timeout",
    "__call_trigger",
    "__call_await",
    "__call_critical",
    "__call_rolepath",
)


class Env(Mapping[str, Any]):
    """The expression environment: function objects over the variable stack (objects win, as in AliECS)."""

    __slots__ = ("objects", "stack")

    def __init__(self, objects: Mapping[str, Any], stack: Mapping[str, str]):
        self.objects = objects
        self.stack = stack

    def __getitem__(self, key: str) -> Any:
        if key in self.objects:
            return self.objects[key]
        return self.stack[key]

    def __contains__(self, key: object) -> bool:
        return key in self.objects or key in self.stack

    def __iter__(self) -> Iterator[str]:
        yield from self.objects
        for key in self.stack:
            if key not in self.objects:
                yield key

    def __len__(self) -> int:
        return len(self.objects) + sum(1 for k in self.stack if k not in self.objects)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.objects:
            return self.objects[key]
        return self.stack.get(key, default)


@dataclass
class EnvVars:
    """The environment-level (outermost) variable layers: configuration store defaults and vars, user vars."""

    defaults: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    user: dict[str, str] = field(default_factory=dict)

    def layers(self) -> VarLayers:
        return VarLayers(defaults=self.defaults, vars=self.vars, user=self.user)


@dataclass
class Traits:
    """Hook and timing settings of a task or call role, after templating."""

    trigger: Trigger | None = None
    await_: Trigger | None = None
    timeout: float = 0.0
    timeout_text: str = "0s"
    critical: bool = True
    restart: RestartPolicy | None = None  # the role's own (restart_policy: the role's, else its class's)


@dataclass(eq=False)
class Role:
    """One role of an expanded workflow. Variables are the role's own maps; stacks are computed from the chain."""

    kind: str  # aggregator | task | call | include (iterators leave their copies as aggregators etc.)
    name: str
    path: str
    parent: Role | None
    env_vars: EnvVars
    file: str
    line: int
    defaults: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    user_vars: dict[str, str] = field(default_factory=dict)
    children: list[Role] = field(default_factory=list)
    constraints: list[tuple[str, str]] = field(default_factory=list)
    connect: list[dict[str, str]] = field(default_factory=list)
    bind: list[dict[str, str]] = field(default_factory=list)
    traits: Traits | None = None
    load: str = ""  # task roles: the task template reference as written (rendered)
    task_class: TaskClass | None = None
    func: str = ""  # call roles
    return_var: str = ""
    include: str = ""  # include roles: the workflow that was included
    source: TemplateSource | None = None
    description: str = ""

    def walk(self) -> Iterator[Role]:
        yield self
        for child in self.children:
            yield from child.walk()

    def ancestors(self) -> list[Role]:
        out, role = [], self.parent
        while role is not None:
            out.append(role)
            role = role.parent
        return out

    def root(self) -> Role:
        """The workflow's root role: where a run's variables are set for later calls and the tasks to read."""
        role = self
        while role.parent is not None:
            role = role.parent
        return role

    def layers(self) -> VarLayers:
        """The variable layers seen from this role: the environment's, then each role's from the root down."""
        chain = [*reversed(self.ancestors()), self]
        own = (VarLayers(defaults=r.defaults, vars=r.vars, user=r.user_vars) for r in chain)
        return VarLayers.nested([self.env_vars.layers(), *own])

    def stack(self) -> dict[str, str]:
        """Consolidated variables seen from this role (precedence.py)."""
        return self.layers().stack

    @property
    def critical(self) -> bool:
        return self.traits.critical if self.traits else True

    @property
    def is_hook(self) -> bool:
        return self.kind == "task" and self.traits is not None and self.traits.trigger is not None

    @property
    def restart_policy(self) -> RestartPolicy | None:
        """How a task of this role is restarted: the role's ``task.restart``, else its task template's."""
        own = self.traits.restart if self.traits is not None else None
        return own or (self.task_class.restart if self.task_class is not None else None)


@dataclass
class Workflow:
    """An expanded workflow: the enabled role tree of one environment."""

    template: WorkflowTemplate
    root: Role
    source: TemplateSource
    env_vars: EnvVars
    warnings: list[str]

    def roles(self) -> Iterator[Role]:
        return self.root.walk()

    def task_roles(self) -> list[Role]:
        return [r for r in self.root.walk() if r.kind == "task"]

    def call_roles(self) -> list[Role]:
        return [r for r in self.root.walk() if r.kind == "call"]
