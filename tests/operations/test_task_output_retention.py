"""A destroyed environment's task output directory is deleted core.journal_keep_days after it was found gone."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from ecs_engine.events.journal import EventJournal, Retention
from ecs_engine.server.journal_retention import (
    DAY_SECONDS,
    GONE_MARK,
    TaskOutput,
    keep_journal_within,
    prune_task_output,
)
from tests.waiting import eventually_async


def _dirs(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "t1.stdout.log").write_text("output\n")


def test_gone_environment_output_deleted_after_keep_days(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    _dirs(root, "liveenv", "goneenv", "_unlocked")
    output = TaskOutput(root, "_unlocked", lambda: {"liveenv"})
    now = time.time()
    assert prune_task_output(output, {"liveenv"}, 2, now) == []  # found gone now: marked, kept
    mark = root / "goneenv" / GONE_MARK
    assert mark.exists() and not (root / "liveenv" / GONE_MARK).exists()
    assert prune_task_output(output, {"liveenv"}, 2, now + 1.9 * DAY_SECONDS) == []
    assert prune_task_output(output, {"liveenv"}, 2, now + 2.1 * DAY_SECONDS) == ["goneenv"]
    assert sorted(p.name for p in root.iterdir()) == ["_unlocked", "liveenv"]


def test_live_environment_loses_an_early_mark(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    _dirs(root, "env1")
    output = TaskOutput(root, "_unlocked", set)
    prune_task_output(output, set(), 1, time.time())  # found while its create had not made it known yet
    old = time.time() - 10 * DAY_SECONDS
    os.utime(root / "env1" / GONE_MARK, (old, old))
    assert prune_task_output(output, {"env1"}, 1, time.time()) == []
    assert not (root / "env1" / GONE_MARK).exists()
    assert (root / "env1" / "t1.stdout.log").exists()


def test_retention_job_prunes_task_output(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    _dirs(root, "goneenv")
    old = time.time() - 4 * DAY_SECONDS
    (root / "goneenv" / GONE_MARK).touch()
    os.utime(root / "goneenv" / GONE_MARK, (old, old))

    async def scenario() -> None:
        journal = EventJournal(tmp_path / "journal.sqlite")
        job = asyncio.create_task(
            keep_journal_within(journal, Retention(days=3), task_output=TaskOutput(root, "_unlocked", set))
        )
        try:
            await eventually_async(lambda: not (root / "goneenv").exists(), what="task output deleted")
        finally:
            job.cancel()
            journal.close()

    asyncio.run(scenario())
