"""readout-dataflow from the real corpus (V_min) through a whole life: hooks and calls in reference order."""

from __future__ import annotations

import pytest

from ecs_engine.config import Configuration
from ecs_engine.template.sources import DirectorySource
from tests.conftest import VMIN_TREE, VMIN_VARS
from tests.environment.conftest import Harness

pytestmark = pytest.mark.shared

BK = "readout-dataflow.bookkeeping"
HOSTS = ("flp001", "flp002")

#: (trigger, paths) in the order the reference runs them: moments in transition order, weights ascending,
#: calls before task hooks of the same weight; DESTROY merged with after_DESTROY.
EXPECTED = [
    ("before_DEPLOY", [f"{BK}.startenv"]),
    ("before_DEPLOY", [f"readout-dataflow.host-{h}.fairmq-shmcleanup" for h in HOSTS]),
    ("after_DEPLOY+100", [f"{BK}.deploy"]),
    ("after_CONFIGURE+100", [f"{BK}.configure"]),
    ("before_START_ACTIVITY+10", [f"{BK}.startrun"]),
    ("before_START_ACTIVITY+11", [f"{BK}.retrievefillinfoatsor"]),
    ("after_START_ACTIVITY+100", [f"{BK}.start", f"{BK}.updaterunstart"]),
    ("after_STOP_ACTIVITY+100", [f"{BK}.stop", f"{BK}.updaterunstop"]),
    ("before_START_ACTIVITY+10", [f"{BK}.startrun"]),
    ("before_START_ACTIVITY+11", [f"{BK}.retrievefillinfoatsor"]),
    ("after_START_ACTIVITY+100", [f"{BK}.start", f"{BK}.updaterunstart"]),
    ("after_STOP_ACTIVITY+100", [f"{BK}.stop", f"{BK}.updaterunstop"]),
    ("after_RESET+100", [f"{BK}.reset"]),
    ("DESTROY", [f"{BK}.destroy", f"{BK}.updaterundestroy"]),
    ("DESTROY", [f"readout-dataflow.host-{h}.fairmq-shmmonitor" for h in HOSTS]),
]


def grouped(entries: list[tuple[str, str, str]]) -> list[tuple[str, list[str]]]:
    """Consecutive entries of the same kind and trigger as one group (order inside a weight is free)."""
    groups: list[tuple[str, str, list[str]]] = []
    for kind, trigger, path in entries:
        if groups and groups[-1][:2] == (kind, trigger):
            groups[-1][2].append(path)
        else:
            groups.append((kind, trigger, [path]))
    return [(trigger, sorted(paths)) for _, trigger, paths in groups]


async def test_readout_dataflow_runs_hooks_and_calls_in_reference_order(tmp_path, corpus):
    harness = Harness(tmp_path, Configuration.from_tree(VMIN_TREE), plugin_names=("bookkeeping",))
    recorder = harness.recorder
    original = harness.driver.trigger_hook

    async def recording_hook(task):
        recorder.entries.append(("hook", str(task.role.traits.trigger), task.path))
        return await original(task)

    harness.driver.trigger_hook = recording_hook
    async with harness:
        manager = harness.manager
        env = await manager.create(DirectorySource(corpus), "readout-dataflow", user_vars=VMIN_VARS)
        assert env.state == "CONFIGURED"
        assert env.detectors == ["TST"]
        for expected_run in (1, 2):
            await manager.control(env.id, "START_ACTIVITY")
            assert (env.state, env.current_run) == ("RUNNING", expected_run)
            await manager.control(env.id, "STOP_ACTIVITY")
        report = await manager.destroy(env.id)

    assert grouped(recorder.entries) == EXPECTED
    # every task (10 of them, hooks included) was deployed once and killed at the end
    assert len(report.killed) == 10
    # the non-critical hooks left their results on their roles
    cleanup = next(r for r in env.root.walk() if r.path.endswith("host-flp001.fairmq-shmcleanup"))
    assert cleanup.user_vars["taskResult.exitCode"] == "0"
    # the bookkeeping calls saw the run number only once it was allocated
    seen = {stack["__call_rolepath"]: stack for _, stack in harness.plugins["bookkeeping"].seen}
    assert seen[f"{BK}.updaterunstop"]["run_number"] == "2"
    assert seen[f"{BK}.startrun"]["run_number"] == "2"
    assert "run_number" not in seen[f"{BK}.updaterundestroy"]
    assert seen[f"{BK}.updaterundestroy"]["last_run_number"] == "2"
    assert seen[f"{BK}.startrun"]["__call_trigger"] == "before_START_ACTIVITY+10"
