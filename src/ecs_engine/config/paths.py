"""Component configuration paths ``component/RUNTYPE/machineRole/entry[?process=true&k=v]``.

Names follow apricot's rules: component ``[a-zA-Z0-9-_]+``, run type one of the ``apricot.RunType``
names, machine role ``[a-zA-Z0-9-_]+``, entry ``[a-zA-Z0-9-_/]+`` (may contain ``/``). Dots are also
accepted in roles and entries, so fully qualified host names work.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field, replace

from ecs_engine.errors import NotFoundError, UsageError

COMPONENTS = "components/"
ANY_RUNTYPE = "ANY"
ANY_ROLE = "any"

#: apricot.RunType, by name (the numbers live in the protocol module)
RUN_TYPES = (
    "NULL",
    "PHYSICS",
    "TECHNICAL",
    "PEDESTAL",
    "PULSER",
    "LASER",
    "CALIBRATION_ITHR_TUNING",
    "CALIBRATION_VCASN_TUNING",
    "CALIBRATION_THR_SCAN",
    "CALIBRATION_DIGITAL_SCAN",
    "CALIBRATION_ANALOG_SCAN",
    "CALIBRATION_FHR",
    "CALIBRATION_ALPIDE_SCAN",
    "CALIBRATION",
    "COSMICS",
    "SYNTHETIC",
    "NOISE",
    "CALIBRATION_PULSE_LENGTH",
    "CALIBRATION_VRESETD",
    "ANY",
)

_COMPONENT = re.compile(r"[a-zA-Z0-9_-]+")
_ROLE = re.compile(r"[a-zA-Z0-9_.-]+")
_ENTRY = re.compile(r"[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*")
_PARAM_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_TRUE = {"1", "t", "true", "yes", "on"}
_FALSE = {"0", "f", "false", "no", "off"}


def check_component(name: str) -> str:
    if not _COMPONENT.fullmatch(name or ""):
        raise UsageError(f"bad component name {name!r}: expected letters, digits, '-' or '_'")
    return name


def check_runtype(name: str) -> str:
    if name not in RUN_TYPES:
        raise UsageError(f"bad run type {name!r}: expected one of {', '.join(RUN_TYPES)}")
    return name


def check_role(name: str) -> str:
    if not _ROLE.fullmatch(name or ""):
        raise UsageError(f"bad machine role {name!r}: expected letters, digits, '-', '_' or '.'")
    return name


def check_entry(name: str) -> str:
    if not _ENTRY.fullmatch(name or ""):
        raise UsageError(
            f"bad entry name {name!r}: expected letters, digits, '-', '_', '.' and '/' between non-empty parts"
        )
    return name


@dataclass(frozen=True)
class ComponentQuery:
    """One component configuration path, plus the parameters of its query string."""

    component: str
    runtype: str
    role: str
    entry: str
    process: bool | None = None  # from ?process=..., None if not given
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, component: str, runtype: str, role: str, entry: str) -> ComponentQuery:
        return cls(check_component(component), check_runtype(runtype), check_role(role), check_entry(entry))

    @classmethod
    def parse(cls, text: str) -> ComponentQuery:
        """Parse ``comp/RT/role/entry[?k=v&...]``; one UsageError saying which part is wrong."""
        raw = (text or "").strip()
        path, _, query = raw.partition("?")
        if path.startswith(COMPONENTS):
            path = path[len(COMPONENTS) :]
        parts = path.split("/", 3)
        if len(parts) < 4:
            raise UsageError(
                f"bad configuration path {text!r}: expected component/RUNTYPE/role/entry",
                hint="e.g. readout/ANY/any/readout-stfb-flp001",
            )
        try:
            parsed = cls.of(*parts)
        except UsageError as exc:
            raise UsageError(f"bad configuration path {text!r}: {exc.message}") from None
        if not query:
            return parsed
        process, variables = _parse_params(text, query)
        return replace(parsed, process=process, vars=variables)

    @property
    def path(self) -> str:
        return f"{self.component}/{self.runtype}/{self.role}/{self.entry}"

    @property
    def key(self) -> str:
        """The store key (relative to the store prefix)."""
        return COMPONENTS + self.path

    @property
    def directory(self) -> str:
        return f"{self.component}/{self.runtype}/{self.role}"

    def candidates(self) -> list[ComponentQuery]:
        """Resolution order: exact, RUNTYPE=ANY, role=any, ANY/any (without repeats)."""
        out: list[ComponentQuery] = []
        for runtype, role in (
            (self.runtype, self.role),
            (ANY_RUNTYPE, self.role),
            (self.runtype, ANY_ROLE),
            (ANY_RUNTYPE, ANY_ROLE),
        ):
            candidate = replace(self, runtype=runtype, role=role)
            if candidate not in out:
                out.append(candidate)
        return out

    def with_query(self) -> str:
        """The path with its query string, as given."""
        params = {} if self.process is None else {"process": "true" if self.process else "false"}
        params.update(self.vars)
        return self.path + ("?" + urllib.parse.urlencode(params) if params else "")


def _parse_params(text: str, query: str) -> tuple[bool | None, dict[str, str]]:
    process: bool | None = None
    variables: dict[str, str] = {}
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        name = urllib.parse.unquote_plus(name)
        if not sep or not _PARAM_NAME.fullmatch(name):
            raise UsageError(f"bad configuration query in {text!r}: expected name=value pairs joined by '&'")
        value = urllib.parse.unquote_plus(value)
        if name in variables or (name == "process" and process is not None):
            raise UsageError(f"bad configuration query in {text!r}: '{name}' given twice")
        if name == "process":
            if value.lower() not in _TRUE | _FALSE:
                raise UsageError(f"bad configuration query in {text!r}: process={value} is not true or false")
            process = value.lower() in _TRUE
        else:
            variables[name] = value
    return process, variables


def no_payload(prefix: str, query: ComponentQuery) -> NotFoundError:
    """The error of a payload path that holds nothing: paths are exact, so say where the component's are listed."""
    return NotFoundError(
        f"no payload at configuration path {prefix}{query.key}",
        cli_hint=f"the paths of {query.component}: 'coconut config list {query.component}' (no ANY/any fallback here)",
    )
