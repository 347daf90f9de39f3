"""Rendering of command results: rich tables and trees for people, JSON/YAML for scripts."""

from __future__ import annotations

import json
from typing import Any


def print_json(env, data: Any) -> None:
    env.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_validation(env, report, output: str) -> None:
    if output == "json":
        print_json(
            env,
            {
                "ok": report.ok,
                "results": [
                    {
                        "kind": r.kind,
                        "name": r.name,
                        "file": r.file,
                        "ok": r.ok,
                        "counts": r.counts,
                        "problems": [p.as_dict() for p in r.problems],
                    }
                    for r in report.results
                ],
            },
        )
        return
    if output == "github":
        for r in report.results:
            for p in r.problems:
                if p.severity == "note":
                    continue
                level = "error" if p.severity == "error" else "warning"
                loc = f" file={p.file or r.file}" + (f",line={p.line}" if p.line else "")
                message = p.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
                env.echo(f"::{level}{loc}::{message}")
        bad = sum(1 for r in report.results if not r.ok)
        env.echo(f"{len(report.results) - bad} valid, {bad} invalid")
        return
    console = env.console
    for r in report.results:
        mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
        counts = ", ".join(f"{v} {k}" for k, v in r.counts.items())
        console.print(
            f"{mark} {r.kind} [bold]{r.name}[/bold] [dim]{r.file}[/dim]" + (f"  ({counts})" if counts else "")
        )
        for p in r.problems:
            style = {"error": "red", "warning": "yellow", "note": "dim"}[p.severity]
            text = p.rendered or (f"{p.file}:{p.line}: {p.message}" if p.line else p.message)
            for i, line in enumerate(text.splitlines()):
                prefix = f"    [{style}]{p.severity}[/{style}]: " if i == 0 else "      "
                console.print(prefix + line, markup=(i == 0 and False) or False) if False else console.out(
                    ("    " + p.severity + ": " if i == 0 else "      ") + line, style=style if i == 0 else None
                )
    bad = sum(1 for r in report.results if not r.ok)
    console.print(f"{len(report.results) - bad} valid, {bad} invalid")


def _tree_node(tree, node: dict[str, Any]) -> None:
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


def print_plan(env, data: dict[str, Any], output: str) -> None:
    if output == "json":
        print_json(env, data)
        return
    from rich.table import Table
    from rich.tree import Tree

    console = env.console
    counts = data["counts"]
    console.print(
        f"[bold]{data['workflow']}[/bold] from {data['repository']}: {counts['roles']} roles, "
        f"{counts['tasks']} tasks ({counts['hooks']} hooks), {counts['calls']} calls"
    )
    root = data["tree"]
    tree = Tree(f"[bold]{root['name']}[/bold]")
    for child in root.get("roles", []):
        _tree_node(tree, child)
    console.print(tree)

    table = Table(title="Tasks", show_lines=False)
    for col in ("path", "class", "mode", "host", "crit", "command"):
        table.add_column(col, overflow="fold")
    for t in data["tasks"]:
        cmd = t["command"]
        text = " ".join([cmd["value"], *cmd["arguments"]])
        table.add_row(t["path"], t["class"], t["mode"], t["host"], "yes" if t["critical"] else "no", text)
    console.print(table)
    chans = [(t["path"], "bind", c) for t in data["tasks"] for c in t["bind"]] + [
        (t["path"], "connect", c) for t in data["tasks"] for c in t["connect"]
    ]
    if chans:
        table = Table(title="Channels")
        for col in ("task", "dir", "name", "type", "transport", "address / target", "matches"):
            table.add_column(col, overflow="fold")
        for path, direction, c in chans:
            where = c.get("address", "") if direction == "bind" else c.get("target", "")
            table.add_row(
                path, direction, c["name"], c.get("type", ""), c.get("transport", ""), where, c.get("matches", "")
            )
        console.print(table)
    for tl in data["timelines"]:
        rows = [(s["moment"], h) for s in tl["steps"] for h in s["hooks"]]
        if not rows:
            continue
        table = Table(title=f"{tl['transition']}  {tl['from']} → {tl['to']}")
        for col in ("moment", "weight", "role", "what", "await", "timeout", "critical"):
            table.add_column(col, overflow="fold")
        for moment, h in rows:
            what = f"{h['kind']} {h['action']}" + (" (await)" if h["phase"] == "await" else "")
            table.add_row(
                moment, str(h["weight"]), h["path"], what, h["await"], h["timeout"], "yes" if h["critical"] else "no"
            )
        console.print(table)
    for w in data["warnings"]:
        console.print(f"[yellow]warning[/yellow]: {w}", markup=True, highlight=False)
