"""Offline validation of template repositories, for people and CI.

Every task template is parsed; every workflow is expanded with the given variables plus samples for what
a real installation provides (``hosts``, site-wide defaults), and the tasks it uses are rendered as ``plan``
renders them (command, properties, channels). Sub-workflows (not ``!public``) are meant to be
included, so names their includer would define are sampled too and reported as notes. JIT workflows that
are not generated yet are checked up to their DPL command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import HandledError, NotFoundError, TemplateError

from .expand import child_path, parse_bound, parse_range, parse_timeout
from .expr import check_syntax, has_expressions
from .jit import Dpl, jit_name
from .load import make_expander
from .plan import plan_tasks, unmatched_channels
from .roles import RawRole, WorkflowTemplate, parse_workflow
from .sources import DirectorySource, Kind, TemplateRef, TemplateSource
from .tasks import TaskClass, output_mode, parse_task
from .yamlload import YList, YMap, did_you_mean, load_yaml

if TYPE_CHECKING:
    import pluggy

#: what an AliECS installation's configuration store usually provides (used only where missing)
SAMPLE_DEFAULTS = {
    "consul_endpoint": "localhost:8500",
    "apricot_endpoint": "localhost:32101",
    "modulepath": "",
    "infologger_mode": "infoLogger",
    "jit_env_vars": "",
    "ctp_readout_host": "flp001",
}
SAMPLE_HOSTS = '["flp001"]'
MAX_SAMPLED = 50
_UNKNOWN = re.compile(r"unknown name '([^']+)'")


@dataclass
class Problem:
    severity: str  # error | warning | note
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None  # where the file's text places it exactly (a YAML syntax error), not a role
    rendered: str = ""
    role_path: str | None = None  # also in the message; the same problem met through several includers is one

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class FileResult:
    kind: str  # workflow | task
    name: str
    file: str
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


@dataclass
class ValidationReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and bool(self.results)


def _warning(text: str) -> Problem:
    match = re.match(r"^(.*?):(\d+): (.*)$", text)
    if match:
        return Problem("warning", match.group(3), match.group(1), int(match.group(2)))
    return Problem("warning", text)


def _origin(exc: HandledError, source: TemplateSource, kind: str, name: str) -> str:
    """The file a read failure is about, as the error names it, else as the repository would."""
    if isinstance(exc, TemplateError) and exc.file:
        return exc.file
    return f"{source.display()}:{kind}/{name}.yaml"


def _warning_at(message: str, file: str, line: int, role_path: str, field_name: str) -> Problem:
    rendered = TemplateError(message, role_path=role_path, field=field_name).render()
    return Problem("warning", rendered, file, line, role_path=role_path)


def _error(exc: HandledError) -> Problem:
    if isinstance(exc, TemplateError):
        # the message says the role, field and hint (one line, as plan's warnings); the file and line are the
        # problem's own (GitHub places them)
        message = TemplateError(exc.message, role_path=exc.role_path, field=exc.field).render()
        message += f" ({exc.shown_hint()})" if exc.shown_hint() else ""
        return Problem("error", message, exc.file, exc.line, exc.column, exc.render(), exc.role_path)
    return Problem("error", exc.render(), rendered=exc.render())


class _DryDpl(Dpl):
    """``dpl.*`` for validation: checks and renders the JIT command, does not run DPL."""

    def __init__(self, stack, source, render, opaque: set[str]):
        super().__init__(stack, source, render)
        self._opaque = opaque

    def Generate(self, command: str) -> str:
        command = str(command).strip()
        if not command or command == "none":
            raise ValueError("dpl.Generate: the DPL command is empty or 'none'")
        name = jit_name(command, self._stack)
        if not self._source.exists("workflows", name):
            self._opaque.add(name)
        return name


_SPAN = re.compile(r"\{\{(.*?)\}\}", re.S)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"'([A-Za-z0-9_]+)'|\"([A-Za-z0-9_]+)\"")


def syntax_problems(text: str, origin: str, *, workflow: bool = False) -> list[Problem]:
    """The expressions of every field of a template, rendered or not, that do not compile (one per field).

    Expansion renders only the fields of the branches it takes, so this finds what it would miss. In a workflow,
    a field is named by its role's path (as written) and its key in the role, as expansion names it.
    """
    out = []
    data = load_yaml(text, origin)
    # (value, field, line, role path); a workflow's root and the items of a role's 'roles' are roles
    stack: list[tuple[Any, str, int, str]] = [(data, "", 1, str(data.get("name", "")) if workflow else "")]
    while stack:
        value, where, line, role = stack.pop()
        if isinstance(value, str):
            try:
                check_syntax(value)
            except TemplateError as exc:
                out.append(_error(exc.located(file=origin, line=line, role_path=role or None, field=where or None)))
        elif isinstance(value, YMap):  # pushed last first, so popped in document order
            keys = reversed(value)
            stack.extend((value[key], f"{where}.{key}" if where else key, value.line_of(key), role) for key in keys)
        elif isinstance(value, YList) and workflow and where == "roles":
            for index in reversed(range(len(value))):
                item = value[index]
                child = f"{role}.{item.get('name', '')}" if isinstance(item, YMap) else role
                stack.append((item, "" if isinstance(item, YMap) else f"roles[{index}]", value.line_of(index), child))
        elif isinstance(value, YList):
            indexes = reversed(range(len(value)))
            stack.extend((value[index], f"{where}[{index}]", value.line_of(index), role) for index in indexes)
    return out


def _literal_problem(check: Callable[[str], object], text: str, **where: Any) -> list[Problem]:
    """``check`` (what expansion or a task's rendering runs on the field) on ``text`` if it has no ``{{ }}``."""
    if has_expressions(text):
        return []  # its value depends on variables: expansion checks the branches it takes
    try:
        check(text)
    except ValueError as exc:
        return [_error(TemplateError(str(exc), **where))]
    return []


def _all_roles(template: WorkflowTemplate) -> Iterator[tuple[RawRole, str]]:
    """Every role of the template with its path, also those expansion skips (disabled, in a branch not taken)."""
    stack = [(template.root, "")]
    while stack:
        raw, parent = stack.pop()
        path = child_path(parent, raw.name)
        yield raw, path
        if raw.body is not None:
            stack.append((raw.body, parent))  # the copies sit under the iterator's parent
        stack.extend((child, path) for child in reversed(raw.roles))


def literal_role_problems(template: WorkflowTemplate) -> list[Problem]:
    """Fields written without ``{{ }}`` that expansion would refuse, in every role: also in those it skips
    (disabled, in a branch not taken), by the checks it runs."""
    out: list[Problem] = []
    for raw, path in _all_roles(template):
        checks: list[tuple[str, str | None, Callable[[str], object]]] = []
        if raw.traits is not None:
            checks.append((f"{raw.kind}.timeout", raw.traits.timeout.strip() or None, parse_timeout))  # blank: default
        if raw.for_ is not None:
            loop = raw.for_
            checks += [("for.range", loop.range, parse_range), ("for.begin", loop.begin, parse_bound)]
            checks.append(("for.end", loop.end, parse_bound))
        for field_name, text, check in checks:
            if text is not None:
                line = raw.lines.get(field_name, raw.line)
                out.extend(_literal_problem(check, text, file=raw.file, line=line, role_path=path, field=field_name))
    return out


def missing_templates(template: WorkflowTemplate, source: TemplateSource) -> list[Problem]:
    """Task templates and sub-workflows of this repository named without ``{{ }}`` that it lacks, in the roles
    expansion skipped: a misspelt name in a role disabled by default would pass (a warning, as AliECS loads them
    only when the role is enabled)."""
    out: list[Problem] = []
    present = {kind: source.names(kind) for kind in ("tasks", "workflows")}  # not read: a bad file is its own error
    for raw, path in _all_roles(template):
        kind: Kind
        if raw.kind == "task" and raw.traits is not None:
            kind, field_name, text = "tasks", "task.load", raw.traits.load
        elif raw.kind == "include" and raw.include is not None:
            kind, field_name, text = "workflows", "include", raw.include
        else:
            continue
        try:
            ref = TemplateRef.parse(text, kind)
        except TemplateError:
            continue  # not a name: expansion says so where it takes the role
        if has_expressions(text) or ref.repo or ref.revision or ref.name in present[kind]:
            continue
        close = did_you_mean(ref.name, present[kind])
        message = f"{kind[:-1]} template '{ref.name}' not found{close}: enabling this role would fail"
        out.append(_warning_at(message, raw.file, raw.lines.get(field_name, raw.line), path, field_name))
    return out


def literal_task_problems(cls: TaskClass) -> list[Problem]:
    """``command.stdout``/``stderr`` written without ``{{ }}`` that rendering the task would refuse."""
    out: list[Problem] = []
    for field_name in ("command.stdout", "command.stderr"):
        text = getattr(cls.command, field_name.partition(".")[2])
        line = cls.lines.get(field_name)
        out.extend(_literal_problem(output_mode, text, file=cls.file, line=line, field=field_name))
    return out


def used_names(source: TemplateSource) -> tuple[set[str], set[str]]:
    """Identifiers and string literals inside ``{{ }}`` spans of every template of the repository."""
    names: set[str] = set()
    literals: set[str] = set()
    for kind in ("workflows", "tasks", "jit"):
        for name in source.names(kind):
            try:
                text = source.read(kind, name).text
            except HandledError:  # unreadable: reported by the file's own validation
                continue
            for span in _SPAN.findall(text):
                names.update(_IDENT.findall(span))
                literals.update(a or b for a, b in _LITERAL.findall(span))
    return names, literals


def _is_used(name: str, names: set[str], literals: set[str]) -> bool:
    # util.PrefixedOverride('dpl_workflow', det) reads '<det>_dpl_workflow' by name
    return name in names or name in literals or any(name.endswith("_" + lit) for lit in literals)


def unused_defaults(template, names: set[str], literals: set[str]) -> list[Problem]:
    """Defaults of inner roles that no expression of the repository reads.

    Not reported: root defaults (the workflow's interface, read by GUIs and plugins) and defaults of roles
    with calls below them (integration plugins read their variables from the call's stack).
    """

    def has_calls(raw) -> bool:
        return (
            raw.kind == "call" or any(has_calls(r) for r in raw.roles) or (raw.body is not None and has_calls(raw.body))
        )

    out = []
    stack = list(template.root.roles)
    while stack:
        raw = stack.pop()
        if raw.body is not None:
            stack.append(raw.body)
        stack.extend(raw.roles)
        if has_calls(raw):
            continue
        for key in raw.defaults.values:
            if not _is_used(key, names, literals):
                out.append(Problem("warning", f"default '{key}' is never used", raw.file, raw.defaults.lines.get(key)))
    return out


def validate_workflow(
    source: TemplateSource,
    name: str,
    *,
    plugins: pluggy.PluginManager,
    config: Any,
    user_vars: Mapping[str, str],
    used: tuple[set[str], set[str]] | None = None,
) -> FileResult:
    try:
        tfile = source.read("workflows", name)
    except HandledError as exc:
        return FileResult("workflow", name, _origin(exc, source, "workflows", name), [_error(exc)])
    result = FileResult("workflow", name, tfile.origin)
    try:
        template = parse_workflow(tfile.text, tfile.origin)
    except TemplateError as exc:
        result.problems.append(_error(exc))
        return result
    result.problems.extend(syntax_problems(tfile.text, tfile.origin, workflow=True))
    result.problems.extend(literal_role_problems(template))
    if not result.ok:  # expanding would stop at the first of these
        return result
    sampled: dict[str, str] = {}
    variables = {"hosts": SAMPLE_HOSTS, **user_vars}
    for _ in range(MAX_SAMPLED):
        opaque: set[str] = set()
        expander = make_expander(
            source, plugins=plugins, config=config, user_vars={**sampled, **variables}, offline=True
        )
        for key, value in SAMPLE_DEFAULTS.items():
            expander.env_vars.defaults.setdefault(key, value)
        expander.dpl_class = lambda stack, src, render, _o=opaque: _DryDpl(stack, src, render, _o)
        expander.opaque_includes = opaque
        try:
            workflow = expander.expand(name)
            tasks = plan_tasks(expander, workflow)  # the task commands, properties and channels, as plan renders them
        except TemplateError as exc:
            missing = _UNKNOWN.search(exc.message)
            if missing and not template.public and missing.group(1) not in sampled:
                sampled[missing.group(1)] = ""
                continue
            result.problems.append(_error(exc))
            return result
        except HandledError as exc:
            result.problems.append(_error(exc))
            return result
        break
    result.problems.extend(_error(e) for e in expander.call_errors)
    result.problems.extend(_warning(w) for w in workflow.warnings)
    result.problems.extend(missing_templates(template, source))
    if template.public and not opaque:  # else an includer or a JIT workflow may bind what its tasks connect to
        roles = {role.path: role for role in workflow.task_roles()}
        for task in tasks:  # placed at the task's role
            role = roles[task["path"]]
            result.problems.extend(Problem("warning", w, role.file, role.line) for w in unmatched_channels(task))
    result.problems.extend(unused_defaults(template, *(used or used_names(source))))
    for key in sampled:
        result.problems.append(
            Problem(
                "note",
                f"'{key}' is not defined here (expected from the including workflow); checked with ''",
                tfile.origin,
            )
        )
    for jit in sorted(opaque):
        result.problems.append(
            Problem("note", f"JIT workflow {jit} is not generated offline; its roles were not checked", tfile.origin)
        )
    result.counts = {
        "roles": sum(1 for _ in workflow.roles()),
        "tasks": len(workflow.task_roles()),
        "calls": len(workflow.call_roles()),
    }
    return result


def validate_task(source: TemplateSource, name: str, used: tuple[set[str], set[str]] | None = None) -> FileResult:
    try:
        tfile = source.read("tasks", name)
    except HandledError as exc:
        return FileResult("task", name, _origin(exc, source, "tasks", name), [_error(exc)])
    result = FileResult("task", name, tfile.origin)
    try:
        cls = parse_task(tfile.text, tfile.origin)
    except TemplateError as exc:
        result.problems.append(_error(exc))
        return result
    result.problems.extend(syntax_problems(tfile.text, tfile.origin))
    result.problems.extend(literal_task_problems(cls))
    if cls.name != name:
        result.problems.append(
            Problem(
                "error",
                f"the task is named '{cls.name}' but the file is '{name}.yaml'",
                tfile.origin,
                cls.lines["name"],
            )
        )
    if not cls.command.value.strip():  # AliECS loads it; its deployment starts nothing (or fails to)
        line = cls.lines.get("command.value", cls.lines["name"])
        result.problems.append(
            Problem("warning", "field command.value: empty: the task has no command", tfile.origin, line)
        )
    result.problems.extend(_warning(w) for w in cls.warnings)
    names, literals = used or used_names(source)
    for varmap in (cls.defaults, cls.vars):
        for key in varmap.values:
            if not _is_used(key, names, literals):
                result.problems.append(
                    Problem("warning", f"default '{key}' is never used", tfile.origin, varmap.lines.get(key))
                )
    return result


def validate_source(
    source: TemplateSource, *, plugins: pluggy.PluginManager, config: Any, user_vars: Mapping[str, str]
) -> list[FileResult]:
    """Every task and workflow of a repository: a directory, or a revision of an added one."""
    used = used_names(source)  # one scan of the repository for all its files
    results = [validate_task(source, task, used) for task in source.names("tasks")]
    for wf in source.names("workflows"):
        results.append(validate_workflow(source, wf, plugins=plugins, config=config, user_vars=user_vars, used=used))
    return results


def validate_paths(
    paths: list[Path | TemplateSource], *, plugins: pluggy.PluginManager, config: Any, user_vars: Mapping[str, str]
) -> ValidationReport:
    """Validate every task and workflow of ``paths`` (files, repository directories, sources); template objects
    come from the hooks of ``plugins``."""
    report = ValidationReport()
    for path in paths:
        if isinstance(path, TemplateSource):
            report.results.extend(validate_source(path, plugins=plugins, config=config, user_vars=user_vars))
        elif path.is_dir():
            if not (path / "workflows").is_dir() and not (path / "tasks").is_dir():
                raise NotFoundError(
                    f"{path} is not a template repository (no workflows/ or tasks/ folder)",
                    hint=f"give the repository: {path.parent}" if path.name in ("workflows", "tasks") else None,
                )
            source = DirectorySource(path)
            if not source.names("tasks") and not source.names("workflows"):
                raise NotFoundError(f"{path} holds no templates (no .yaml file in workflows/ or tasks/)")
            report.results.extend(validate_source(source, plugins=plugins, config=config, user_vars=user_vars))
        elif path.is_file() and path.parent.name in ("workflows", "tasks") and path.suffix == ".yaml":
            source = DirectorySource(path.parent.parent)
            if path.parent.name == "tasks":
                report.results.append(validate_task(source, path.stem))
            else:
                report.results.append(
                    validate_workflow(source, path.stem, plugins=plugins, config=config, user_vars=user_vars)
                )
        elif path.exists():
            raise NotFoundError(f"{path}: expected a repository directory or a .yaml file in workflows/ or tasks/")
        else:
            raise NotFoundError(f"{path} does not exist")
    return report
