"""No import cycle among the project's modules (docs/architecture.md: dependencies point one way).

Every import counts, wherever it is written: at module level, inside a function, or under
``TYPE_CHECKING`` — a cycle hidden in a function is still a cycle in the design. An import names the
most specific module of the project it reaches (``from pkg import mod`` is an edge to ``pkg.mod``;
``from pkg.mod import name`` to ``pkg.mod``); parent packages are not counted as imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGES = ("ecs_engine", "ecs_backends", "coconut", "peanut")


def _modules(src: Path, packages: tuple[str, ...]) -> dict[str, tuple[Path, bool]]:
    found = {}
    for package in packages:
        for path in (src / package).rglob("*.py"):
            parts = list(path.relative_to(src).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join(parts)] = (path, is_package)
    return found


def _resolve(target: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def import_graph(src: Path = SRC, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the project's modules it imports."""
    modules = _modules(src, packages)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    edges.add(resolved)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_detector_sees_cycles_through_function_and_type_checking_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.c import thing\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n")
    (package / "d.py").write_text("import pkg.a\n")
    assert cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_no_import_cycle_among_the_projects_modules():
    graph = import_graph()
    assert "ecs_engine.environment.environment" in graph  # the walk found the tree
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_lower_layers_take_the_plugin_manager_from_their_caller():
    """config, template and environment get hooks and backends passed in; they never reach up to plugins.py."""
    graph = import_graph()
    lower = ("ecs_engine.config", "ecs_engine.template", "ecs_engine.environment")
    for start in (m for m in graph if m.startswith(lower)):
        seen, todo = {start}, [start]
        while todo:
            for target in graph[todo.pop()]:
                assert target != "ecs_engine.plugins", f"{start} reaches ecs_engine.plugins"
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
