"""A core with watchdogs, and a workflow of two real OCC processes (the example producer and consumer)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.e2e.conftest import Coconut, alive, read_pidfile, write_example_tasks


def pair_repo(root: Path) -> Path:
    """A repository whose workflow ``pair`` runs ecs_engine.examples' producer and consumer over OCC."""
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    write_example_tasks(root)
    (root / "workflows" / "pair.yaml").write_text(
        textwrap.dedent(
            """\
            name: pair
            roles:
              - name: producer
                task: {load: producer}
              - name: consumer
                connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
                task: {load: consumer}
            """
        )
    )
    return root


@pytest.fixture
def pair(tmp_path) -> Path:
    return pair_repo(tmp_path / "pair-repo")


@pytest.fixture
def core_with(tmp_path):
    """coconut with the given settings (the test nodes in ``core:``) and a store of its own (``config runtime set``
    reaches the core's); its core is stopped at the end and no task process may outlive it."""
    runners: list[Coconut] = []

    def make(settings: dict) -> Coconut:
        root = tmp_path / f"core{len(runners)}"
        core = {"nodes": ["flp001"], **(settings.get("core") or {})}
        store = f"sqlite:///{root / 'config.sqlite'}"
        runner = Coconut(root, {**settings, "core": core, "config_endpoint": store})
        runner.seen_pids = set()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        if read_pidfile(runner.state_dir) is not None:
            runner("core", "stop", "--force")
        leftovers = [pid for pid in runner.seen_pids if alive(pid)]
        assert not leftovers, f"task processes left behind: {leftovers}"


# the engine harness of tests/environment: a manager over in-process tasks
from tests.environment.conftest import config, harness_factory, small_repo  # noqa: E402

__all__ = ["config", "harness_factory", "small_repo"]
