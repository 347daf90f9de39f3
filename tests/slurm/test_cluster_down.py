"""tests/slurm/cluster.py's ``down`` signals only the processes its ``up`` started (no cluster needed)."""

from __future__ import annotations

import os
import signal
import subprocess

from ecs_engine.processes import start_ticks
from tests.slurm import cluster as slurm_cluster
from tests.waiting import eventually


def test_down_leaves_alone_a_recorded_pid_that_another_process_has_taken_since(tmp_path):
    other = subprocess.Popen(["sleep", "60"])  # as if the pid a cluster recorded had been reused by someone else
    try:
        (tmp_path / "pids").write_text(f"{other.pid} {start_ticks(other.pid) - 1}\n")
        slurm_cluster.down(tmp_path)
        assert other.poll() is None, "down() signalled a process the cluster did not start"
    finally:
        other.kill()
        other.wait()


def test_down_stops_the_processes_up_recorded(tmp_path):
    # not this process's child (down() reaps its own children): as a daemon up started, after up returned
    started = subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    pid = int(started.stdout)
    ticks = start_ticks(pid)
    try:
        (tmp_path / "pids").write_text(f"{pid} {ticks}\n")
        slurm_cluster.down(tmp_path)
        eventually(lambda: start_ticks(pid) != ticks, timeout=10, what="the recorded process stopped")
    finally:
        if start_ticks(pid) == ticks:
            os.kill(pid, signal.SIGKILL)
