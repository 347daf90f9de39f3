"""The one boundary between the core's event loop and blocking work.

The rule (docs/architecture.md): async code never calls anything that may wait on a disk, a network, a
lock or a child process (store reads and writes, SQLite commits, template expansion, git, ``Popen``,
synchronous plugin calls) directly; it awaits ``offload(fn, *args)``, which runs ``fn`` on the named
thread pool ``ecs-offload``. Commits whose order matters (an environment's records and runs; the event
journal's batches) go through a ``SerialWriter`` each: its one thread runs them in submission order, and
``committed()`` is what an operation awaits before it replies (durable before reply). Only CPU-bound work
stays on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: threads for blocking calls of every part of the core; a store that hangs holds one per waiting call
POOL_THREADS = 32
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="ecs-offload")


async def offload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the ``ecs-offload`` pool, awaited; the loop goes on meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, functools.partial(fn, *args, **kwargs))


class SerialWriter:
    """Blocking commits run one at a time, in the order submitted, on a thread named ``ecs-<name>``.

    ``submit`` returns at once (callable from the loop's synchronous code); ``committed()`` waits until
    everything submitted so far is done and raises the first failure among them (a failed commit is kept
    until a ``committed()`` has raised it). A caller that is cancelled while waiting does not cancel the
    commits: they still happen.
    """

    def __init__(self, name: str) -> None:
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ecs-{name}")
        self._pending: list[concurrent.futures.Future[None]] = []

    def submit(self, fn: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        self._pending = [f for f in self._pending if not f.done() or _failed(f)]
        future = self._thread.submit(fn, *args, **kwargs)
        future.add_done_callback(_log_failure)
        self._pending.append(future)

    async def committed(self) -> None:
        """Everything submitted before this call is committed; a failure among them is raised here."""
        pending = list(self._pending)
        if not pending:
            return
        try:
            await asyncio.shield(asyncio.gather(*(asyncio.wrap_future(f) for f in pending)))
        except Exception:
            failed = {f for f in pending if _failed(f)}
            self._pending = [f for f in self._pending if f not in failed]
            raise

    def drain(self) -> None:
        """Wait, blocking, for every submitted commit (at close, when the loop has nothing else to do)."""
        pending, self._pending = self._pending, []
        for future in pending:
            with contextlib.suppress(Exception):  # logged by _log_failure
                future.result()

    def close(self) -> None:
        self.drain()
        self._thread.shutdown(wait=True)


def _failed(future: concurrent.futures.Future[None]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is not None


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    if _failed(future):
        log.error("a commit failed: %s", future.exception())
