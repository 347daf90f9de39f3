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
from ecs_engine.processes import proc_stat

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


def _children_files(pid: int) -> list[int] | None:
    """The children of every thread of ``pid`` (zombies too), from ``/proc/<pid>/task/<tid>/children``; None
    where the kernel has no such files (CONFIG_PROC_CHILDREN)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in threads:
        try:
            fd = os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY)
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended
            return None
        except OSError:
            continue
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        except OSError:
            continue
        finally:
            os.close(fd)
        found.extend(map(int, b"".join(chunks).split()))
    return found


def _children_table() -> dict[int, list[int]]:
    """Every process's children, from a read of every process of the machine (kernels without children files)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = Path(f"/proc/{name}/stat").read_bytes()
                children.setdefault(int(text[text.rfind(b")") + 2 :].split(maxsplit=2)[1]), []).append(int(name))
    return children


class _Tree:
    """The process tree below the processes a scan asks about, read from their children files: what this
    process and its tasks started, not every process of the machine (1,600 on a shared host, 25 ms a scan)."""

    def __init__(self) -> None:
        self._table: dict[int, list[int]] | None = None
        self._stats: dict[int, tuple[bytes, int, int] | None] = {}

    def children(self, pid: int) -> list[int]:
        if self._table is None:
            found = _children_files(pid)
            if found is not None:
                return found
            self._table = _children_table()
        return list(self._table.get(pid, ()))

    def stat(self, pid: int) -> tuple[bytes, int, int] | None:
        if pid not in self._stats:
            self._stats[pid] = proc_stat(pid)
        return self._stats[pid]

    def live(self, pid: int) -> bool:
        stat = self.stat(pid)
        return stat is not None and stat[0] not in (b"Z", b"X")


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
    scan for all: a thousand tasks ending at once cost one, not a thousand. Only this process's children
    and the trees below them are read (the leaders, children of this process, are not even looked at
    unless a request names one)."""
    tree = _Tree()
    adopted: dict[str, list[int]] = {}
    zombies: dict[int, int] = {}
    for pid in tree.children(os.getpid()):
        if pid in known or (stat := tree.stat(pid)) is None:
            continue
        state, group, started = stat
        if state in (b"Z", b"X"):
            zombies[pid] = group
        elif (mark := _mark(pid)) and not _new_leader(pid, mark, started, known):
            adopted.setdefault(mark, []).append(pid)
    found: list[list[int]] = []
    for request in wanted:
        orphans = (
            [p for p in adopted.get(request.task_id, []) if _started(tree, p) < request.asked]
            if request.task_id
            else []
        )
        frontier = [*orphans, *(tree.children(request.leader) if request.leader else [])]
        pids = [z for z, group in zombies.items() if request.group and group == request.group != z]
        for zombie in pids:  # one request reaps it (a second reaper could meet its pid reused)
            del zombies[zombie]
        while frontier:
            pid = frontier.pop()
            if tree.live(pid):
                pids.append(pid)
                frontier.extend(tree.children(pid))
        found.append(pids)
    return found


def _timed_scan(wanted: list[_Wanted], known: set[int]) -> tuple[list[list[int]], float]:
    """``_scan`` and the time it took itself: the sweeper rests in proportion to the scan's work, not to its wait
    for a thread of the offload pool, which the core's other blocking work shares."""
    began = time.monotonic()
    found = _scan(wanted, known)
    return found, time.monotonic() - began


def _started(tree: _Tree, pid: int) -> int:
    stat = tree.stat(pid)
    return stat[2] if stat is not None else 0


def _new_leader(pid: int, task_id: str, started: int, known: set[int]) -> bool:
    """Whether ``pid`` (not in ``known`` a moment ago) is a leader this process started, not an orphan.
    ``launching`` is looked at before ``known`` again: the loop adds a leader to ``known`` before it drops the
    task from ``launching``, so no order of events misses it."""
    return started >= launching.get(task_id, started + 1) or pid in known


class _Sweeper:
    """Signals what tasks left behind outside their groups: requests made meanwhile share one scan, run off
    the event loop (reading ``/proc`` is I/O); each scan starts after the requests it serves. A scan reads
    this process's children (a thousand tasks' leaders) and, while they end, requests keep coming: after each scan the
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
            found, took = await offload(_timed_scan, wanted, leaders)
            self._rested = loop.time() + took * SCAN_REST
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
