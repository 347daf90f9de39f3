"""Task templates (``tasks/<name>.yaml``): the class of a process, and the command it is started with.

Rendering a class for one task role is ``taskrender.py``'s.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from ecs_engine.errors import TemplateError

from .restart import RestartPolicy, parse_restart
from .roles import RawChannel, RawConstraint, _Reader
from .yamlload import EMPTY_VARMAP, VarMap, YList, YMap, as_bool, did_you_mean, load_yaml, read_varmap

TASK_KEYS = frozenset(
    (
        "name",
        "defaults",
        "vars",
        "control",
        "command",
        "wants",
        "limits",
        "bind",
        "properties",
        "constraints",
        "connect",
        "restart",
    )
)
COMMAND_KEYS = frozenset(("env", "shell", "value", "user", "arguments", "stdout", "stderr", "log"))
CONTROL_MODES = (
    "direct",
    "fairmq",
    "basic",
    "hook",
    "kubectl_direct",
    "kubectl_fairmq",
    "kubernetes_direct",
    "kubernetes_fairmq",
)
OUTPUT_MODES = ("none", "stdout", "all")


@dataclass(frozen=True)
class RawCommand:
    value: str = ""
    shell: bool = False
    user: str = ""
    env: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    stdout: str = "none"
    stderr: str = "none"


@dataclass(eq=False)
class TaskClass:
    name: str
    file: str
    control_mode: str = "direct"
    defaults: VarMap = EMPTY_VARMAP
    vars: VarMap = EMPTY_VARMAP
    command: RawCommand = RawCommand()
    cpu: float | None = None
    memory: float | None = None
    ports: tuple[tuple[int, int], ...] = ()
    limit_cpu: float | None = None
    limit_memory: float | None = None
    bind: tuple[RawChannel, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    constraints: tuple[RawConstraint, ...] = ()
    restart: RestartPolicy | None = None  # the role's ``task.restart`` beats it
    warnings: list[str] = field(default_factory=list)
    #: the line of each field, by the name errors give it (``command.stdout``, ``bind[0].target``, ...)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def is_basic(self) -> bool:
        return self.control_mode == "basic"


def output_mode(text: str) -> str:
    """What ``command.stdout``/``stderr`` once rendered say to do with a task's output (blank: none)."""
    mode = text.strip() or "none"
    if mode not in OUTPUT_MODES:
        raise ValueError(f"'{mode}' is not an output mode (expected none, stdout or all)")
    return mode


