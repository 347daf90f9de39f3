"""The agent tells an out-of-memory kill from another SIGKILL by the kernel's counts of its memory cgroup."""

from __future__ import annotations

from ecs_backends.resources.slurm_agent import memory_kills


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_counts_of_a_cgroup_v2_job_and_its_parents_are_read_from_memory_events(tmp_path):
    root = tmp_path / "cgroup"
    _write(tmp_path / "self", "0::/system.slice/job_7/step_batch\n")
    _write(root / "system.slice/job_7/step_batch/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    _write(root / "system.slice/job_7/memory.events", "oom 2\noom_kill 2\n")
    _write(root / "memory.events", "oom_kill 5\n")  # the machine's (system.slice has none: skipped)
    assert memory_kills(tmp_path / "self", root) == (1, 2, 5)


def test_without_a_memory_cgroup_there_is_nothing_to_compare(tmp_path):
    _write(tmp_path / "self", "3:cpuset:/x\n")
    assert memory_kills(tmp_path / "self", tmp_path / "cgroup") == ()
    assert memory_kills(tmp_path / "missing", tmp_path / "cgroup") == ()
