"""Start-up of the mock services: from ``coconut mock NAME`` to its "listening on" line, in fresh processes.

Issue 14 asks a mock to say where it listens in under a second. The figure is the median wall time and the
CPU time the mock used until then (what a busy machine stretches least); the ratio is the median over 1 s.
``python -c pass`` is the floor (interpreter start alone).

Run: .venv/bin/python bench/mocks.py [--runs 7] [--name dcs ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0
COCONUT = Path(sys.executable).parent / "coconut"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_once(name: str) -> tuple[float, float]:
    """Wall and CPU seconds until the mock's first line; the mock is then stopped."""
    begun = time.perf_counter()
    process = subprocess.Popen([str(COCONUT), "mock", name, "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    wall = time.perf_counter() - begun
    cpu = cpu_seconds(process.pid)
    process.terminate()
    process.wait(10)
    if " listening on " not in line:
        raise SystemExit(f"mock {name} did not start: {line!r}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--name", action="append", help="mock to start (default: dcs, trg, bookkeeping, odc)")
    args = parser.parse_args()
    floor = statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(args.runs))
    print(f"floor (python -c pass): {floor * 1000:.0f} ms")
    print(f"{'mock':<12} {'wall':>8} {'cpu':>8} {'ratio to 1 s':>13}")
    for name in args.name or ["dcs", "trg", "bookkeeping", "odc"]:
        runs = [start_once(name) for _ in range(args.runs)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<12} {wall * 1000:>6.0f}ms {cpu * 1000:>6.0f}ms {wall / TARGET_S:>13.2f}")
    return 0


def _timed(command: list[str]) -> float:
    begun = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - begun


if __name__ == "__main__":
    sys.exit(main())
