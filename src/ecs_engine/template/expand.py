"""Expanding a workflow template into the role tree of one environment.

Each role goes through the AliECS templating stages in order (template-corpus.md §4): 0 ``enabled``
(parent stack + locals), 1 own ``defaults`` (parent stack), 2 own ``vars`` (+ own defaults), 3 user vars,
4 name and traits, 5 constraints, channel targets and globals (calls and includes re-check ``enabled``).
Which variable wins is decided by ``precedence.VarLayers``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from ecs_engine.durations import parse_duration
from ecs_engine.errors import HandledError, NotFoundError, TemplateError
from ecs_engine.uservars import string_list

from . import expr
from .functions import Util, role_functions, static_objects
from .jit import Dpl, DplGenerator
from .model import CALL_VARIABLES, Env, EnvVars, Role, Traits, Workflow
from .precedence import VarLayers
from .roles import RawChannel, RawRole, WorkflowTemplate, parse_workflow
from .sources import TemplateRef, TemplateSource
from .tasks import TaskClass, parse_task
from .triggers import parse_trigger
from .yamlload import IGNORED_VALUE, VarMap

MAX_INCLUDE_DEPTH = 16

ObjectFactory = Callable[[Mapping[str, str]], Mapping[str, Any]]
RoleRef = tuple[str, str]  # (name, path)


def is_enabled(text: str) -> bool:
    """AliECS: only a trimmed, lower-case ``true`` or ``1`` enables."""
    return text.strip().lower() in ("true", "1")


def parse_timeout(text: str) -> float:
    """A task or call role's timeout in seconds: a Go duration that is not negative (AliECS would time a hook
    out at once)."""
    seconds = parse_duration(text)
    if seconds < 0:
        raise ValueError(f"a timeout cannot be negative, got '{text.strip()}'")
    return seconds


def parse_range(text: str) -> list[str]:
    """An iterator's ``for.range`` once rendered: a JSON list of strings (AliECS refuses numbers too)."""
    items = string_list(text)
    if items is None:
        raise ValueError(f"the range must be a JSON list of strings, got '{text}'")
    return items


def parse_bound(text: str) -> int:
    """An iterator's ``for.begin`` or ``for.end`` once rendered: an integer (both inclusive)."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got '{text}'") from None


def given_by_user(text: str, layers: VarLayers) -> str:
    """`` from the user variable 'x' (-e)`` when ``text`` reads a variable the user gave: a bad value is theirs,
    not the template's."""
    given = sorted(name for name in expr.names_in(text) if layers.layer_of(name) == "user")
    if not given:
        return ""
    return " from the user variable" + ("s " if len(given) > 1 else " ") + ", ".join(f"'{n}'" for n in given) + " (-e)"


def child_path(parent_path: str, name: str) -> str:
    return f"{parent_path}.{name}" if parent_path else name


class Where(NamedTuple):
    """Where a templated field is written, so an error can point at it."""

    file: str
    role_path: str
    line: int | None = None
    field: str | None = None

    def at(self, line: int | None, field: str) -> Where:
        return Where(self.file, self.role_path, line, field)

    def error(self, message: str, *, expression: str | None = None) -> TemplateError:
        return TemplateError(
            message,
            file=self.file,
            line=self.line,
            role_path=self.role_path,
            field=self.field,
            expression=expression,
        )


def _ignored_value_hint(exc: TemplateError, warnings: list[str]) -> TemplateError:
    """An unknown name that a template sets to a map or list was dropped (variables are strings): say so, where the
    closest name would mislead."""
    unknown = re.match(r"unknown name '([^']+)'", exc.message)
    if unknown:
        dropped = re.compile(rf"(.*?): \S*\.{re.escape(unknown.group(1))}: {IGNORED_VALUE}")
        for warning in warnings:
            if match := dropped.match(warning):
                exc.hint = (
                    f"'{unknown.group(1)}' is set to a map or list at {match.group(1)}, which is ignored: variables"
                    ' are strings (quote it: \'["a", "b"]\')'
                )
                break
    return exc


@dataclass(frozen=True)
class _Scope:
    """What a role passes to its children while expanding: their variable layers and ancestry."""

    layers: VarLayers
    ancestors: list[RoleRef]  # nearest first
    role: Role | None
    source: TemplateSource
    includes: tuple[str, ...] = ()  # the files of the workflows included on the way here, outermost first

    @property
    def path(self) -> str:
        return self.ancestors[0][1] if self.ancestors else ""


