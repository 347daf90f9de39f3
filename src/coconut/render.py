"""Rendering of command results: rich tables and trees for people, JSON/YAML for scripts."""

from __future__ import annotations

import json
from typing import Any


def print_json(env, data: Any) -> None:
    env.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_data(env, data: Any, output: str) -> None:
    """Machine-readable output: ``json`` or ``yaml``."""
    if output == "yaml":
        import yaml

        env.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False))
    else:
        print_json(env, data)


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
            first, *rest = text.splitlines()
            console.out(f"    {p.severity}: {first}", style=style, highlight=False)
            for line in rest:
                console.out(f"      {line}", highlight=False)
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
    from rich.markup import escape
    from rich.tree import Tree

    console = env.console
    counts = data["counts"]
    console.print(
        f"[bold]{data['workflow']}[/bold] from {escape(data['repository'])}: {counts['roles']} roles, "
        f"{counts['tasks']} tasks ({counts['hooks']} hooks), {counts['calls']} calls"
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
