"""Expansion time of readout-dataflow (V_min variables) for 1, 10, 50 and 200 hosts.

Prints the time per run, the cost per host, and the ratio t(200)/t(50) (linear would be 4.0).
Target (design.md §8): 200 hosts < 1 s, ratio <= 4.5. Usage: python bench/templates.py [--plan]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from ecs_engine.config import Configuration
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.plan import build_plan
from ecs_engine.template.sources import DirectorySource

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "controlworkflows-v1.45.0"
SIZES = (1, 10, 50, 200)
#: the one plugin manager of the benchmark, passed to every expansion
PLUGINS = plugin_manager()


def config_for(hosts: list[str]) -> Configuration:
    return Configuration.from_tree(
        {
            "o2": {
                "hardware": {"detectors": {"TST": {"flps": {h: {} for h in hosts}}}},
                "runtime": {
                    "aliecs": {
                        "defaults": {
                            "consul_endpoint": "localhost:8500",
                            "modulepath": "",
                            "infologger_mode": "infoLogger",
                        }
                    }
                },
            }
        }
    )


def run(n: int, with_plan: bool) -> tuple[float, int]:
    hosts = [f"flp{i:03d}" for i in range(1, n + 1)]
    config = config_for(hosts)
    source = DirectorySource(CORPUS)
    start = time.perf_counter()
    expander = make_expander(source, plugins=PLUGINS, config=config, user_vars={"hosts": json.dumps(hosts)})
    workflow = expander.expand("readout-dataflow")
    if with_plan:
        build_plan(expander, workflow)
    elapsed = time.perf_counter() - start
    return elapsed, len(workflow.task_roles())


def main() -> None:
    with_plan = "--plan" in sys.argv
    run(1, with_plan)  # warm the parse caches, as a running core has them
    times = {}
    for n in SIZES:
        samples = [run(n, with_plan)[0] for _ in range(3 if n < 200 else 2)]
        times[n] = statistics.median(samples)
        tasks = run(n, with_plan)[1]
        print(f"{n:4d} hosts: {times[n] * 1000:8.1f} ms  ({times[n] / n * 1000:6.2f} ms/host, {tasks} tasks)")
    ratio = times[200] / times[50]
    what = "expansion + plan (task commands, channels, timelines)" if with_plan else "expansion"
    print(f"{what}: t(200) = {times[200]:.3f} s (target < 1 s), t(200)/t(50) = {ratio:.2f} (target <= 4.5)")


if __name__ == "__main__":
    main()
