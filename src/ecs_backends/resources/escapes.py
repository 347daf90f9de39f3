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
import time
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.offload import offload

TASK_MARK = "ECS_TASK_ID"  # in every task's environment: the task id
PR_SET_CHILD_SUBREAPER = 36
REAP_INTERVAL = 0.02  # seconds between looks for the end of a killed adopted process
REAP_PATIENCE = 5.0  # seconds a killed adopted process is waited for
SCAN_REST = 2.0  # after a /proc scan, no other for this many times its duration (_Sweeper)


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _processes() -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """Every live process: pid -> (its parent, its start in clock ticks since boot); and this process's zombie
    children: pid -> their process group. Raw descriptors, not file objects: a scan reads thousands of files
    (every process of the machine)."""
    found, zombies, me = {}, {}, os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            text = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = text[text.rfind(b")") + 2 :].split(maxsplit=20)
        if fields[0] not in (b"Z", b"X"):
            found[int(name)] = (int(fields[1]), int(fields[19]))
        elif int(fields[1]) == me:
            zombies[int(name)] = int(fields[2])
    return found, zombies


def now_ticks() -> int:
    """Now, in the clock of /proc's start times (ticks since boot)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def _mark(pid: int) -> str:
    """The task id in ``pid``'s environment, "" if none."""
    prefix = f"{TASK_MARK}=".encode()
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            entries = handle.read().split(b"\0")
    except OSError:
        return ""
    return next((e[len(prefix) :].decode() for e in entries if e.startswith(prefix)), "")


#: leaders of the tasks this process started, while they live: its children that are not adopted orphans
leaders: set[int] = set()
#: task id -> now_ticks() before its launch began, until its leader is in ``leaders``
launching: dict[str, int] = {}


@dataclass(frozen=True)
class _Wanted:
    leader: int  # 0: the leader has ended (its children were adopted): only the adopted orphans
    task_id: str
    signum: int
    asked: int  # now_ticks() when asked: a process started since is no orphan of this end (a relaunch's)
    group: int = 0  # the task's process group (its leader's pid): its members adopted by this process and killed


def _scan(wanted: list[_Wanted], known: set[int]) -> list[list[int]]:
    """For each request, the live processes of its task other than its leader: the leader's descendants, and
    the orphans of the task this process adopted (its children marked with the task id, started before the
    request, not a live leader in ``known``) with theirs; and the zombies of its group this process adopted
    (killed with the group, theirs to reap by nobody else; never the leader, which ``subprocess`` reaps). One
    ``/proc`` scan for all: a thousand tasks ending at once cost one scan, not a thousand."""
    table, zombies = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    adopted: dict[str, list[int]] = {}
    for pid in children.get(os.getpid(), ()):
        if pid not in known and (mark := _mark(pid)) and not _new_leader(pid, mark, table[pid][1], known):
            adopted.setdefault(mark, []).append(pid)
    found: list[list[int]] = []
    for request in wanted:
        orphans = (
            [p for p in adopted.get(request.task_id, []) if table[p][1] < request.asked] if request.task_id else []
        )
        frontier = [*orphans, *(children.get(request.leader, []) if request.leader else [])]
        pids = [z for z, group in zombies.items() if request.group and group == request.group != z]
        for zombie in pids:  # one request reaps it (a second reaper could meet its pid reused)
            del zombies[zombie]
        while frontier:
            pid = frontier.pop()
            pids.append(pid)
            frontier.extend(children.get(pid, ()))
        found.append(pids)
    return found


def _new_leader(pid: int, task_id: str, started: int, known: set[int]) -> bool:
    """Whether ``pid`` (not in ``known`` a moment ago) is a leader this process started, not an orphan.
    ``launching`` is looked at before ``known`` again: the loop adds a leader to ``known`` before it drops the
    task from ``launching``, so no order of events misses it."""
    return started >= launching.get(task_id, started + 1) or pid in known


class _Sweeper:
    """Signals what tasks left behind outside their groups: requests made meanwhile share one scan, run off
    the event loop (reading ``/proc`` is I/O); each scan starts after the requests it serves. A scan reads
    every process of the machine and, while a thousand tasks end, requests keep coming: after each scan the
    sweeper rests ``SCAN_REST`` times as long as it took, so scans take at most a third of a core (they were
    back to back, a thread's worth of CPU, through a whole destroy) and the requests of the rest share one."""

    def __init__(self) -> None:
        self._wanted: list[_Wanted] = []
        self._running: asyncio.Task | None = None
        self._rested = 0.0  # loop.time() before which no scan starts

    def request(self, wanted: _Wanted) -> None:
        self._wanted.append(wanted)
        loop = asyncio.get_running_loop()
        if self._running is None or self._running.done() or self._running.get_loop() is not loop:
            self._running = loop.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._wanted:
            if (rest := self._rested - loop.time()) > 0:
                await asyncio.sleep(rest)
            wanted, self._wanted = self._wanted, []
            began = loop.time()
            found = await offload(_scan, wanted, leaders)
            self._rested = loop.time() + (loop.time() - began) * SCAN_REST
            for request, pids in zip(wanted, found, strict=True):
                signal_all(pids, request.signum)
                reap_later(pids)


_sweeper = _Sweeper()


def signal_escaped(leader: int, task_id: str, signum: int, group: int = 0) -> None:
    """Send ``signum``, soon (this returns at once), to the processes of the task led by ``leader`` (0 once it
    has ended) that its process ``group`` may have lost: its descendants and its adopted orphans; and reap the
    members of the group this process adopted once they are killed (``_scan``)."""
    _sweeper.request(_Wanted(leader, task_id, signum, now_ticks(), group))


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
