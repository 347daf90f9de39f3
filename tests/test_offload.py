"""The event loop's boundary: ordered commits off the loop, awaited before replying, failures never lost."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ecs_engine.offload import SerialWriter, offload


def test_offload_runs_on_the_named_pool_while_the_loop_goes_on():
    release = threading.Event()

    async def main() -> str:
        blocked = asyncio.ensure_future(offload(lambda: release.wait(10) and threading.current_thread().name))
        await asyncio.sleep(0)
        assert not blocked.done()  # the loop runs on while the call waits
        release.set()
        return await blocked

    assert asyncio.run(main()).startswith("ecs-offload")


def test_commits_run_in_order_on_one_thread_and_committed_waits_for_them():
    writer = SerialWriter("test")
    release = threading.Event()
    done: list[tuple[int, str]] = []

    def commit(n: int) -> None:
        if n == 0:
            release.wait(10)
        done.append((n, threading.current_thread().name))

    async def main() -> None:
        for n in range(3):
            writer.submit(commit, n)
        waiting = asyncio.ensure_future(writer.committed())
        await asyncio.sleep(0)
        assert not waiting.done() and done == []
        release.set()
        await waiting
        assert [n for n, _ in done] == [0, 1, 2]
        assert {name for _, name in done} == {"ecs-test_0"}

    asyncio.run(main())
    writer.close()


def test_a_failed_commit_is_raised_to_the_next_waiter_once_even_after_later_commits():
    writer = SerialWriter("test")
    after_failure = threading.Event()

    def fail() -> None:
        raise OSError("disk full")

    async def main() -> None:
        writer.submit(fail)
        writer.submit(after_failure.set)  # runs once the failed commit is over
        assert after_failure.wait(10)
        writer.submit(lambda: None)  # a later commit, submitted after the failure ended
        with pytest.raises(OSError, match="disk full"):
            await writer.committed()
        await writer.committed()  # reported once

    asyncio.run(main())
    writer.close()


def test_a_waiter_that_goes_away_does_not_cancel_the_commit():
    writer = SerialWriter("test")
    release = threading.Event()
    done = threading.Event()

    def commit() -> None:
        release.wait(10)
        done.set()

    async def main() -> None:
        writer.submit(commit)
        waiting = asyncio.ensure_future(writer.committed())
        await asyncio.sleep(0)
        waiting.cancel()
        release.set()
        await writer.committed()

    asyncio.run(main())
    assert done.is_set()
    writer.close()
