"""Shared fixtures: the real AliECS corpus beside the repository, template repositories made by tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = (REPO_ROOT / ".." / "shared" / "corpus").resolve()
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


@pytest.fixture
def corpus() -> Path:
    if not CW_145.is_dir():
        pytest.fail(f"the AliECS template corpus is missing at {CORPUS} (../shared/corpus beside the repository)")
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
