"""Workflow templates as read from YAML, before any expression is evaluated.

The role kind is decided by the keys present (AliECS rules): ``for`` makes an iterator whose body is
probed the same way; otherwise exactly one of ``roles``, ``task``, ``call``, ``include``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from ecs_engine.errors import TemplateError, role_label

from .restart import RestartPolicy, parse_restart
from .yamlload import EMPTY_VARMAP, VarMap, VarSpec, YList, YMap, as_bool, did_you_mean, load_yaml, read_varmap

COMMON_KEYS = frozenset(("name", "enabled", "defaults", "vars", "constraints", "connect", "bind"))
KIND_KEYS = ("roles", "task", "call", "include")
ROLE_KEYS = COMMON_KEYS | {*KIND_KEYS, "for", "description"}
TASK_KEYS = ("load", "critical", "trigger", "await", "timeout", "restart")
CALL_KEYS = ("func", "return", "trigger", "await", "timeout", "critical")
CHANNEL_KEYS = (
    "name",
    "type",
    "sndBufSize",
    "rcvBufSize",
    "rateLogging",
    "transport",
    "target",
    "global",
    "addressing",
)
CHANNEL_TYPES = ("push", "pull", "pub", "sub", "pair", "req", "rep")


@dataclass(frozen=True)
class RawChannel:
    fields: dict[str, str]

    @property
    def name(self) -> str:
        return self.fields.get("name", "")


@dataclass(frozen=True)
class RawConstraint:
    attribute: str
    value: str


@dataclass(frozen=True)
class RawTraits:
    """``task:`` or ``call:`` settings (raw text, templated at stage 4)."""

    load: str = ""
    func: str = ""
    return_: str = ""
    trigger: str = ""
    await_: str = ""
    timeout: str = ""
    critical: bool | None = None
    restart: RestartPolicy | None = None  # task roles (restart.py)


@dataclass(frozen=True)
class RawFor:
    var: str
    range: str | None = None
    begin: str | None = None
    end: str | None = None


@dataclass(eq=False)
class RawRole:
    kind: str  # aggregator | task | call | include | iterator
    name: str
    file: str
    line: int
    enabled: str | None = None
    enabled_line: int = 0
    defaults: VarMap = EMPTY_VARMAP
    vars: VarMap = EMPTY_VARMAP
    constraints: tuple[RawConstraint, ...] = ()
    connect: tuple[RawChannel, ...] = ()
    bind: tuple[RawChannel, ...] = ()
    roles: tuple[RawRole, ...] = ()
    traits: RawTraits | None = None
    include: str | None = None
    for_: RawFor | None = None
    body: RawRole | None = None  # iterators: the role copied for each item
    #: the line of each field, by the name errors give it (``task.timeout``, ``constraints[0].value``, ...)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class WorkflowTemplate:
    """A parsed workflow file: the root role plus file-level facts."""

    name: str
    file: str
    public: bool
    description: str
    root: RawRole
    varspecs: dict[str, VarSpec]
    warnings: list[str]


class _Reader:
    def __init__(self, file: str):
        self.file = file
        self.warnings: list[str] = []

    def error(self, message: str, line: int | None, **where: Any) -> TemplateError:
        return TemplateError(message, file=self.file, line=line, **where)

    def scalar(self, value: Any, line: int, field_name: str, hint_path: str) -> str:
        if isinstance(value, (dict, list)):
            raise self.error("expected a string", line, field=field_name, role_path=hint_path)
        return value

    def role(self, data: Any, line: int, hint_path: str, *, top: bool = False) -> RawRole:
        if not isinstance(data, YMap):
            raise self.error("a role must be a map", line, role_path=hint_path)
        name = data.get("name")
        if name in (None, "") and not top:
            raise self.error("role has no 'name'", data.line, role_path=hint_path)
        name = self.scalar(name or "", data.line_of("name"), "name", hint_path)
        path = f"{hint_path}.{name}" if hint_path else name

        if "for" in data:
            return self._iterator(data, name, path)

        present = [k for k in KIND_KEYS if k in data]
        line = data.line
        if len(present) != 1:
            if not present:
                message = "cannot tell the role kind: expected one of 'roles', 'task', 'call', 'include' or 'for'"
                unknown = [k for k in data if k not in ROLE_KEYS]
                if unknown:  # a misspelt kind: point at it
                    line = data.key_line_of(unknown[0])
                    message += f"; unknown key '{unknown[0]}'{did_you_mean(unknown[0], ROLE_KEYS)}"
            else:
                message = f"a role has exactly one of 'roles', 'task', 'call', 'include'; this one has {present}"
            raise self.error(message, line, role_path=path)
        kind = {"roles": "aggregator"}.get(present[0], present[0])
        allowed = COMMON_KEYS | {present[0]} | ({"description"} if top else set())
        for key in data:
            if key not in allowed:
                self.warnings.append(
                    f"{self.file}:{data.key_line_of(key)}: {role_label(path)}: unknown key '{key}' ignored"
                    + did_you_mean(key, allowed)
                )
        common = self._common(data, path)
        body = data[present[0]]
        if kind in ("task", "call") and isinstance(body, YMap):
            common["lines"].update({f"{kind}.{key}": body.line_of(key) for key in body})
        if kind == "aggregator":
            roles = data["roles"]
            if roles in ("", None):
                roles = YList(data.line_of("roles"))
            if not isinstance(roles, YList):
                raise self.error("'roles' must be a list of roles", data.line_of("roles"), role_path=path)
            children = tuple(self.role(item, roles.line_of(i), path) for i, item in enumerate(roles))
            return RawRole(kind, name, self.file, data.line, roles=children, **common)
        if kind == "include":
            include = self.scalar(data["include"], data.line_of("include"), "include", path)
            return RawRole(kind, name, self.file, data.line, include=include, **common)
        traits = self._traits(body, data.line_of(present[0]), kind, path)
        return RawRole(kind, name, self.file, data.line, traits=traits, **common)

    def _iterator(self, data: YMap, name: str, path: str) -> RawRole:
        spec = data["for"]
        line = data.line_of("for")
        if not isinstance(spec, YMap):
            raise self.error(
                "'for' must be a map with 'range' and 'var' (or 'begin', 'end', 'var')", line, role_path=path
            )
        for key in spec:
            if key not in ("range", "var", "begin", "end"):
                self.warnings.append(
                    f"{self.file}:{spec.key_line_of(key)}: {role_label(path)}: unknown 'for' key '{key}' ignored"
                    + did_you_mean(key, ("range", "var", "begin", "end"))
                )
        var = spec.get("var")
        if not var or not isinstance(var, str):
            raise self.error("'for' needs 'var': the name of the loop variable", line, role_path=path, field="for.var")
        lines = {f"for.{key}": spec.line_of(key) for key in spec}
        if "range" in spec:
            loop = RawFor(var=var, range=self.scalar(spec["range"], spec.line_of("range"), "for.range", path))
        elif "begin" in spec and "end" in spec:
            loop = RawFor(var=var, begin=str(spec["begin"]), end=str(spec["end"]))
        else:
            raise self.error("'for' needs 'range', or 'begin' and 'end'", line, role_path=path, field="for")
        body_data = YMap(data.line)
        for key, value in data.items():
            if key != "for":
                body_data[key] = value
                body_data.key_lines[key] = data.line_of(key)
                body_data.name_lines[key] = data.key_line_of(key)
                if key in data.public_keys:
                    body_data.public_keys.add(key)
        body = self.role(body_data, data.line, path.rpartition(".")[0])
        if body.kind == "iterator":  # pragma: no cover - 'for' was removed above
            raise self.error("nested 'for' in one role", line, role_path=path)
        return RawRole("iterator", name, self.file, data.line, for_=loop, body=body, lines=lines)

    def _common(self, data: YMap, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"lines": dict(data.key_lines)}
        if "enabled" in data:
            out["enabled"] = self.scalar(data["enabled"], data.line_of("enabled"), "enabled", path)
            out["enabled_line"] = data.line_of("enabled")
        for section in ("defaults", "vars"):
            varmap = read_varmap(
                data.get(section), file=self.file, line=data.line_of(section), field=section, role_path=path
            )
            self.warnings.extend(varmap.warnings)
            out[section] = varmap
        constraints = data.get("constraints")
        if constraints not in (None, ""):
            if not isinstance(constraints, YList):
                raise self.error(
                    "'constraints' must be a list of {attribute, value}", data.line_of("constraints"), role_path=path
                )
            items = []
            for i, item in enumerate(constraints):
                cline = constraints.line_of(i)
                if not isinstance(item, YMap) or "attribute" not in item:
                    raise self.error(
                        "a constraint needs 'attribute' and 'value'", cline, role_path=path, field="constraints"
                    )
                items.append(RawConstraint(str(item["attribute"]), str(item.get("value", ""))))
                out["lines"].update({f"constraints[{i}].{key}": item.line_of(key) for key in item})
            out["constraints"] = tuple(items)
        for section in ("connect", "bind"):
            out[section] = self.channels(data.get(section), data.line_of(section), section, path, out["lines"])
        return out

    def channels(self, data: Any, line: int, section: str, path: str, lines: dict[str, int]) -> tuple[RawChannel, ...]:
        """The channels of ``section``; the line of each field goes into ``lines`` as ``<section>[i].<key>``."""
        if data in (None, ""):
            return ()
        if not isinstance(data, YList):
            raise self.error(f"'{section}' must be a list of channels", line, role_path=path, field=section)
        out = []
        for i, item in enumerate(data):
            cline = data.line_of(i)
            if not isinstance(item, YMap) or not item.get("name"):
                raise self.error("a channel needs a 'name'", cline, role_path=path, field=section)
            fields: dict[str, str] = {}
            for key, value in item.items():
                if key not in CHANNEL_KEYS:
                    self.warnings.append(
                        f"{self.file}:{item.line_of(key)}: {section} channel '{item['name']}': unknown key '{key}' ignored"
                    )
                    continue
                fields[key] = self.scalar(value, item.line_of(key), f"{section}.{key}", path)
                lines[f"{section}[{i}].{key}"] = item.line_of(key)
            out.append(RawChannel(fields))
        return tuple(out)

    def _traits(self, data: Any, line: int, kind: str, path: str) -> RawTraits:
        if not isinstance(data, YMap):
            raise self.error(f"'{kind}' must be a map", line, role_path=path, field=kind)
        keys = TASK_KEYS if kind == "task" else CALL_KEYS
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in keys:
                self.warnings.append(
                    f"{self.file}:{data.key_line_of(key)}: {role_label(path)}: unknown '{kind}' key '{key}' ignored"
                    + did_you_mean(key, keys)
                )
                continue
            if key == "critical":
                values["critical"] = as_bool(
                    value, file=self.file, line=data.line_of(key), field=f"{kind}.critical", role_path=path
                )
            elif key == "restart":
                values["restart"] = parse_restart(
                    value, file=self.file, line=data.line_of(key), field=f"{kind}.restart", role_path=path
                )
            else:
                values[{"await": "await_", "return": "return_"}.get(key, key)] = self.scalar(
                    value, data.line_of(key), f"{kind}.{key}", path
                )
        required = "load" if kind == "task" else "func"
        if not values.get(required):
            raise self.error(f"'{kind}' needs '{required}'", line, role_path=path, field=f"{kind}.{required}")
        return RawTraits(**values)


@functools.lru_cache(maxsize=256)
def parse_workflow(text: str, origin: str) -> WorkflowTemplate:
    """Parse a workflow file (cached per text and origin; the result is shared, never mutate it)."""
    data = load_yaml(text, origin)
    reader = _Reader(origin)
    if not isinstance(data, YMap):
        raise TemplateError("a workflow template must be a map with 'name' and 'roles'", file=origin, line=1)
    root = reader.role(data, 1, "", top=True)
    if not root.name:
        raise TemplateError("the workflow has no 'name'", file=origin, line=1)
    if root.kind == "iterator":
        raise TemplateError("the root role cannot be an iterator", file=origin, line=1, role_path=root.name)
    specs: dict[str, VarSpec] = {}
    for varmap in (root.defaults, root.vars):
        for key, spec in varmap.specs.items():
            if key in specs:
                raise TemplateError(f"duplicate public variable '{key}'", file=origin, line=varmap.lines.get(key))
            specs[key] = spec
    return WorkflowTemplate(
        name=root.name,
        file=origin,
        public="name" in data.public_keys,
        description=str(data.get("description", "") or ""),
        root=root,
        varspecs=specs,
        warnings=reader.warnings,
    )
