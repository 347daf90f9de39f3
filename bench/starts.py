"""The CPU of one task start by the ``local`` resource manager, against a bare ``subprocess.Popen`` of the same command.

A deploy runs ``LocalResourceManager._start`` once per task, on a worker thread: the environment, the output files,
the gate (the process waits until it is recorded), ``Popen``, the pidfd its end is watched through, "go". The floor
is ``Popen`` of the same shell command alone, with the same environment, in its own session. Both run here on one
thread, ``--starts`` at a time, then wait for the processes' ends; each figure is the median over ``--repeat`` rounds
of the thread's CPU per start (``time.thread_time``: what the start costs its thread, the child's exec not included).
The output files are created in a first round that is not counted, and appended to after: creating a file costs
what the file system makes it cost, and that moves (on this VM's ext4 30-100 us, and up to 1 ms within minutes of
thousands of files deleted nearby: ext4 passes over recently deleted inodes when it allocates one).

Usage: python bench/starts.py [--starts 200] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ecs_backends.resources.local import LocalResourceManager, Node
from ecs_engine.tasks.resources import LaunchSpec

COMMAND = ["/bin/sh", "-c", "exit 0"]


def floor_round(starts: int) -> float:
    env = dict(os.environ)
    began = time.thread_time()
    processes = [subprocess.Popen(COMMAND, env=env, start_new_session=True) for _ in range(starts)]
    spent = time.thread_time() - began
    for process in processes:
        process.wait()
    return spent / starts


async def core_round(manager: LocalResourceManager, logs: Path, starts: int) -> float:
    specs = [
        LaunchSpec(f"t{i}", COMMAND, stdout_path=logs / f"{i}.out", stderr_path=logs / f"{i}.err")
        for i in range(starts)
    ]
    began = time.thread_time()
    processes = [manager._start(spec) for spec in specs]
    spent = time.thread_time() - began
    for process in processes:
        await process.wait()
    return spent / starts


async def main(starts: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manager = LocalResourceManager([Node("localhost", "127.0.0.1", ())], Path(tmp) / "state")
        logs = Path(tmp) / "logs"
        await core_round(manager, logs, starts)  # creates the output files
        core, floor = [], []
        for _ in range(repeat):  # alternating, so that a busier moment of the machine falls on both
            core.append(await core_round(manager, logs, starts))
            floor.append(floor_round(starts))
    c, f = statistics.median(core) * 1e6, statistics.median(floor) * 1e6
    print(f"CPU per start on its thread: local manager {c:.0f} us, bare Popen {f:.0f} us, ratio {c / f:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.starts, args.repeat))
