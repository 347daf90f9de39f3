"""The CPU each kind of Python work costs a process, counted, not sampled (for bench/core_cpu.py).

``install()`` times every callback the process's asyncio loops run and every job its thread pools run with the
running thread's own CPU clock (``time.thread_time_ns``), and charges it to what ran: a coroutine's step to the
coroutine (``Executor._launch_one``, ``UnaryUnaryCall._invoke``), a callback to its function, a pool job to its
function, marked ``[worker]``. A step of a coroutine includes what it called until it awaited, so a figure is what
that kind of work costs, all its callees included. Not counted: threads that run no pool jobs (gRPC's own C
threads), and what the kernel does for other processes. The cost of the timing itself is about 1 us per step.
"""

from __future__ import annotations

import asyncio.events
import collections
import concurrent.futures.thread
import functools
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

#: item -> [CPU ns, count]
_spent: collections.defaultdict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
_lock = threading.Lock()
_installed = False


def _name(fn: Any) -> str:
    fn = fn.func if isinstance(fn, functools.partial) else fn
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _charge(item: str, began: int) -> None:
    spent = time.thread_time_ns() - began
    with _lock:
        entry = _spent[item]
        entry[0] += spent
        entry[1] += 1


def install() -> None:
    """Start counting in this process (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    run_handle = asyncio.events.Handle._run
    run_job = concurrent.futures.thread._WorkItem.run

    def handle(self: asyncio.events.Handle) -> None:
        callback = self._callback  # taken first: a reader's callback that removes its reader cancels the handle
        began = time.thread_time_ns()
        run_handle(self)
        owner = getattr(callback, "__self__", None)
        _charge(_name(owner.get_coro()) if isinstance(owner, asyncio.Task) else _name(callback), began)

    def job(self: Any) -> None:
        began = time.thread_time_ns()
        run_job(self)
        _charge(f"[worker] {_name(self.fn)}", began)

    asyncio.events.Handle._run = handle  # type: ignore[method-assign]
    concurrent.futures.thread._WorkItem.run = job  # type: ignore[method-assign]


def take() -> dict[str, tuple[float, int]]:
    """What was counted since the last ``take`` (item -> (CPU ms, count)), and start again from zero."""
    with _lock:
        taken = {item: (ns / 1e6, count) for item, (ns, count) in _spent.items()}
        _spent.clear()
    return taken


def serve_core(argv: list[str]) -> int:
    """Run the core (``python -m ecs_engine.server`` with ``argv``) counting; on SIGUSR2 it writes what it counted
    since the last time to the file named by ``$ECS_CPU_ACCOUNTING`` (JSON, written whole, then renamed)."""
    from ecs_engine.server.__main__ import main

    target = Path(os.environ["ECS_CPU_ACCOUNTING"])

    def dump(signum: int, frame: Any) -> None:
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(take()))
        partial.rename(target)

    install()
    signal.signal(signal.SIGUSR2, dump)
    return main(argv)
