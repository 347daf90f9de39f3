"""Shared fixtures: the real AliECS corpus beside the repository, template repositories made by tests.

The corpus and the specs live in ``../shared`` beside the repository, not in it: a clone without it skips the
tests that read them (one reason for all), CI (``CI=true``) fails them, as it does for a missing server.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.servers import in_ci

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = (REPO_ROOT / ".." / "shared").resolve()
CORPUS = SHARED / "corpus"
SPEC = SHARED / "spec"
SHARED_MISSING = f"needs {SHARED} beside the repository (the AliECS template corpus and specs; not in the repository)"
CW_145 = CORPUS / "controlworkflows-v1.45.0"
CW_079 = CORPUS / "controlworkflows-v0.79.0-minimal-dpl"

#: readout-dataflow with the V_min variable set of template-corpus.md §6
VMIN_TREE = {
    "o2": {
        "hardware": {"detectors": {"TST": {"flps": {"flp001": {}, "flp002": {}}}}},
        "runtime": {
            "aliecs": {
                "defaults": {"consul_endpoint": "localhost:8500", "modulepath": "", "infologger_mode": "infoLogger"}
            }
        },
    }
}
VMIN_VARS = {"hosts": '["flp001","flp002"]'}


def need_shared() -> None:
    """Skip the running test when ``../shared`` is missing; with ``CI=true`` fail it (CI has it beside the clone)."""
    if CW_145.is_dir() and CW_079.is_dir() and SPEC.is_dir():
        return
    if in_ci():
        pytest.fail(f"CI=true and the test {SHARED_MISSING}", pytrace=False)
    pytest.skip(SHARED_MISSING)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared") is not None:
        need_shared()


@pytest.fixture
def corpus() -> Path:
    """readout-dataflow's repository of the real corpus (controlworkflows v1.45.0)."""
    need_shared()
    return CW_145


class RepoBuilder:
    """Writes workflow, task and jit files into a temporary template repository."""

    def __init__(self, root: Path):
        self.root = root
        for kind in ("workflows", "tasks", "jit"):
            (root / kind).mkdir(parents=True, exist_ok=True)

    def workflow(self, name: str, text: str) -> Path:
        path = self.root / "workflows" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    def task(self, name: str, text: str) -> Path:
        path = self.root / "tasks" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    def jit(self, name: str, text: str) -> Path:
        path = self.root / "jit" / name
        path.write_text(text)
        return path


@pytest.fixture
def repo(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder(tmp_path / "repo")