def parse_ports(text: str, *, file: str, line: int) -> tuple[tuple[int, int], ...]:
    """``"9000,9100-9110"`` as inclusive ranges (the upstream parser drops range ends; we do not)."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            start, end = int(lo), int(hi or lo)
        except ValueError:
            raise TemplateError(
                f"invalid port range '{part}' (expected N or N-M, comma separated)",
                file=file,
                line=line,
                field="wants.ports",
            ) from None
        if start > end or start < 1 or end > 65535:
            raise TemplateError(f"invalid port range '{part}'", file=file, line=line, field="wants.ports")
        out.append((start, end))
    return tuple(out)


def _number(value: Any, *, file: str, line: int, field_name: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise TemplateError(f"expected a number, got '{value}'", file=file, line=line, field=field_name) from None


@functools.lru_cache(maxsize=1024)
def parse_task(text: str, origin: str) -> TaskClass:
    """Parse a task template (cached; never mutate the result)."""
    data = load_yaml(text, origin)
    if not isinstance(data, YMap):
        raise TemplateError("a task template must be a map", file=origin, line=1)
    reader = _Reader(origin)
    out = TaskClass(name=str(data.get("name", "")), file=origin, lines={"name": data.line_of("name")})
    if not out.name:
        raise TemplateError("the task template has no 'name'", file=origin, line=1)
    for key in data:
        if key not in TASK_KEYS:
            out.warnings.append(
                f"{origin}:{data.key_line_of(key)}: unknown key '{key}' ignored{did_you_mean(key, TASK_KEYS)}"
            )
    for section in ("defaults", "vars"):
        varmap = read_varmap(data.get(section), file=origin, line=data.line_of(section), field=section)
        out.warnings.extend(varmap.warnings)
        out.lines.update({f"{section}.{key}": line for key, line in varmap.lines.items()})
        setattr(out, section, varmap)
    control = data.get("control")
    if isinstance(control, YMap):
        mode = str(control.get("mode", "direct") or "direct")
        if mode not in CONTROL_MODES:  # AliECS runs it as direct: a typo would be driven the wrong way
            raise TemplateError(
                f"unknown control mode '{mode}' (expected one of {', '.join(CONTROL_MODES)})",
                file=origin,
                line=control.line_of("mode"),
                field="control.mode",
            )
        out.control_mode = mode
    elif control not in (None, ""):
        raise TemplateError("'control' must be a map with 'mode'", file=origin, line=data.line_of("control"))
    out.command = _command(data.get("command"), origin, data.line_of("command"), out.warnings, out.lines)
    for section, prefix in (("wants", ""), ("limits", "limit_")):
        spec = data.get(section)
        if spec in (None, ""):
            continue
        if not isinstance(spec, YMap):
            raise TemplateError(f"'{section}' must be a map", file=origin, line=data.line_of(section))
        for key, value in spec.items():
            line = spec.line_of(key)
            if key in ("cpu", "memory"):
                setattr(out, prefix + key, _number(value, file=origin, line=line, field_name=f"{section}.{key}"))
            elif key == "ports" and section == "wants":
                out.ports = parse_ports(value, file=origin, line=line)
            else:
                out.warnings.append(f"{origin}:{line}: unknown key '{section}.{key}' ignored")
    out.bind = reader.channels(data.get("bind"), data.line_of("bind"), "bind", out.name, out.lines)
    if data.get("connect") not in (None, ""):
        out.warnings.append(
            f"{origin}:{data.line_of('connect')}: 'connect' in a task template is ignored (targets are set by workflow roles)"
        )
    props = data.get("properties")
    if isinstance(props, YMap):
        out.properties = {k: v for k, v in props.items() if not isinstance(v, (dict, list))}
        out.lines.update({f"properties.{key}": props.line_of(key) for key in out.properties})
    elif props not in (None, ""):
        raise TemplateError("'properties' must be a map", file=origin, line=data.line_of("properties"))
    constraints = data.get("constraints")
    if isinstance(constraints, YList):
        out.constraints = tuple(
            RawConstraint(str(c.get("attribute", "")), str(c.get("value", "")))
            for c in constraints
            if isinstance(c, YMap)
        )
    if data.get("restart") is not None:
        out.restart = parse_restart(data["restart"], file=origin, line=data.line_of("restart"), field="restart")
    out.warnings.extend(reader.warnings)
    return out


def _command(data: Any, origin: str, line: int, warnings: list[str], lines: dict[str, int]) -> RawCommand:
    """``command``; the line of each field goes into ``lines`` (``command.value``, ``command.env[0]``, ...)."""
    if data in (None, ""):
        return RawCommand()
    if not isinstance(data, YMap):
        raise TemplateError("'command' must be a map", file=origin, line=line)
    values: dict[str, Any] = {}
    for key, value in data.items():
        kline = data.line_of(key)
        if key not in COMMAND_KEYS:
            where = f"{origin}:{data.key_line_of(key)}"
            warnings.append(f"{where}: unknown key 'command.{key}' ignored{did_you_mean(key, COMMAND_KEYS)}")
        elif key == "shell":
            values["shell"] = as_bool(value, file=origin, line=kline, field="command.shell")
        elif key in ("env", "arguments"):
            if value in (None, ""):
                continue
            if not isinstance(value, YList):
                raise TemplateError(f"'command.{key}' must be a list of strings", file=origin, line=kline)
            values[key] = tuple("" if isinstance(v, (dict, list)) else v for v in value)
            lines.update({f"command.{key}[{i}]": value.line_of(i) for i in range(len(value))})
        elif key == "log":
            values.setdefault("stdout", value)
            lines.setdefault("command.stdout", kline)
        elif isinstance(value, (dict, list)):
            raise TemplateError(f"'command.{key}' must be a string", file=origin, line=kline)
        else:
            values[key] = value
            lines[f"command.{key}"] = kline
    return RawCommand(**values)


@dataclass
class TaskCommand:
    """The final command of one task: what the executor starts."""

    value: str
    shell: bool
    user: str
    env: list[str]
    arguments: list[str]
    stdout: str
    stderr: str

    def argv(self) -> list[str]:
        if self.shell:
            return ["/bin/sh", "-c", " ".join([self.value, *self.arguments])]
        return [self.value, *self.arguments]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
