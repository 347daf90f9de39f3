"""The orphan sweep at scale: what many tasks ending together left outside their groups is all killed, by scans
that share the requests and rest between them (each scan reads every process of the machine)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ecs_backends.resources import escapes
from tests.waiting import eventually_async

from .conftest import request
from .test_crash_safety import past_its_start_tick, started_escapee

pytestmark = pytest.mark.slow

TASKS = 6


async def test_the_escapees_of_tasks_killed_together_all_die_and_scans_rest_between_them(
    executor, tmp_path, monkeypatch
):
    scans: list[tuple[int, float, float]] = []  # (requests served, start, end)
    # its own sweeper: one of an earlier test may still hold requests its closed loop never served, which a first
    # request here would take into the first scan (seen: 7 served in it, 13 in all, for 6 tasks)
    monkeypatch.setattr(escapes, "_sweeper", escapes._Sweeper())
    real_scan = escapes._scan

    def timed_scan(wanted, known):
        start = time.monotonic()
        try:
            return real_scan(wanted, known)
        finally:
            scans.append((len(wanted), start, time.monotonic()))

    monkeypatch.setattr(escapes, "_scan", timed_scan)
    outs = [tmp_path / f"escaped{i}.pid" for i in range(TASKS)]
    requests = [
        request(f"demo.escape{i}", [f"(setsid sleep 300 & echo $! > {out}); exec sleep 300"], shell=True, mode="basic")
        for i, out in enumerate(outs)
    ]
    tasks = (await executor.deploy(requests)).tasks
    await executor.transition(tasks, "CONFIGURE")
    await executor.transition(tasks, "START")
    await eventually_async(
        lambda: all(o.exists() and o.read_text().strip() for o in outs), what="every escapee started"
    )
    escapees = [int(o.read_text()) for o in outs]
    for pid, leader in zip(escapees, [t.process.pid for t in tasks], strict=True):
        await eventually_async(lambda p=pid, s=leader: os.getsid(p) != s, what=f"escapee {pid} in a session of its own")
        await past_its_start_tick(pid)
    scans.clear()

    await executor.kill(tasks)

    await eventually_async(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in escapees), what="every escapee gone and reaped"
    )
    # each task asked twice (its SIGTERM, then its end); the SIGTERMs, sent in one pass of the loop, shared a scan
    await eventually_async(lambda: sum(served for served, _, _ in scans) >= 2 * TASKS, what="every request served")
    assert sum(served for served, _, _ in scans) == 2 * TASKS, scans  # none more (a failure shows which scans)
    assert scans[0][0] == TASKS
    for (_, start, end), (_, next_start, _) in itertools.pairwise(scans):
        assert next_start - end >= escapes.SCAN_REST * (end - start)  # a scan takes at most a third of the time


async def test_the_sweeper_rests_for_its_scans_work_not_for_its_wait_for_a_thread(monkeypatch):
    """The offload pool is shared with the core's other blocking work; a scan that waited 1 s for a thread made the
    sweeper rest twice that before its next scan, for no work of its own."""
    waited = 1.0
    scans: list[tuple[float, float]] = []
    real_scan, real_offload = escapes._scan, escapes.offload

    def timed_scan(wanted, known):
        start = time.monotonic()
        try:
            return real_scan(wanted, known)
        finally:
            scans.append((start, time.monotonic()))

    async def busy_pool(fn, *args):
        await asyncio.sleep(waited)  # every thread of the pool busy with other work meanwhile
        return await real_offload(fn, *args)

    monkeypatch.setattr(escapes, "_scan", timed_scan)
    monkeypatch.setattr(escapes, "offload", busy_pool)
    sweeper = escapes._Sweeper()
    for count in (1, 2):
        sweeper.request(escapes._Wanted(0, "demo.gone", signal.SIGKILL, escapes.now_ticks()))
        await eventually_async(lambda c=count: len(scans) == c, what=f"scan {count} done")
    (first_start, first_end), (second_start, _) = scans
    # the second scan waits its own second for a thread and rests SCAN_REST x the first's work, not x (1 s + work)
    assert second_start - first_end < waited + escapes.SCAN_REST * (first_end - first_start) + 0.5


async def test_what_a_task_left_in_its_group_is_reaped_once_killed_with_it(executor):
    """A process of the task's group whose parent ended is adopted by the core (its subreaper); killed with the
    group, it was left a zombie child of the core for good (one per such task and kill)."""
    (task,) = (
        await executor.deploy([request("demo.adopted", ["(sleep 300 &); exec sleep 300"], shell=True, mode="basic")])
    ).tasks
    await executor.transition(tasks := [task], "CONFIGURE")
    await executor.transition(tasks, "START")
    leader = task.process.pid
    await eventually_async(lambda: _children_in_group(leader), what="the task's background sleep adopted by the core")

    await executor.kill(tasks)

    await eventually_async(lambda: not _children_in_group(leader), what="the adopted member reaped, no zombie left")


def _children_in_group(group: int) -> list[int]:
    """This process's children (zombies too) in process group ``group``, the group's leader aside."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        _state, ppid, pgrp = text[text.rfind(")") + 2 :].split()[:3]
        if int(ppid) == os.getpid() and int(pgrp) == group and int(name) != group:
            found.append(int(name))
    return found


async def test_a_scan_looks_only_below_this_process_not_at_every_process_of_the_machine(monkeypatch):
    """A scan's cost is what the tasks left, not the machine's process count (1,600 on a shared host, 25 ms a
    scan, several per destroy): it reads no live leader's stat, and no stat of a process that is not this one's
    child (this test process may have others, from earlier tests)."""
    looked: list[int] = []
    real_stat = escapes.proc_stat
    monkeypatch.setattr(escapes, "proc_stat", lambda pid: looked.append(pid) or real_stat(pid))
    leaders = [subprocess.Popen(["sleep", "300"]) for _ in range(20)]
    try:
        found = escapes._scan(
            [escapes._Wanted(0, "t1", 9, escapes.now_ticks(), leaders[0].pid)], {p.pid for p in leaders}
        )
    finally:
        for leader in leaders:
            leader.kill()
            leader.wait()
    assert found == [[]]
    assert not set(looked) & {p.pid for p in leaders}
    assert all(escapes._parent(pid) in (os.getpid(), None) for pid in looked)


async def test_an_orphan_is_found_where_the_kernel_lists_no_children(executor, tmp_path, monkeypatch):
    """Without /proc/<pid>/task/<tid>/children (a kernel built without them) a scan reads every process."""
    monkeypatch.setattr(escapes, "_children_files", lambda pid: None)
    out = tmp_path / "escaped.pid"
    task, escapee = await started_escapee(executor, f"(setsid sleep 300 & echo $! > {out}); exec sleep 300", out)

    await executor.kill([task])

    await eventually_async(lambda: not Path(f"/proc/{escapee}").exists(), what="the escapee gone and reaped")
