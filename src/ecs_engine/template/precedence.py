"""Variable precedence: which value of a name a role, an include or a task sees.

AliECS keeps one chain of maps per class of variable (defaults, vars, user vars), each child wrapping its
parent; the class decides first and depth second (reference §3.5). A task class's own defaults and vars
lie under everything its role sees, and the task's special variables over it (§4.3; unlike AliECS, class
vars beat class defaults, docs/compat.md). Every stack of the template package is flattened here so that
order is written once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

EMPTY: Mapping[str, str] = MappingProxyType({})


class VarLayers:
    """The variable layers seen from one scope, weakest first (the order of ``ORDER``); read-only.

    - ``class_defaults``, ``class_vars``: the task template's own maps;
    - ``defaults``, ``vars``: the store's, then every role's from the root down (ancestors' iterator locals
      are vars);
    - ``user``: the user's variables, then those addressed to one role;
    - ``locals``: the iterator variable of the role being expanded;
    - ``task``: ``task_name``, ``task_id``, ``task_hostname`` ... of one task.
    """

    ORDER = ("class_defaults", "class_vars", "defaults", "vars", "user", "locals", "task")
    __slots__ = (*ORDER, "_stack")

    def __init__(
        self,
        class_defaults: Mapping[str, str] = EMPTY,
        class_vars: Mapping[str, str] = EMPTY,
        defaults: Mapping[str, str] = EMPTY,
        vars: Mapping[str, str] = EMPTY,
        user: Mapping[str, str] = EMPTY,
        locals: Mapping[str, str] = EMPTY,
        task: Mapping[str, str] = EMPTY,
    ):
        self.class_defaults = class_defaults
        self.class_vars = class_vars
        self.defaults = defaults
        self.vars = vars
        self.user = user
        self.locals = locals
        self.task = task
        self._stack: dict[str, str] | None = None

    @property
    def stack(self) -> dict[str, str]:
        """The consolidated variables, a stronger layer beating a weaker one (computed once; do not mutate)."""
        if self._stack is None:
            self._stack = {}
            for name in self.ORDER:
                layer = getattr(self, name)
                if layer:
                    self._stack.update(layer)
        return self._stack

    def layer_of(self, name: str) -> str | None:
        """The layer ``name``'s value comes from (the strongest holding it), so an error can say who gave it."""
        return next((layer for layer in reversed(self.ORDER) if name in getattr(self, layer)), None)

    def over(self, **layers: Mapping[str, str]) -> VarLayers:
        """These layers with a deeper scope's: within each layer the deeper value wins."""
        changed = {name: {**getattr(self, name), **values} for name, values in layers.items() if values}
        if not changed:
            return self
        return VarLayers(**{name: changed.get(name, getattr(self, name)) for name in self.ORDER})

    def for_children(self) -> VarLayers:
        """What the children of a role see: its iterator locals have become its vars (reference §3.4)."""
        if not self.locals:
            return self
        return VarLayers(self.class_defaults, self.class_vars, self.defaults, {**self.vars, **self.locals}, self.user)

    @classmethod
    def nested(cls, scopes: Iterable[VarLayers]) -> VarLayers:
        """Scopes from the outermost in, each wrapped by the next (AliECS's chains of maps)."""
        merged: dict[str, dict[str, str]] = {name: {} for name in cls.ORDER}
        for scope in scopes:
            for name, values in merged.items():
                layer = getattr(scope, name)
                if layer:
                    values.update(layer)
        return cls(**merged)
