"""The built-in example templates and tasks (``examples/`` of the source tree)."""

from __future__ import annotations

from pathlib import Path

from ecs_engine.errors import NotFoundError


def examples_dir() -> Path:
    """The examples repository: ``workflows/`` and ``tasks/`` that run on one machine."""
    for candidate in (Path(__file__).resolve().parents[3] / "examples", Path(__file__).resolve().parent / "data"):
        if (candidate / "workflows").is_dir():
            return candidate
    raise NotFoundError("the built-in examples are not installed; pass --repo DIR")
