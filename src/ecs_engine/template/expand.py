"""Expanding a workflow template into the role tree of one environment.

Each role goes through the AliECS templating stages in order (template-corpus.md §4): 0 ``enabled``
(parent stack + locals), 1 own ``defaults`` (parent stack), 2 own ``vars`` (+ own defaults), 3 user vars,
4 name and traits, 5 constraints, channel targets and globals (calls and includes re-check ``enabled``).
Precedence is class first (user vars > vars > defaults), then depth (deeper wins), locals on top.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecs_engine.durations import parse_duration
from ecs_engine.errors import HandledError, NotFoundError, TemplateError

from . import expr
from .functions import Util, role_functions, static_objects
from .jit import Dpl
from .model import Env, EnvVars, Role, Traits, Workflow
from .roles import RawChannel, RawRole, WorkflowTemplate, parse_workflow
from .sources import TemplateRef, TemplateSource
from .tasks import TaskClass, parse_task
from .triggers import parse_trigger

MAX_INCLUDE_DEPTH = 16

ObjectFactory = Callable[[Mapping[str, str]], Mapping[str, Any]]


def is_enabled(text: str) -> bool:
    """AliECS: only a trimmed, lower-case ``true`` or ``1`` enables."""
    return text.strip().lower() in ("true", "1")


@dataclass
class _Ctx:
    """What a role passes to its children while expanding (flattened chains, cached for speed)."""

    flat_defaults: dict[str, str]
    flat_vars: dict[str, str]
    flat_user: dict[str, str]
    stack: dict[str, str]
    ancestors: list[tuple[str, str]]  # (name, path), nearest first
    role: Role | None
    source: TemplateSource
    depth: int = 0


class Expander:
    """Expands workflows for one environment; reusable for many loads with the same settings."""

    def __init__(
        self,
        source: TemplateSource,
        *,
        env_vars: EnvVars | None = None,
        role_user_vars: Mapping[str, Mapping[str, str]] | None = None,
        objects: ObjectFactory | None = None,
    ):
        self.source = source
        self.env_vars = env_vars or EnvVars()
        self.role_user_vars = {k: dict(v) for k, v in (role_user_vars or {}).items()}
        self._objects = objects
        #: how ``dpl`` objects are made: (stack, source, render) -> object; validation swaps in a dry one
        self.dpl_class: Callable[..., Any] = Dpl
        #: JIT workflows that are known not to exist offline: included as leaves, not loaded
        self.opaque_includes: set[str] = set()
        self._task_classes: dict[tuple[int, str], TaskClass] = {}  # one read per class and expansion
        self._static = static_objects()
        self.warnings: list[str] = []
        self._used_role_vars: set[str] = set()

    # -- expression environments -------------------------------------------------------------------------

    def objects(self, stack: Mapping[str, str], ctx: _Ctx, this: tuple[str, str] | None) -> dict[str, Any]:
        objs = dict(self._static)
        if self._objects is not None:
            objs.update(self._objects(stack))
        objs["util"] = Util(stack)
        objs["dpl"] = self.dpl_class(stack, ctx.source, lambda text: expr.render(text, Env(objs, stack)))
        objs.update(role_functions(ctx.ancestors, this))
        return objs

    def render(self, text: str, stack: Mapping[str, str], ctx: _Ctx, *, this=None, where: dict[str, Any]) -> str:
        if not expr.has_expressions(text):
            return text
        try:
            return expr.render(text, Env(self.objects(stack, ctx, this), stack))
        except TemplateError as exc:
            raise exc.located(**where) from None
        except HandledError as exc:
            raise TemplateError(exc.message, **where) from None

    # -- entry points -----------------------------------------------------------------------------------------

    def expand(self, name: str) -> Workflow:
        """Load ``name`` from the source (root ``name`` must equal the file name) and expand it."""
        ref = TemplateRef.parse(name, "workflows")
        source = self.source.resolve(ref)
        tfile = source.read("workflows", ref.name)
        template = parse_workflow(tfile.text, tfile.origin)
        if template.name != ref.name:
            raise TemplateError(
                f"the root role is named '{template.name}' but the file is '{ref.name}.yaml' (they must be equal)",
                file=tfile.origin,
                line=1,
                field="name",
            )
        self.warnings = list(template.warnings)
        roles = self._expand_root(template, source)
        for key in self.role_user_vars:
            if key not in self._used_role_vars:
                raise TemplateError(f"user variable for role '{key}': no enabled role has this path")
        return Workflow(template, roles, source, self.env_vars, self.warnings)

    def _expand_root(self, template: WorkflowTemplate, source: TemplateSource) -> Role:
        env = self.env_vars
        stack = {**env.defaults, **env.vars, **env.user}
        ctx = _Ctx(dict(env.defaults), dict(env.vars), dict(env.user), stack, [], None, source)
        roles = self._role(template.root, ctx, {})
        if not roles:
            raise TemplateError("the root role is disabled", file=template.file, line=1, role_path=template.name)
        root = roles[0]
        root.description = template.description
        return root

    # -- roles ------------------------------------------------------------------------------------------------

    def _role(self, raw: RawRole, ctx: _Ctx, locals_: dict[str, str]) -> list[Role]:
        if raw.kind == "iterator":
            return self._iterate(raw, ctx)
        parent_path = ctx.ancestors[0][1] if ctx.ancestors else ""
        hint = f"{parent_path}.{raw.name}" if parent_path else raw.name
        where = {"file": raw.file, "role_path": hint}

        base = {**ctx.stack, **locals_} if locals_ else ctx.stack
        # stage 0: enabled
        if raw.enabled is not None:
            value = self.render(raw.enabled, base, ctx, where={**where, "line": raw.enabled_line, "field": "enabled"})
            if not is_enabled(value):
                return []
        # stage 1: own defaults, against the parent stack (siblings invisible)
        own_defaults = {
            k: self.render(v, base, ctx, where={**where, "line": raw.defaults.lines.get(k), "field": f"defaults.{k}"})
            for k, v in raw.defaults.values.items()
        }
        flat_defaults = {**ctx.flat_defaults, **own_defaults} if own_defaults else ctx.flat_defaults
        # stage 2: own vars, seeing own defaults
        own_vars: dict[str, str] = {}
        if raw.vars.values:
            stack2 = {**flat_defaults, **ctx.flat_vars, **ctx.flat_user, **locals_}
            own_vars = {
                k: self.render(v, stack2, ctx, where={**where, "line": raw.vars.lines.get(k), "field": f"vars.{k}"})
                for k, v in raw.vars.values.items()
            }
        flat_vars = {**ctx.flat_vars, **own_vars} if own_vars else ctx.flat_vars
        if own_defaults or own_vars or locals_:
            stack = {**flat_defaults, **flat_vars, **ctx.flat_user, **locals_}
        else:
            stack = ctx.stack
        # stage 4: name, then the role can see itself
        name = self.render(raw.name, stack, ctx, where={**where, "line": raw.line, "field": "name"})
        path = f"{parent_path}.{name}" if parent_path else name
        where = {"file": raw.file, "role_path": path}
        # stage 3: user variables addressed to this role ("role.path:key")
        flat_user = ctx.flat_user
        own_user = self.role_user_vars.get(path)
        if own_user:
            self._used_role_vars.add(path)
            flat_user = {**flat_user, **own_user}
            stack = {**flat_defaults, **flat_vars, **flat_user, **locals_}
        role = Role(
            kind=raw.kind,
            name=name,
            path=path,
            parent=ctx.role,
            env_vars=self.env_vars,
            file=raw.file,
            line=raw.line,
            defaults=own_defaults,
            vars={**own_vars, **locals_},
            user_vars=dict(own_user or {}),
            source=ctx.source,
        )
        this = (name, path)

        def render4(text: str, field_name: str, line: int | None = None) -> str:
            return self.render(
                text,
                stack,
                ctx,
                this=this,
                where={**where, "line": line or raw.lines.get(field_name.split(".")[0]), "field": field_name},
            )

        if raw.traits is not None:
            self._traits(role, raw, render4)
        # stage 5: constraints, channel targets and globals; calls and includes re-check enabled
        role.constraints = [(c.attribute, render4(c.value, "constraints", c.line)) for c in raw.constraints]
        role.connect = [self._channel(ch, render4, "connect") for ch in raw.connect]
        role.bind = [self._channel(ch, render4, "bind") for ch in raw.bind]
        if (
            raw.kind in ("call", "include")
            and raw.enabled is not None
            and not is_enabled(render4(raw.enabled, "enabled", raw.enabled_line))
        ):
            return []
        child_ctx = _Ctx(
            flat_defaults,
            {**flat_vars, **locals_} if locals_ else flat_vars,
            flat_user,
            {**flat_defaults, **flat_vars, **locals_, **flat_user} if locals_ else stack,
            [this, *ctx.ancestors],
            role,
            ctx.source,
            ctx.depth,
        )
        if raw.kind == "include":
            target = render4(raw.include or "", "include")
            if not self._include(role, target, child_ctx, where):
                return []
        elif raw.kind == "aggregator":
            for child in raw.roles:
                role.children.extend(self._role(child, child_ctx, {}))
            if raw.roles and not role.children and ctx.role is not None:
                return []  # an aggregator whose children are all disabled disables itself
        elif raw.kind == "task":
            self._load_task(role, child_ctx.source, where)
        return [role]

    def _iterate(self, raw: RawRole, ctx: _Ctx) -> list[Role]:
        assert raw.for_ is not None and raw.body is not None
        loop = raw.for_
        parent_path = ctx.ancestors[0][1] if ctx.ancestors else ""
        where = {"file": raw.file, "line": raw.line, "role_path": f"{parent_path}.{raw.name}", "field": "for.range"}
        if loop.range is not None:
            text = self.render(loop.range, ctx.stack, ctx, where=where)
            try:
                items = json.loads(text)
            except ValueError:
                raise TemplateError(
                    f"the range must be a JSON list of strings, got '{text}'", expression=loop.range, **where
                ) from None
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise TemplateError(f"the range must be a JSON list of strings, got '{text}'", **where)
        else:
            try:
                begin = int(self.render(loop.begin or "", ctx.stack, ctx, where={**where, "field": "for.begin"}))
                end = int(self.render(loop.end or "", ctx.stack, ctx, where={**where, "field": "for.end"}))
            except ValueError:
                raise TemplateError("'for.begin' and 'for.end' must be integers", **{**where, "field": "for"}) from None
            items = [str(i) for i in range(begin, end + 1)]
        out: list[Role] = []
        for item in items:
            out.extend(self._role(raw.body, ctx, {loop.var: item}))
        return out

    def _traits(self, role: Role, raw: RawRole, render4: Callable[..., str]) -> None:
        t = raw.traits
        assert t is not None
        kind = raw.kind
        traits = Traits()
        if t.trigger:
            trigger_text = render4(t.trigger, f"{kind}.trigger")
            if trigger_text.strip():
                traits.trigger, warning = parse_trigger(trigger_text)
                if warning:
                    self.warnings.append(f"{raw.file}:{raw.line}: role {role.path}: {warning}")
        if t.await_:
            await_text = render4(t.await_, f"{kind}.await")
            if await_text.strip():
                traits.await_, warning = parse_trigger(await_text)
                if warning:
                    self.warnings.append(f"{raw.file}:{raw.line}: role {role.path}: await {warning}")
        if traits.await_ is None:
            traits.await_ = traits.trigger
        timeout_text = render4(t.timeout, f"{kind}.timeout") if t.timeout else ""
        if not timeout_text.strip():
            timeout_text = "30s" if traits.trigger is not None else "0s"
        try:
            traits.timeout = parse_duration(timeout_text)
        except ValueError as exc:
            raise TemplateError(
                str(exc), file=raw.file, line=raw.line, role_path=role.path, field=f"{kind}.timeout"
            ) from None
        traits.timeout_text = timeout_text.strip()
        traits.critical = True if t.critical is None else t.critical
        role.traits = traits
        if kind == "task":
            role.load = render4(t.load, "task.load")
        else:
            role.func = render4(t.func, "call.func")
            role.return_var = render4(t.return_, "call.return") if t.return_ else ""

    def _channel(self, ch: RawChannel, render4: Callable[..., str], section: str) -> dict[str, str]:
        return {k: render4(v, f"{section}.{k}", ch.line) for k, v in ch.fields.items()}

    def _include(self, role: Role, target: str, ctx: _Ctx, where: dict[str, Any]) -> bool:
        if not target.strip():
            raise TemplateError("the include expression gave an empty workflow name", field="include", **where)
        if ctx.depth >= MAX_INCLUDE_DEPTH:
            raise TemplateError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} (a cycle?)", field="include", **where)
        if target.strip() in self.opaque_includes:
            role.include = target.strip()
            return True
        try:
            ref = TemplateRef.parse(target, "workflows")
            source = ctx.source.resolve(ref)
            tfile = source.read("workflows", ref.name)
        except (NotFoundError, TemplateError) as exc:
            raise TemplateError(f"cannot include '{target}': {exc.message}", field="include", **where) from None
        sub = parse_workflow(tfile.text, tfile.origin)
        self.warnings.extend(w for w in sub.warnings if w not in self.warnings)
        role.include = f"{ref.name}" if source.revision == "local" else f"{ref.name}@{source.revision}"
        # the sub-workflow root's defaults/vars form a layer below the include role
        subctx = _Ctx(
            ctx.flat_defaults, ctx.flat_vars, ctx.flat_user, ctx.stack, ctx.ancestors, role, source, ctx.depth + 1
        )
        swhere = {"file": sub.file, "role_path": role.path}
        sub_defaults = {
            k: self.render(
                v,
                subctx.stack,
                subctx,
                where={**swhere, "line": sub.root.defaults.lines.get(k), "field": f"defaults.{k}"},
            )
            for k, v in sub.root.defaults.values.items()
        }
        flat_defaults = {**ctx.flat_defaults, **sub_defaults}
        stack2 = {**flat_defaults, **ctx.flat_vars, **ctx.flat_user}
        sub_vars = {
            k: self.render(
                v, stack2, subctx, where={**swhere, "line": sub.root.vars.lines.get(k), "field": f"vars.{k}"}
            )
            for k, v in sub.root.vars.values.items()
        }
        flat_vars = {**ctx.flat_vars, **sub_vars}
        role.defaults.update(sub_defaults)
        role.vars.update(sub_vars)
        subctx = _Ctx(
            flat_defaults,
            flat_vars,
            ctx.flat_user,
            {**flat_defaults, **flat_vars, **ctx.flat_user},
            ctx.ancestors,
            role,
            source,
            ctx.depth + 1,
        )
        for child in sub.root.roles:
            role.children.extend(self._role(child, subctx, {}))
        return bool(role.children)

    def _load_task(self, role: Role, source: TemplateSource, where: dict[str, Any]) -> None:
        key = (id(source), role.load)
        cls = self._task_classes.get(key)
        if cls is None:
            try:
                ref = TemplateRef.parse(role.load, "tasks")
                task_source = source.resolve(ref)
                tfile = task_source.read("tasks", ref.name)
            except (NotFoundError, TemplateError) as exc:
                raise TemplateError(
                    f"cannot load task '{role.load}': {exc.message}", field="task.load", **where
                ) from None
            cls = parse_task(tfile.text, tfile.origin)
            if cls.name != ref.name:
                self.warnings.append(
                    f"{tfile.origin}: task template name '{cls.name}' differs from its file name '{ref.name}'"
                )
            self.warnings.extend(w for w in cls.warnings if w not in self.warnings)
            self._task_classes[key] = cls
        role.task_class = cls


def role_renderer(
    expander: Expander, role: Role, *, file: str | None = None
) -> Callable[[str, Mapping[str, str], str], str]:
    """A ``render(text, stack, field)`` for fields evaluated later for ``role`` (task commands, call funcs)."""
    ancestors = [(r.name, r.path) for r in [role, *role.ancestors()]]
    ctx = _Ctx({}, {}, {}, {}, ancestors[1:], role, role.source or expander.source)
    this = ancestors[0]

    def render(text: str, stack: Mapping[str, str], field_name: str) -> str:
        return expander.render(
            text, stack, ctx, this=this, where={"file": file or role.file, "role_path": role.path, "field": field_name}
        )

    return render
