"""What ``coconut template`` prints: validation reports (text, JSON, GitHub annotations, GitLab's Code Quality),
plans (a role tree, tasks with their commands and channels, hook timelines) and template listings."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import role_label

from .context import CliContext
from .output import counted, print_data

if TYPE_CHECKING:
    from rich.tree import Tree

    from ecs_engine.repos.listing import WorkflowTemplateInfo
    from ecs_engine.template.validate import Problem, ValidationReport


def report_path(file: str, cwd: Path) -> str:
    """``file`` as CI tools place it (GitHub annotations, GitLab's Code Quality, JSON): relative to the top of the
    git work tree holding it (the repository checked out, as git and the forges show it), else to the current
    directory, else as it is; a file read from a revision of an added repository by its path in the repository."""
    from ecs_engine.repos.gitsource import GIT_ORIGIN

    if in_git := GIT_ORIGIN.fullmatch(file):
        return in_git.group(1)
    path = (cwd / file).resolve()
    for top in path.parents:
        if (top / ".git").exists():
            return path.relative_to(top).as_posix()
    return path.relative_to(cwd.resolve()).as_posix() if path.is_relative_to(cwd.resolve()) else file


def _ci_problems(report: ValidationReport, cwd: Path) -> Iterator[tuple[Problem, str]]:
    """The errors and warnings of ``report`` (not the notes), each with its file's ``report_path``, once: a
    problem of a task template or sub-workflow met on its own and through each role using it differs only in its
    role path, and CI shows it once (GitHub at most 10 annotations of each level per step)."""
    seen = set()
    for r in report.results:
        for p in r.problems:
            if p.severity == "note":
                continue
            path = report_path(p.file or r.file, cwd)
            what = p.message.removeprefix(role_label(p.role_path)).removeprefix(", ") if p.role_path else p.message
            key = (p.severity, path, p.line, p.column, what)
            if key not in seen:
                seen.add(key)
                yield p, path


#: what may differ between two runs finding one problem: its line (moved by an edit above it) and the checkout's
#: absolute directory, in a message naming another line or file
_VOLATILE = re.compile(r"\b(?:line|column) \d+|(?<![\w.])/[^\s,)']+")


def _code_quality_issue(p: Problem, path: str) -> dict[str, Any]:
    """One issue of GitLab's Code Quality report (Code Climate's format); its fingerprint is the check, path and
    message without lines or absolute paths, so GitLab sees a problem whose line moved as the same issue."""
    check = f"coconut-template-{p.severity}"
    identity = "\0".join((check, path, _VOLATILE.sub("", p.message)))
    return {
        "description": p.message,
        "check_name": check,
        "fingerprint": hashlib.sha256(identity.encode()).hexdigest(),
        "severity": "critical" if p.severity == "error" else "minor",  # an error: the workflow cannot be used
        "location": {"path": path, "lines": {"begin": p.line or 1}},
    }


def print_validation(cli: CliContext, report: ValidationReport, output: str) -> None:
    if output in ("json", "yaml"):
        print_data(
            cli,
            {
                "ok": report.ok,
                "results": [
                    {
                        "kind": r.kind,
                        "name": r.name,
                        "file": report_path(r.file, cli.cwd),
                        "ok": r.ok,
                        "counts": r.counts,
                        "problems": [
                            {**p.as_dict(), "file": report_path(p.file or r.file, cli.cwd)} for p in r.problems
                        ],
                    }
                    for r in report.results
                ],
            },
            output,
        )
        return
    if output == "github":
        for p, path in _ci_problems(report, cli.cwd):
            loc = f" file={path}" + (f",line={p.line}" if p.line else "") + (f",col={p.column}" if p.column else "")
            message = p.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            cli.echo(f"::{p.severity}{loc}::{message}")
        bad = sum(1 for r in report.results if not r.ok)
        cli.echo(f"{len(report.results) - bad} valid, {bad} invalid")
        return
    if output == "codeclimate":
        print_data(cli, [_code_quality_issue(p, path) for p, path in _ci_problems(report, cli.cwd)], "json")
        return
    console = cli.console
    for r in report.results:
        mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
        counts = ", ".join(f"{v} {k}" for k, v in r.counts.items())
        console.print(
            f"{mark} {r.kind} [bold]{r.name}[/bold] [dim]{r.file}[/dim]" + (f"  ({counts})" if counts else "")
        )
        for p in r.problems:
            style = {"error": "red", "warning": "yellow", "note": "dim"}[p.severity]
            text = p.rendered or (f"{p.file}:{p.line}: {p.message}" if p.line else p.message)
            first, *rest = text.splitlines()
            console.out(f"    {p.severity}: {first}", style=style, highlight=False)
            for line in rest:
                console.out(f"      {line}", highlight=False)
    bad = sum(1 for r in report.results if not r.ok)
    console.print(f"{len(report.results) - bad} valid, {bad} invalid")


def _tree_node(tree: Any, node: dict[str, Any]) -> None:
    label = f"[bold]{node['name']}[/bold] [dim]{node['kind']}[/dim]"
    if node["kind"] == "task":
        label += f" [cyan]{node['class']}[/cyan]"
        if node.get("trigger"):
            label += f" hook@{node['trigger']}"
        if not node.get("critical", True):
            label += " [dim](non-critical)[/dim]"
    elif node["kind"] == "call":
        label += f" [magenta]{node['func']}[/magenta]"
        if not node.get("critical", True):
            label += " [dim](non-critical)[/dim]"
    elif node["kind"] == "include":
        label += f" [cyan]{node['include']}[/cyan]"
    if node.get("constraints"):
        label += " [dim]" + ", ".join(f"{k}={v}" for k, v in node["constraints"].items()) + "[/dim]"
    branch = tree.add(label)
    for child in node.get("roles", []):
        _tree_node(branch, child)


def print_plan(cli: CliContext, data: dict[str, Any], output: str) -> None:
    if output != "text":
        print_data(cli, data, output)
        return
    from rich.markup import escape
    from rich.tree import Tree

    console = cli.console
    counts = data["counts"]
    console.print(
        f"[bold]{data['workflow']}[/bold] from {escape(data['repository'])}: {counted(counts['roles'], 'role')}, "
        f"{counted(counts['tasks'], 'task')} ({counted(counts['hooks'], 'hook')}), {counted(counts['calls'], 'call')}"
    )
    root = data["tree"]
    tree = Tree(f"[bold]{root['name']}[/bold]")
    for child in root.get("roles", []):
        _tree_node(tree, child)
    console.print(tree)

    console.print("\n[bold]Tasks[/bold]")
    for t in data["tasks"]:
        flags = [t["mode"], f"host={t['host'] or '-'}", "critical" if t["critical"] else "non-critical"]
        if t["trigger"]:
            flags.append(f"hook@{t['trigger']} timeout {t['timeout']}")
        console.print(f"  [cyan]{t['path']}[/cyan]  {t['class']}  [dim]{'  '.join(flags)}[/dim]")
        cmd = t["command"]
        console.out(f"      $ {' '.join([cmd['value'], *cmd['arguments']]).strip()}", highlight=False)
        for c in t["bind"]:
            console.out(f"      bind    {c['name']} {c.get('type', '')} {c.get('address', '')}", highlight=False)
        for c in t["connect"]:
            match = c["matches"] or "NO MATCH"
            console.out(
                f"      connect {c['name']} {c.get('type', '')} -> {c.get('target', '')} [{match}]", highlight=False
            )

    for tl in data["timelines"]:
        rows = [(s["moment"], h) for s in tl["steps"] for h in s["hooks"]]
        if not rows:
            continue
        console.print(f"\n[bold]{tl['transition']}[/bold]  {tl['from']} → {tl['to']}")
        for moment, h in rows:
            what = f"{h['kind']} {h['action']}" + (" (await)" if h["phase"] == "await" else "")
            extra = f"await {h['await']}  " if h["kind"] == "call" and h["phase"] == "run" else ""
            crit = "critical" if h["critical"] else "non-critical"
            console.out(
                f"  {moment:<24} {h['weight']:+5d}  {what:<36} {h['path']}  [{extra}{h['timeout']} {crit}]",
                highlight=False,
            )
    for w in data["warnings"]:
        console.print(f"[yellow]warning[/yellow]: {escape(w)}")


def print_templates(
    cli: CliContext, infos: list[WorkflowTemplateInfo], output: str, *, details: bool, all_workflows: bool
) -> None:
    """``template list``: a tree repository -> [revision] -> templates, or JSON/YAML rows."""
    if output != "text":
        rows = []
        for i in infos:
            row: dict[str, Any] = {"repo": i.repo, "template": i.template, "revision": i.revision, "public": i.public}
            if details:
                row["description"] = i.description
                row["varSpecMap"] = {k: v.as_dict() for k, v in i.varspecs.items()}
            rows.append(row)
        print_data(cli, rows, output)
        return
    if not infos:
        cli.echo("No templates found.")
        return
    from rich.markup import escape
    from rich.tree import Tree

    cli.console.print("Available templates in loaded configuration:")
    for repo, of_repo in itertools.groupby(infos, key=lambda i: i.repo):
        repo_tree = Tree(f"[blue]{escape(repo)}[/blue]")
        for revision, of_revision in itertools.groupby(of_repo, key=lambda i: i.revision):
            revision_branch = repo_tree.add(f"[yellow]\\[revision] {escape(revision)}[/yellow]")
            for i in of_revision:
                label = escape(i.template) + (" [green](public)[/green]" if all_workflows and i.public else "")
                node = revision_branch.add(label)
                if details:
                    _add_details(node, i)
        cli.console.print(repo_tree)


def _add_details(node: Tree, info: WorkflowTemplateInfo) -> None:
    """A template's description and variables (in their panel order) under its node."""
    from rich.markup import escape

    if info.description:
        node.add(f"[dim]{escape(info.description)}[/dim]")
    for name, spec in sorted(info.varspecs.items(), key=lambda kv: (kv[1].index, kv[0])):
        what = ", ".join(x for x in (spec.type, spec.widget, spec.panel) if x)
        text = f"{escape(name)} = {escape(json.dumps(spec.value))} [dim]({escape(what)})[/dim]"
        if spec.label:
            text += f" {escape(spec.label)}"
        node.add(text)
