"""YAML reading for templates: line numbers, the ``!public`` tag, variable maps kept as raw text.

AliECS reads every ``defaults``/``vars`` value as the raw scalar text (``8500`` stays ``"8500"``), so we
work on composed YAML nodes rather than constructed Python values.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ecs_engine.errors import TemplateError

try:  # the C composer is several times faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader

PUBLIC_TAG = "!public"
NULL_TAG = "tag:yaml.org,2002:null"
VARSPEC_KEYS = (
    "value",
    "type",
    "label",
    "description",
    "widget",
    "panel",
    "values",
    "index",
    "rows",
    "visibleif",
    "enabledif",
)
WIDGETS = ("editBox", "slider", "listBox", "dropDownBox", "comboBox", "radioButtonBox", "checkBox")
VAR_TYPES = ("string", "number", "bool", "list", "map")


class YMap(dict):
    """A YAML mapping with the line of each value (and of each key: a block value starts below it) and the keys
    tagged ``!public``."""

    __slots__ = ("key_lines", "line", "name_lines", "public_keys")

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.name_lines: dict[str, int] = {}
        self.public_keys: set[str] = set()

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def key_line_of(self, key: str) -> int:
        """The line of ``key`` itself: where an unknown or repeated key is."""
        return self.name_lines.get(key) or self.line_of(key)


class YList(list):
    """A YAML sequence with the line of each item."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


#: how deep maps and lists may nest (real templates stay under 15)
MAX_DEPTH = 100
#: how many nodes aliases may copy in all (an "alias bomb" of a few lines would expand to billions)
MAX_ALIAS_NODES = 10_000


class _Converter:
    """Composed nodes to YMap/YList/str, refusing what would not end or not fit: deep nesting,
    recursive aliases and aliases that expand to more than MAX_ALIAS_NODES nodes."""

    def __init__(self, origin: str):
        self.origin = origin
        self.seen: set[int] = set()  # collection nodes converted once: meeting one again is an alias
        self.open: set[int] = set()  # collection nodes being converted (on the current path)
        self.alias_nodes = 0
        self.in_alias = 0
        self.alias_line = 0  # where the outermost alias being copied is used

    def convert(self, node: yaml.Node, line: int, depth: int = 0) -> Any:
        """``line`` is where the value is used (for an alias: where it is referred to, not its anchor)."""
        if self.in_alias:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise TemplateError(
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES} values (an alias bomb?)",
                    file=self.origin,
                    line=self.alias_line,
                )
        if isinstance(node, yaml.ScalarNode):
            if node.tag == NULL_TAG and node.style is None:
                return ""
            return node.value
        if depth >= MAX_DEPTH:
            raise TemplateError(f"maps and lists nest deeper than {MAX_DEPTH} levels", file=self.origin, line=line)
        key = id(node)
        if key in self.open:
            raise TemplateError("a YAML alias refers to a value that contains it", file=self.origin, line=line)
        alias = key in self.seen
        if alias and not self.in_alias:
            self.alias_line = line
        self.seen.add(key)
        self.open.add(key)
        self.in_alias += alias
        try:
            return self._collection(node, depth)
        finally:
            self.in_alias -= alias
            self.open.discard(key)

    def _collection(self, node: yaml.Node, depth: int) -> Any:
        origin = self.origin
        line = node.start_mark.line + 1
        if isinstance(node, yaml.SequenceNode):
            out = YList(line)
            for item in node.value:
                item_line = line if id(item) in self.seen else item.start_mark.line + 1  # an alias: here
                out.append(self.convert(item, item_line, depth + 1))
                out.lines.append(item_line)
            return out
        if isinstance(node, yaml.MappingNode):
            out_map = YMap(line)
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise TemplateError(
                        "a mapping key must be a plain string (an unquoted '{{' at the start of a value "
                        "is read by YAML as a map: quote the value)",
                        file=origin,
                        line=key_line,
                    )
                key = key_node.value
                if key == "<<":
                    raise TemplateError("YAML merge keys ('<<') are not supported", file=origin, line=line)
                if key in out_map:
                    raise TemplateError(
                        f"duplicate key '{key}' (first defined at line {out_map.key_line_of(key)})",
                        file=origin,
                        line=key_line,
                    )
                out_map[key] = self.convert(value_node, key_line, depth + 1)
                out_map.key_lines[key] = value_node.start_mark.line + 1
                out_map.name_lines[key] = key_line
                if value_node.tag == PUBLIC_TAG:
                    out_map.public_keys.add(key)
            return out_map
        raise TemplateError(f"unsupported YAML node {node!r}", file=origin)  # pragma: no cover


#: what PyYAML and libyaml say when a quoted string runs to the end of the file (or document): it was never closed
_UNCLOSED_QUOTE = ("end of stream", "document indicator")


def _syntax_error(exc: yaml.MarkedYAMLError, origin: str) -> TemplateError:
    """One error for a YAML syntax error, with both of the parser's marks where it gives two: the mistake is often
    where the construct being read began (a bracket or quote not closed), not where the parser found it wrong.

    Placed where the parser found the problem, but an unclosed quote is placed at the quote: the parser finds it
    only where the file ends.
    """
    found, began = exc.problem_mark, exc.context_mark
    problem = exc.problem or str(exc)
    context = (exc.context or "").removeprefix("while scanning ").removeprefix("while parsing ")
    at = found or began
    if not (found and began and context):
        message = f"{problem} ({context})" if context else problem
    elif context == "a quoted scalar" and any(end in problem for end in _UNCLOSED_QUOTE):
        message = f"unclosed quote that began at line {began.line + 1}, column {began.column + 1}: {problem}"
        message += f" at line {found.line + 1} (expected the closing quote)"
        at = began
    else:
        message = f"{problem} at line {found.line + 1}, column {found.column + 1}, in {context}"
        message += f" that began at line {began.line + 1}, column {began.column + 1}"
    return TemplateError(
        f"invalid YAML: {message}",
        file=origin,
        line=at.line + 1 if at else None,
        column=at.column + 1 if at else None,
    )


