"""Engine-only cost of transitions and hook scheduling, with the in-process task driver (no processes).

1. CONFIGURE, START_ACTIVITY and STOP_ACTIVITY of an environment of 1,000 and of 10,000 tasks (median of
   5): target 100 us per task (issue 19: CONFIGURE of 10,000 tasks < 1 s), and how the time grows with N.
2. Hook scheduling: START_ACTIVITY with 1,000 calls (10 weights, a plugin that returns at once) minus
   START_ACTIVITY without them, per call.
Events are published and journalled and the environment is persisted as in production (SQLite, WAL).
Prints each figure and its ratio to the target. Usage: python bench/engine.py [TASKS ...]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ecs_engine.config import Configuration
from ecs_engine.environment import EnvironmentManager, InProcessDriver, IntegrationPlugin, Integrations
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.sources import DirectorySource

#: seconds per task of one transition (10,000 tasks in < 1 s)
TARGET_PER_TASK = 1e-4
TRANSITIONS = ("CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY")
REPEAT = 5

TASK = "name: worker\ncontrol:\n  mode: direct\ncommand:\n  value: /bin/true\n"


def workflow(name: str, tasks: int, calls: int) -> str:
    items = json.dumps([f"{i:04d}" for i in range(tasks)])
    text = f"name: {name}\nroles:\n  - name: t{{{{ it }}}}\n    for:\n      range: '{items}'\n      var: it\n"
    text += "    task:\n      load: worker\n"
    for i in range(calls):
        text += f"  - name: c{i}\n    call:\n      func: bench.Fast()\n"
        text += f"      trigger: before_START_ACTIVITY+{i % 10}\n      timeout: 5s\n"
    return text


class FastCalls:
    def Fast(self) -> str:
        return ""


class BenchPlugin(IntegrationPlugin):
    name = "bench"

    def call_stack(self, call):
        return FastCalls()


async def time_transitions(root: Path, name: str, tasks: int, calls: int) -> dict[str, list[float]]:
    manager = EnvironmentManager(
        config=Configuration.from_tree({"o2": {}}),
        controller=InProcessDriver(),
        plugins=plugin_manager(),
        data_dir=root / f"data-{name}",
        integrations=Integrations([BenchPlugin()]),
    )
    await manager.start()
    times: dict[str, list[float]] = {event: [] for event in TRANSITIONS}
    try:
        env = await manager.create(DirectorySource(root), name)
        assert len(env.tasks) == tasks, len(env.tasks)
        for _ in range(REPEAT):
            await manager.control(env.id, "RESET")
            for event in TRANSITIONS:
                started = time.perf_counter()
                await manager.control(env.id, event)
                times[event].append(time.perf_counter() - started)
        await manager.destroy(env.id)
    finally:
        await manager.close()
    return times


def write_repository(root: Path, **workflows: tuple[int, int]) -> None:
    """A template directory with the worker task and ``name=(tasks, calls)`` workflows (shared by the benches)."""
    for kind in ("workflows", "tasks"):
        (root / kind).mkdir()
    (root / "tasks" / "worker.yaml").write_text(TASK)
    for name, (tasks, calls) in workflows.items():
        (root / "workflows" / f"{name}.yaml").write_text(workflow(name, tasks, calls))


async def main(sizes: list[int]) -> None:
    medians: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_repository(root, calls=(10, 1000), nocalls=(10, 0), **{f"plain{n}": (n, 0) for n in sizes})
        for n in sizes:
            plain = await time_transitions(root, f"plain{n}", n, 0)
            medians[n] = {event: statistics.median(plain[event]) for event in TRANSITIONS}
        with_calls = await time_transitions(root, "calls", 10, 1000)
        without = await time_transitions(root, "nocalls", 10, 0)
    for n in sizes:
        target = n * TARGET_PER_TASK
        for event, median in medians[n].items():
            print(
                f"{event} of {n} tasks: {median * 1000:.1f} ms (median of {REPEAT}, {median / n * 1e6:.0f} us per task);"
                f" ratio to the {target:g} s target {median / target:.2f}"
            )
    smallest, largest = min(sizes), max(sizes)
    if largest > smallest:
        growth = ", ".join(f"{e} {medians[largest][e] / medians[smallest][e]:.1f}" for e in TRANSITIONS)
        print(f"t({largest})/t({smallest}) (linear: {largest / smallest:g}): {growth}")
    per_call = (statistics.median(with_calls["START_ACTIVITY"]) - statistics.median(without["START_ACTIVITY"])) / 1000
    print(f"hook scheduling: {per_call * 1e6:.0f} us per call (1,000 calls over 10 weights at before_START_ACTIVITY)")


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1000, 10000]))
