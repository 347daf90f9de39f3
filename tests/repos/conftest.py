"""Real git repositories built with the git command line, and a manager over a temporary data dir."""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from coconut.cli import main
from coconut.context import CliContext
from ecs_engine.config import Configuration
from ecs_engine.repos import RepoManager


class Upstream:
    """A normal (non-bare) git repository that plays the remote the manager clones from."""

    def __init__(self, path: Path, branch: str = "master"):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def workflow(self, name: str, *, public: bool = True, description: str = "", task: str = "sleeper") -> None:
        self.write(f"workflows/{name}.yaml", workflow_text(name, public=public, description=description, task=task))

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def workflow_text(name: str, *, public: bool = True, description: str = "", task: str = "sleeper") -> str:
    tag = "!public " if public else ""
    return (
        f"name: {tag}{name}\n"
        f'description: {tag}"{description}"\n'
        "defaults:\n"
        "  speed: !public\n"
        '    value: "3"\n'
        "    type: number\n"
        "    label: Speed\n"
        "roles:\n"
        "  - name: one\n"
        "    task:\n"
        f"      load: {task}\n"
    )


TASK = "name: {name}\ncontrol:\n  mode: basic\ncommand:\n  value: {command}\n"


@pytest.fixture
def upstream_factory(tmp_path):
    def make(name: str = "ControlWorkflows", branch: str = "master") -> Upstream:
        return Upstream(tmp_path / "upstream" / name, branch)

    return make


def build_history(up: Upstream) -> Upstream:
    """A repository with branches, tags (light and annotated), a merge, a rename and a deleted template.

    Returns the upstream with ``commits``: c1 (tag v1, branch flp-suite-v0.1), c2 (tag v2, branch
    flp-suite-v0.2: a.yaml renamed to b.yaml, old-only.yaml deleted), c3 (master only) and the merge of
    branch ``feature`` (adds feature.yaml) into master.
    """
    up.workflow("readout", description="first")
    up.workflow("old-only", description="exists only at v1")
    up.workflow("hidden", public=False, description="not public")
    up.workflow("a", description="renamed later")
    up.write("tasks/sleeper.yaml", TASK.format(name="sleeper", command="sleep 1"))
    up.write("jit/minimal", "o2-dpl-raw-proxy --x\n")
    c1 = up.commit("first")
    up.git("tag", "v1")
    up.git("branch", "flp-suite-v0.1")
    up.git("mv", "workflows/a.yaml", "workflows/b.yaml")
    up.workflow("b", description="renamed from a")
    (up.path / "workflows/old-only.yaml").unlink()
    up.workflow("readout", description="second")
    up.write("tasks/sleeper.yaml", TASK.format(name="sleeper", command="sleep 2"))
    c2 = up.commit("second")
    up.git("tag", "-a", "v2", "-m", "annotated")
    up.git("branch", "flp-suite-v0.2")
    up.git("checkout", "-q", "-b", "feature")
    up.workflow("feature", description="from a merged branch")
    feature = up.commit("feature")
    up.git("checkout", "-q", "master")
    up.workflow("readout", description="third")
    c3 = up.commit("third")
    up.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merge = up.git("rev-parse", "HEAD")
    up.commits = {"c1": c1, "c2": c2, "c3": c3, "feature": feature, "merge": merge}
    return up


@pytest.fixture(scope="session")
def history(tmp_path_factory):
    """The shared history; tests must not change it (use ``mutable_history`` for that)."""
    return build_history(Upstream(tmp_path_factory.mktemp("upstream") / "ControlWorkflows"))


@pytest.fixture
def mutable_history(upstream_factory):
    return build_history(upstream_factory())


@pytest.fixture
def config():
    return Configuration.from_tree({})


@pytest.fixture
def manager(tmp_path, config):
    return RepoManager(tmp_path / "data", config)


@dataclass
class Result:
    status: int
    out: str
    err: str


@pytest.fixture
def coconut(tmp_path):
    data = tmp_path / "data"

    def run(*argv: str, cwd: Path = tmp_path) -> Result:
        out, err = io.StringIO(), io.StringIO()
        cli = CliContext(stdout=out, stderr=err, config_dir=data, data_dir=data, state_dir=data, cwd=cwd, environ={})
        status = main(["--nocolor", *argv], cli=cli)
        return Result(status, out.getvalue(), err.getvalue())

    return run