@functools.lru_cache(maxsize=512)
def load_yaml(text: str, origin: str) -> Any:
    """Parse one template document into YMap/YList/str values (cached: templates are reloaded often).

    Callers must not mutate the result.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, origin) from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"invalid YAML: {exc}", file=origin) from None
    except RecursionError:  # the pure-Python composer recurses once per nesting level
        raise TemplateError(f"maps and lists nest deeper than {MAX_DEPTH} levels", file=origin) from None
    if node is None:
        raise TemplateError("the file is empty", file=origin)
    return _Converter(origin).convert(node, 1)


def as_bool(value: Any, *, file: str, line: int, field: str, role_path: str | None = None) -> bool:
    """A YAML boolean field (``critical``, ``shell``): true/false (also yes/no/on/off, any case)."""
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "y", "1"):
        return True
    if text in ("false", "no", "off", "n", "0"):
        return False
    raise TemplateError(
        f"expected true or false, got '{value}'", file=file, line=line, field=field, role_path=role_path
    )


@dataclass
class VarSpec:
    """A ``!public`` variable: what a GUI shows to let users set it."""

    value: str = ""
    type: str = "string"
    label: str = ""
    description: str = ""
    widget: str = "editBox"
    panel: str = ""
    values: list[str] = field(default_factory=list)
    index: int = 0
    rows: int = 0
    visibleif: str = ""
    enabledif: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _varspec(spec: YMap, *, file: str, key: str) -> VarSpec:
    out = VarSpec()
    for name, raw in spec.items():
        line = spec.line_of(name)
        if name not in VARSPEC_KEYS:
            raise TemplateError(
                f"unknown VarSpec key '{name}' (expected one of: {', '.join(VARSPEC_KEYS)})",
                file=file,
                line=line,
                field=key,
            )
        if name == "values":
            if not isinstance(raw, list):
                raise TemplateError("expected a list of values", file=file, line=line, field=f"{key}.values")
            out.values = [str(v) for v in raw]
        elif name in ("index", "rows"):
            try:
                setattr(out, name, int(str(raw)))
            except ValueError:
                raise TemplateError(
                    f"expected an integer, got '{raw}'", file=file, line=line, field=f"{key}.{name}"
                ) from None
        elif isinstance(raw, (dict, list)):
            raise TemplateError("expected a string", file=file, line=line, field=f"{key}.{name}")
        else:
            setattr(out, name, raw)
    if out.widget not in WIDGETS:
        out.widget = "editBox" if out.widget != "detectorSelector" else out.widget
    return out


#: the warning about a ``defaults``/``vars`` value dropped for being a map or list
IGNORED_VALUE = "a map or list value is ignored"


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'task'?)`` after an unknown key: it is usually a typo of a known one."""
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class VarMap:
    """A ``defaults`` or ``vars`` map read as AliECS does: raw strings, ``!public`` maps give their value."""

    values: dict[str, str]
    specs: dict[str, VarSpec]
    lines: dict[str, int]
    warnings: list[str]


EMPTY_VARMAP = VarMap({}, {}, {}, [])


def read_varmap(data: Any, *, file: str, line: int, field: str, role_path: str | None = None) -> VarMap:
    if data in (None, ""):
        return EMPTY_VARMAP
    if not isinstance(data, YMap):
        raise TemplateError(
            "expected a map of variable names to values", file=file, line=line, field=field, role_path=role_path
        )
    values: dict[str, str] = {}
    specs: dict[str, VarSpec] = {}
    warnings: list[str] = []
    for key, raw in data.items():
        vline = data.line_of(key)
        if key in data.public_keys and isinstance(raw, YMap):
            spec = _varspec(raw, file=file, key=f"{field}.{key}")
            specs[key] = spec
            values[key] = spec.value
        elif isinstance(raw, (dict, list)):
            warnings.append(
                f"{file}:{vline}: {field}.{key}: {IGNORED_VALUE} (variables are strings; "
                "quote it, or use '!public' with 'value:')"
            )
        else:
            values[key] = raw
    return VarMap(values, specs, dict(data.key_lines), warnings)


@dataclass
class WorkflowInfo:
    """What listings need from a workflow without expanding it."""

    name: str
    public: bool
    description: str
    varspecs: dict[str, VarSpec]


def inspect_workflow(text: str, origin: str) -> WorkflowInfo:
    """Root name, public flag (root ``name`` tagged ``!public``), description and VarSpecs of a workflow."""
    data = load_yaml(text, origin)
    if not isinstance(data, YMap):
        raise TemplateError("a workflow template must be a map", file=origin, line=1)
    specs: dict[str, VarSpec] = {}
    for section in ("defaults", "vars"):
        varmap = read_varmap(data.get(section), file=origin, line=data.line_of(section), field=section)
        for key, spec in varmap.specs.items():
            if key in specs:
                raise TemplateError(
                    f"duplicate public variable '{key}'", file=origin, line=varmap.lines.get(key), field=section
                )
            specs[key] = spec
    return WorkflowInfo(
        name=str(data.get("name", "")),
        public="name" in data.public_keys,
        description=str(data.get("description", "") or ""),
        varspecs=specs,
    )