class Expander:
    """Expands workflows for one environment; reusable for many loads with the same settings."""

    def __init__(
        self,
        source: TemplateSource,
        *,
        env_vars: EnvVars | None = None,
        role_user_vars: Mapping[str, Mapping[str, str]] | None = None,
        objects: ObjectFactory | None = None,
        dpl_generate: DplGenerator | None = None,
        offline: bool = False,
        call_objects: frozenset[str] | None = None,
    ):
        self.source = source
        self.offline = offline  # validate/plan: util.Dump writes nothing
        self.env_vars = env_vars or EnvVars()
        self.role_user_vars = {k: dict(v) for k, v in (role_user_vars or {}).items()}
        self._objects = objects
        #: how ``dpl`` objects are made: (stack, source, render) -> object; validation swaps in a dry one.
        #: ``dpl_generate`` runs DPL for a JIT workflow the source lacks (None: none can be generated)
        self.dpl_class: Callable[..., Any] = functools.partial(Dpl, generate=dpl_generate)
        #: JIT workflows that are known not to exist offline: included as leaves, not loaded
        self.opaque_includes: set[str] = set()
        self._task_classes: dict[tuple[int, str], TaskClass] = {}  # one read per class and expansion
        self._static = static_objects()
        #: the last ``objects``: (stack, scope, this, objects); a stack is not changed once rendered with
        self._made_objects: tuple[Mapping[str, str], _Scope, RoleRef | None, dict[str, Any]] | None = None
        self.warnings: list[str] = []
        #: the names a call's ``func`` may use besides its variables: the integration plugins' (None: not checked)
        self.call_objects = call_objects
        #: calls whose ``func`` would fail when their trigger fires (unknown names, bad syntax); found with
        #: ``call_objects``, reported by plan and validate
        self.call_errors: list[TemplateError] = []
        self._used_role_vars: set[str] = set()

    # -- expression environments -------------------------------------------------------------------------

    def objects(self, stack: Mapping[str, str], scope: _Scope, this: RoleRef | None) -> dict[str, Any]:
        """The functions an expression sees over ``stack``: made once for the fields rendered in a row with the same
        stack (a task's command is a dozen fields, a role's defaults and vars as many), not once per field: making
        them (the configuration's, each plugin's, ``util``, ``dpl``) was a third of rendering a real template."""
        made = self._made_objects
        if made is not None and made[0] is stack and made[1] is scope and made[2] == this:
            return made[3]
        objs = dict(self._static)
        if self._objects is not None:
            objs.update(self._objects(stack))
        objs["util"] = Util(stack, offline=self.offline)
        # dpl renders a JIT command with objects of its own; it reaches this expander weakly: the objects are kept
        # here, and a strong reference back would be a cycle, left for the cycle collector
        expander = weakref.ref(self)
        objs["dpl"] = self.dpl_class(
            stack,
            scope.source,
            lambda text: expr.render(text, Env(_alive(expander).objects(stack, scope, this), stack)),
        )
        objs.update(role_functions(scope.ancestors, this))
        self._made_objects = (stack, scope, this, objs)
        return objs

    def render(
        self, text: str, stack: Mapping[str, str], scope: _Scope, *, this: RoleRef | None = None, where: Where
    ) -> str:
        if not expr.has_expressions(text):
            return text
        try:
            return expr.render(text, Env(self.objects(stack, scope, this), stack))
        except TemplateError as exc:
            raise exc.located(**where._asdict()) from None
        except HandledError as exc:
            raise where.error(exc.message) from None

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
        self.call_errors = []
        try:
            roles = self._expand_root(template, source)
        except TemplateError as exc:
            raise _ignored_value_hint(exc, self.warnings) from None
        for key in self.role_user_vars:
            if key not in self._used_role_vars:
                raise TemplateError(f"user variable for role '{key}': no enabled role has this path")
        return Workflow(template, roles, source, self.env_vars, self.warnings)

    def _expand_root(self, template: WorkflowTemplate, source: TemplateSource) -> Role:
        roles = self._role(template.root, _Scope(self.env_vars.layers(), [], None, source, (template.file,)), {})
        if not roles:
            raise TemplateError("the root role is disabled", file=template.file, line=1, role_path=template.name)
        root = roles[0]
        root.description = template.description
        return root

    # -- roles ------------------------------------------------------------------------------------------------

    def _role(self, raw: RawRole, scope: _Scope, locals_: Mapping[str, str]) -> list[Role]:
        """``raw`` and its subtree through the stages of the module docstring; [] if it is disabled."""
        if raw.kind == "iterator":
            return self._iterate(raw, scope)
        where = Where(raw.file, child_path(scope.path, raw.name))
        layers = scope.layers.over(locals=locals_)
        if raw.enabled is not None:
            enabled = self.render(raw.enabled, layers.stack, scope, where=where.at(raw.enabled_line, "enabled"))
            if not is_enabled(enabled):
                return []
        own_defaults, own_vars, layers = self._own_variables(raw.defaults, raw.vars, layers, scope, where)
        name = self.render(raw.name, layers.stack, scope, where=where.at(raw.line, "name"))
        path = child_path(scope.path, name)
        own_user = self._user_vars_of(path)
        layers = layers.over(user=own_user)
        role = Role(
            kind=raw.kind,
            name=name,
            path=path,
            parent=scope.role,
            env_vars=self.env_vars,
            file=raw.file,
            line=raw.line,
            defaults=own_defaults,
            vars={**own_vars, **locals_},
            user_vars=own_user,
            source=scope.source,
        )
        fields = _RoleFields(self, raw, layers, scope, (name, path), Where(raw.file, path))
        if raw.traits is not None:
            self._traits(role, raw, fields)
        self._placement(role, raw, fields)
        recheck = raw.kind in ("call", "include") and raw.enabled is not None
        if recheck and not is_enabled(fields(raw.enabled or "", "enabled", raw.enabled_line)):
            return []
        children = _Scope(layers.for_children(), [(name, path), *scope.ancestors], role, scope.source, scope.includes)
        return [role] if self._fill(role, raw, children, fields) else []

    def _own_variables(
        self, defaults: VarMap, vars_: VarMap, layers: VarLayers, scope: _Scope, where: Where
    ) -> tuple[dict[str, str], dict[str, str], VarLayers]:
        """Stages 1 and 2: own defaults see the enclosing stack (not each other), own vars see them too."""
        own_defaults = {
            k: self.render(v, layers.stack, scope, where=where.at(defaults.lines.get(k), f"defaults.{k}"))
            for k, v in defaults.values.items()
        }
        layers = layers.over(defaults=own_defaults)
        own_vars = {
            k: self.render(v, layers.stack, scope, where=where.at(vars_.lines.get(k), f"vars.{k}"))
            for k, v in vars_.values.items()
        }
        return own_defaults, own_vars, layers.over(vars=own_vars)

    def _user_vars_of(self, path: str) -> dict[str, str]:
        """Stage 3: the user variables addressed to this role (``-e role.path:key=value``)."""
        own = self.role_user_vars.get(path)
        if not own:
            return {}
        self._used_role_vars.add(path)
        return dict(own)

    def _iterate(self, raw: RawRole, scope: _Scope) -> list[Role]:
        """One copy of the iterator's body per item, each straight under the iterator's parent."""
        assert raw.for_ is not None and raw.body is not None
        loop = raw.for_
        where = Where(raw.file, child_path(scope.path, raw.name))

        def value(field_name: str, text: str, parse: Callable[[str], Any]) -> Any:
            at = where.at(raw.lines.get(field_name, raw.line), field_name)
            try:
                return parse(self.render(text, scope.layers.stack, scope, where=at))
            except ValueError as exc:
                raise at.error(f"{exc}{given_by_user(text, scope.layers)}") from None

        if loop.range is not None:
            items = value("for.range", loop.range, parse_range)
        else:
            begin, end = (
                value("for.begin", loop.begin or "", parse_bound),
                value("for.end", loop.end or "", parse_bound),
            )
            items = [str(i) for i in range(begin, end + 1)]
        out: list[Role] = []
        for item in items:
            out.extend(self._role(raw.body, scope, {loop.var: item}))
        return out

    def _traits(self, role: Role, raw: RawRole, fields: _RoleFields) -> None:
        """Stage 4 of task and call roles: trigger, await, timeout, critical; the task class or the call."""
        t = raw.traits
        assert t is not None
        kind = raw.kind
        traits = Traits()
        if t.trigger:
            trigger_text = fields(t.trigger, f"{kind}.trigger")
            if trigger_text.strip():
                traits.trigger, warning = parse_trigger(trigger_text)
                if warning:
                    self.warnings.append(f"{raw.file}:{raw.line}: role {role.path}: {warning}")
        if t.await_:
            await_text = fields(t.await_, f"{kind}.await")
            if await_text.strip():
                traits.await_, warning = parse_trigger(await_text)
                if warning:
                    self.warnings.append(f"{raw.file}:{raw.line}: role {role.path}: await {warning}")
        if traits.await_ is None:
            traits.await_ = traits.trigger
        timeout_text = fields(t.timeout, f"{kind}.timeout") if t.timeout else ""
        if not timeout_text.strip():
            timeout_text = "30s" if traits.trigger is not None else "0s"
        try:
            traits.timeout = parse_timeout(timeout_text)
        except ValueError as exc:
            raise fields.at(f"{kind}.timeout").error(f"{exc}{given_by_user(t.timeout, fields.layers)}") from None
        traits.timeout_text = timeout_text.strip()
        traits.critical = True if t.critical is None else t.critical
        traits.restart = t.restart
        if t.restart is not None and traits.critical:
            self.warnings.append(f"{raw.file}:{raw.line}: role {role.path}: 'restart' is ignored for a critical task")
        role.traits = traits
        if kind == "task":
            role.load = fields(t.load, "task.load")
        else:
            role.func = fields(t.func, "call.func")
            role.return_var = fields(t.return_, "call.return") if t.return_ else ""
            if traits.trigger is not None and self.call_objects is not None:
                self._check_call(role.func, fields)

    def _check_call(self, func: str, fields: _RoleFields) -> None:
        """A call's ``func`` is evaluated only when its trigger fires, over the integration plugins' objects and
        the call's variables: what would make it fail then is known now."""
        assert self.call_objects is not None
        variables = {**fields.stack, **dict.fromkeys(CALL_VARIABLES, "")}
        try:
            expr.compile_expression(func).check_names(Env(dict.fromkeys(self.call_objects), variables))
        except TemplateError as exc:  # kept as a new error: the caught one's traceback would hold this expander
            self.call_errors.append(
                TemplateError(
                    f"{exc.message} (the call would fail when its trigger fires)",
                    **fields.at("call.func")._asdict(),
                    expression=exc.expression,
                    position=exc.position,
                    hint=exc.hint,
                )
            )

    def _placement(self, role: Role, raw: RawRole, fields: _RoleFields) -> None:
        """Stage 5: constraint values and channels (the fields a deployment reads)."""

        def channel(ch: RawChannel, field_name: str) -> dict[str, str]:
            return {k: fields(v, f"{field_name}.{k}") for k, v in ch.fields.items()}

        role.constraints = [
            (c.attribute, fields(c.value, f"constraints[{i}].value")) for i, c in enumerate(raw.constraints)
        ]
        role.connect = [channel(ch, f"connect[{i}]") for i, ch in enumerate(raw.connect)]
        role.bind = [channel(ch, f"bind[{i}]") for i, ch in enumerate(raw.bind)]

    def _fill(self, role: Role, raw: RawRole, children: _Scope, fields: _RoleFields) -> bool:
        """What is below the role: children, the included workflow, the task class. False: it disables itself."""
        if raw.kind == "include":
            return self._include(role, fields(raw.include or "", "include"), children, fields.at("include"))
        if raw.kind == "aggregator":
            self._add_children(role, raw.roles, children)
            # an aggregator whose children are all disabled disables itself (the root stays)
            return not raw.roles or bool(role.children) or role.parent is None
        if raw.kind == "task":
            role.task_class = self._task_class(role.load, children.source, fields.at("task.load"))
        return True

    def _include(self, role: Role, target: str, scope: _Scope, where: Where) -> bool:
        if not target.strip():
            raise where.error("the include expression gave an empty workflow name")
        if len(scope.includes) > MAX_INCLUDE_DEPTH:
            raise where.error(f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
        if target.strip() in self.opaque_includes:
            role.include = target.strip()
            return True
        try:
            ref = TemplateRef.parse(target, "workflows")
            source = scope.source.resolve(ref)
            tfile = source.read("workflows", ref.name)
        except (NotFoundError, TemplateError) as exc:
            raise where.error(f"cannot include '{target}': {exc.message}") from None
        if tfile.origin in scope.includes:
            cycle = [*scope.includes[scope.includes.index(tfile.origin) :], tfile.origin]
            raise where.error("include cycle: " + " -> ".join(PurePosixPath(file).stem for file in cycle))
        sub = parse_workflow(tfile.text, tfile.origin)
        self.warnings.extend(w for w in sub.warnings if w not in self.warnings)
        role.include = f"{ref.name}" if source.revision == "local" else f"{ref.name}@{source.revision}"
        # the sub-workflow root's defaults/vars form a layer below the include role
        scope = dataclasses.replace(scope, source=source, includes=(*scope.includes, tfile.origin))
        sub_defaults, sub_vars, layers = self._own_variables(
            sub.root.defaults, sub.root.vars, scope.layers, scope, Where(sub.file, role.path)
        )
        role.defaults.update(sub_defaults)
        role.vars.update(sub_vars)
        scope = dataclasses.replace(scope, layers=layers)
        self._add_children(role, sub.root.roles, scope)
        return bool(role.children)

    def _add_children(self, role: Role, raws: tuple[RawRole, ...], scope: _Scope) -> None:
        """The enabled children of ``role``, each path once: two roles of one path would be one task or call to
        whatever addresses it (channel targets, ``-e role.path:key``, hooks) and one would silently vanish."""
        seen: dict[str, tuple[Role, RawRole]] = {}
        for raw in raws:
            for child in self._role(raw, scope, {}):
                first, first_raw = seen.setdefault(child.path, (child, raw))
                if first is not child:
                    if first_raw is raw:
                        why = f"the iterator '{raw.name}' gives it twice (its items must give distinct names)"
                    else:
                        at = f"line {first.line}" if first.file == child.file else f"{first.file}:{first.line}"
                        why = f"the role at {at} has it too (sibling roles need distinct names)"
                    raise TemplateError(
                        f"two enabled roles have this path: {why}",
                        file=child.file,
                        line=child.line,
                        role_path=child.path,
                        field="name",
                    )
                role.children.append(child)

    def _task_class(self, load: str, source: TemplateSource, where: Where) -> TaskClass:
        key = (id(source), load)
        cls = self._task_classes.get(key)
        if cls is None:
            try:
                ref = TemplateRef.parse(load, "tasks")
                task_source = source.resolve(ref)
                tfile = task_source.read("tasks", ref.name)
            except (NotFoundError, TemplateError) as exc:
                raise where.error(f"cannot load task '{load}': {exc.message}") from None
            try:
                cls = parse_task(tfile.text, tfile.origin)
            except TemplateError as exc:  # the role loading it too: a task template may serve several
                raise exc.located(role_path=where.role_path) from None
            if cls.name != ref.name:
                self.warnings.append(
                    f"{tfile.origin}:{cls.lines['name']}: task template name '{cls.name}' differs from its file"
                    f" name '{ref.name}'"
                )
            self.warnings.extend(w for w in cls.warnings if w not in self.warnings)
            self._task_classes[key] = cls
        return cls


@dataclass(frozen=True)
class _RoleFields:
    """Renders a role's stage 4 and 5 fields: with its whole stack, and seeing itself (``This()``)."""

    expander: Expander
    raw: RawRole
    layers: VarLayers
    scope: _Scope
    this: RoleRef
    where: Where

    @property
    def stack(self) -> Mapping[str, str]:
        return self.layers.stack

    def __call__(self, text: str, field_name: str, line: int | None = None) -> str:
        return self.expander.render(text, self.stack, self.scope, this=self.this, where=self.at(field_name, line))

    def at(self, field_name: str, line: int | None = None) -> Where:
        """Where ``field_name`` is written: its own line as the reader recorded it, else its section's."""
        lines = self.raw.lines
        line = line or lines.get(field_name) or lines.get(field_name.split(".")[0].split("[")[0])
        return self.where.at(line, field_name)


def _alive(expander: weakref.ref[Expander]) -> Expander:
    alive = expander()
    assert alive is not None, "objects used after their expander"  # they are made and used within its renders
    return alive


def role_renderer(
    expander: Expander, role: Role, *, file: str | None = None, lines: Mapping[str, int] | None = None
) -> Callable[[str, Mapping[str, str], str], str]:
    """A ``render(text, stack, field)`` for fields evaluated later for ``role`` (task commands, properties) written
    in ``file``, on the ``lines`` of their field names."""
    ancestors = [(r.name, r.path) for r in [role, *role.ancestors()]]
    scope = _Scope(VarLayers(), ancestors[1:], role, role.source or expander.source)
    where = Where(file or role.file, role.path)

    def render(text: str, stack: Mapping[str, str], field_name: str) -> str:
        line = lines.get(field_name) if lines else None
        return expander.render(text, stack, scope, this=ancestors[0], where=where.at(line, field_name))

    return render
