"""Processes a task started that left its process group (``setsid``, a double fork): found by ancestry, killed
with the task.

Killing a task's process group misses a child that made itself a session of its own. The core therefore
becomes a child subreaper (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): an orphan of a task process is
re-parented to the core instead of init, so it stays in the core's process tree. A task's processes are
then the descendants of its leader, and, once the leader (or an intermediate parent) is gone, the core's own
children that carry the task's mark (``ECS_TASK_ID`` in their environment, inherited from the task) and
their descendants. Processes are found by their parent links in ``/proc``, never by their names. The core
reaps the adopted ones it kills (they are its children, not ``subprocess``'s).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
from pathlib import Path

TASK_MARK = "ECS_TASK_ID"  # in every task's environment: the task id
PR_SET_CHILD_SUBREAPER = 36
REAP_INTERVAL = 0.02  # seconds between looks for the end of a killed adopted process
REAP_PATIENCE = 5.0  # seconds a killed adopted process is waited for


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """Every live process's parent: pid -> ppid (zombies excluded)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] not in ("Z", "X"):
            parents[int(entry.name)] = int(fields[1])
    return parents


def _marked(pid: int, task_id: str) -> bool:
    try:
        return f"{TASK_MARK}={task_id}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def task_processes(leader: int, task_id: str) -> list[int]:
    """The live processes of a task other than its leader: the leader's descendants, and the orphans of the
    task that this process adopted (its children marked with ``task_id``) with their descendants."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    me = os.getpid()
    roots = [leader, *(pid for pid in children.get(me, ()) if pid != leader and task_id and _marked(pid, task_id))]
    found: list[int] = []
    frontier = list(roots)
    while frontier:
        pid = frontier.pop()
        if pid != leader:
            found.append(pid)
        frontier.extend(children.get(pid, ()))
    return found


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def reap_later(pids: list[int]) -> None:
    """Reap those of ``pids`` that end as this process's adopted children (orphans re-parented to the
    subreaper), so no zombie is left; the others are someone else's to reap."""
    if pids:
        reaping = asyncio.get_running_loop().create_task(_reap(pids))
        _reaping.add(reaping)  # (a task nobody holds may be collected before it is done)
        reaping.add_done_callback(_reaping.discard)


_reaping: set[asyncio.Task] = set()


def _parent(pid: int) -> int | None:
    """The parent of ``pid`` (also of a zombie), None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rfind(")") + 2 :].split()[1])


async def _reap(pids: list[int]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REAP_PATIENCE
    waiting = set(pids)
    while waiting and loop.time() < deadline:
        for pid in list(waiting):
            parent = _parent(pid)
            if parent is None:
                waiting.discard(pid)
            elif parent == os.getpid():
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        continue
                waiting.discard(pid)
        await asyncio.sleep(REAP_INTERVAL)
