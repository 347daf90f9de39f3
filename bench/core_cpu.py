"""Where the core's Python-level CPU goes in create, START, STOP and destroy, per task, against the floor's.

bench/scale.py's runs (the fast OCC peer, N tasks over N/10 virtual hosts, the core on default settings, the
floor one bare asyncio client), with every step of the event loop and every job of the worker threads timed by
its thread's CPU clock in both processes (bench/cpu_accounting.py) and charged to what ran: a coroutine, a
callback, a pool job. Counted, not sampled, and CPU, not wall time: where scale.py's ratios move 10-20 % from one
run to the next on this machine, the core's figures here move 2-3 % (the floor's START and STOP, 20 ms of CPU per
cycle, up to 15 %). They leave out gRPC's own C threads and the kernel's work for the task processes and the hubs:
they say where the core's own work is, not how long a phase takes.

Prints, per phase, the CPU per task of the core and of the floor, their ratio, then each side's largest items
(us per task, and how often each ran per task); with two --tasks sizes, how each side's CPU per task grows.

Usage: python bench/core_cpu.py [--tasks 100] [--cycles 10] [--top 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cpu_accounting  # bench/: the counting
from scale import PHASES, Clock, floor, free_ports, more_descriptors, through_core  # bench/scale.py: the runs

from ecs_engine.occ.multipeer import host_names, hubs_for, running_hub, write_repo
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from ecs_engine.server.core import tune_garbage_collector

BENCH = Path(__file__).resolve().parent
#: how long a core may take to start, and to write what it counted
START_TIMEOUT, DUMP_TIMEOUT = 60.0, 10.0

#: phase -> item -> [CPU ms, count], summed over the cycles
Counts = dict[str, dict[str, list[float]]]


def add(counts: Counts, phase: str, taken: Mapping[str, Sequence[float]]) -> None:
    items = counts.setdefault(phase, {})
    for item, (ms, count) in taken.items():
        entry = items.setdefault(item, [0.0, 0.0])
        entry[0] += ms
        entry[1] += count


class CountingClock(Clock):
    """scale.Clock that also adds to ``counts``, at each phase's end, what ``take()`` counted during the phase (in
    the floor's process, or in the core)."""

    def __init__(self, driver: int, take: Callable[[], Mapping[str, Sequence[float]]], counts: Counts):
        super().__init__(driver)
        self.take, self.counts = take, counts

    def start(self) -> None:
        self.take()  # what came before the phase is not its
        super().start()

    def stop(self, out: dict[str, float], name: str) -> None:
        super().stop(out, name)
        add(self.counts, name, self.take())


class CountingCore:
    """A core of its own, counting (``cpu_accounting.serve_core``); ``take()``: what it counted since the last."""

    def __init__(self, root: Path, settings: Path):
        self.state = root / "state"
        self.endpoint = f"127.0.0.1:{free_ports(1)[0]}"
        self.dump = root / "counted.json"
        launcher = "import sys, cpu_accounting; sys.exit(cpu_accounting.serve_core(sys.argv[1:]))"
        argv = [sys.executable, "-c", launcher, "--data-dir", str(root / "data"), "--state-dir", str(self.state)]
        argv += ["--listen", self.endpoint, "--settings", str(settings), "--log-level", "warning"]
        pythonpath = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH", "")]))
        env = {**os.environ, "PYTHONPATH": pythonpath, "ECS_CPU_ACCOUNTING": str(self.dump)}
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        with CoreClient(self.endpoint, timeout=1.0) as probe:
            while not probe.answers(0.5):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the counting core did not start (exit code {self.process.poll()})")
                time.sleep(0.05)

    def take(self) -> dict[str, list[float]]:
        self.dump.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + DUMP_TIMEOUT
        while not self.dump.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the counting core did not write what it counted")
            time.sleep(0.005)
        return json.loads(self.dump.read_text())

    def stop(self) -> None:
        daemon.stop(self.state)
        self.process.wait()


def measure(n: int, cycles: int) -> tuple[Counts, Counts]:
    """The core's and the floor's counts over ``cycles`` alternating cycles of ``n`` tasks."""
    core_counts: Counts = {}
    floor_counts: Counts = {}
    hubs = max(2, hubs_for(n))
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub.fifo", hubs=hubs) as fifo:
        root = Path(tmp)
        write_repo(root / "repo", fifo, hubs)
        settings = root / "settings.yaml"
        settings.write_text(f"core:\n  nodes: {json.dumps(host_names(max(n, 100)))}\n")
        core = CountingCore(root, settings)
        pid = core.process.pid
        try:
            with CoreClient(core.endpoint, timeout=3600, token=read_token(core.state)) as client:
                through_core(client, root / "repo", 10, pid)  # warm-ups, not counted
                asyncio.run(floor(10, fifo, hubs))
                for _ in range(cycles):
                    through_core(client, root / "repo", n, pid, CountingClock(pid, core.take, core_counts))
                    asyncio.run(floor(n, fifo, hubs, CountingClock(os.getpid(), cpu_accounting.take, floor_counts)))
        finally:
            core.stop()
    return core_counts, floor_counts


def per_task(counts: Counts, phase: str, scale: float) -> float:
    """CPU per task in us (``scale`` = 1000 / (cycles * n))."""
    return sum(ms for ms, _ in counts.get(phase, {}).values()) * scale


def report(n: int, cycles: int, core: Counts, bare: Counts, top: int) -> None:
    scale = 1000 / (cycles * n)
    print(f"{n} tasks, {cycles} cycles: Python-level CPU per task (us), the event loop and the worker threads")
    print(f"{'phase':<8} {'core':>7} {'floor':>7} {'ratio':>6}")
    for phase in PHASES:
        c, f = per_task(core, phase, scale), per_task(bare, phase, scale)
        print(f"{phase:<8} {c:>7.0f} {f:>7.0f} {c / f:>6.2f}")
    for phase in PHASES:
        for side, counts in (("core", core), ("floor", bare)):
            items = sorted(counts.get(phase, {}).items(), key=lambda kv: -kv[1][0])[:top]
            print(f"{phase}, the {side}'s largest (us per task, runs per task):")
            for item, (ms, count) in items:
                print(f"  {ms * scale:>7.1f} {count / (cycles * n):>6.2f}  {item}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="100", help="one size, or two (e.g. 500,5000: how the CPU per task grows)")
    parser.add_argument("--cycles", type=int, default=10, help="alternating cycles of each side (summed)")
    parser.add_argument("--top", type=int, default=8, help="items shown per phase and side")
    args = parser.parse_args()
    more_descriptors()
    tune_garbage_collector()  # the floor collects as the core does (bench/scale.py)
    cpu_accounting.install()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    sizes = [int(s) for s in args.tasks.split(",")]
    results = []
    for n in sizes:
        core, bare = measure(n, args.cycles)
        report(n, args.cycles, core, bare, args.top)
        results.append((n, core, bare))
    if len(results) == 2:
        (n0, core0, bare0), (n1, core1, bare1) = results
        s0, s1 = 1000 / (args.cycles * n0), 1000 / (args.cycles * n1)
        print(f"CPU per task at {n1} / at {n0} (1.00: no growth)")
        for phase in PHASES:
            c = per_task(core1, phase, s1) / per_task(core0, phase, s0)
            f = per_task(bare1, phase, s1) / per_task(bare0, phase, s0)
            print(f"{phase:<8} core {c:.2f}  floor {f:.2f}")


if __name__ == "__main__":
    main()
