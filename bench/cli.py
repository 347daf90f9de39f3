"""Cold start of the command line tools: ``peanut --help`` and ``coconut --help`` in fresh interpreters.

Each run starts a new process (no warm interpreter, no shared imports), as a user typing the command.
The figure is the median wall time over the runs; the ratio is that median over the 250 ms target.
``python -c pass`` is shown as the floor (interpreter start alone).

Run: .venv/bin/python bench/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 250.0
BIN = Path(sys.executable).parent


def wall_ms(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def measure(command: list[str], runs: int) -> tuple[float, float]:
    wall_ms(command)  # let the OS cache the files once
    times = sorted(wall_ms(command) for _ in range(runs))
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    floor, _ = measure([sys.executable, "-c", "pass"], runs)
    print(f"{'command':<18} {'median':>9} {'p90':>9} {'ratio to 250 ms':>16}")
    print(f"{'python -c pass':<18} {floor:>7.0f}ms {'':>9} {floor / TARGET_MS:>16.2f}")
    failed = False
    for name in ("peanut", "coconut"):
        median, p90 = measure([str(BIN / name), "--help"], runs)
        failed |= median >= TARGET_MS
        print(f"{name + ' --help':<18} {median:>7.0f}ms {p90:>7.0f}ms {median / TARGET_MS:>16.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
