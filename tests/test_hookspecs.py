"""Every hook is typed, documented in docs/plugins.md and exercised by at least one test."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest

from ecs_engine import hookspecs
from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.environment.integration_plugin import IntegrationPlugin

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("ecs_"))


def test_there_are_hooks():
    assert "ecs_register_backends" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_typed(hook):
    """Every parameter and the result have a type that resolves, and none is ``Any``."""
    function = getattr(hookspecs, hook)
    names = {"BackendRegistry": BackendRegistry, "IntegrationPlugin": IntegrationPlugin}  # TYPE_CHECKING imports
    hints = typing.get_type_hints(function, localns=names)
    assert set(hints) == {*inspect.signature(function).parameters, "return"}
    assert not [name for name, annotation in function.__annotations__.items() if "Any" in annotation]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    assert f"`{hook}(" in (ROOT / "docs" / "plugins.md").read_text(), f"docs/plugins.md has no section for {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook):
    this = Path(__file__).resolve()
    users = [p for p in (ROOT / "tests").rglob("test_*.py") if p != this and hook in p.read_text()]
    assert users, f"no test exercises the hook {hook}"
