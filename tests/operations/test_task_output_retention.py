"""A destroyed environment's task output directory and record are deleted core.journal_keep_days after it went."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from ecs_engine.environment.store import EnvironmentStore
from ecs_engine.events.journal import EventJournal, Retention
from ecs_engine.events.model import now_ms
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


def test_the_records_of_environments_destroyed_beyond_the_retention_are_deleted(tmp_path: Path) -> None:
    """`env show` of an environment destroyed 90 days ago says it is not known, as its events are gone: a record
    (~50 KB for 100 tasks) kept for good made environments.sqlite grow with every environment ever created."""
    store = EnvironmentStore(tmp_path / "environments.sqlite")
    day_ms = int(DAY_SECONDS * 1000)
    for name, destroyed in (("old", now_ms() - 4 * day_ms), ("recent", now_ms() - day_ms), ("live", None)):
        store.save(
            environment_id=name,
            created_ms=now_ms() - 5 * day_ms,
            updated_ms=now_ms(),
            template="t",
            state="DONE" if destroyed else "CONFIGURED",
            current_run=0,
            last_run=7 if name == "old" else 0,
            snapshot={"tasks": []},
            structure='{"roles": {}}',
            destroyed_ms=destroyed,
        )
    store.run_started(7, "old", now_ms() - 4 * day_ms)

    async def scenario() -> None:
        journal = EventJournal(tmp_path / "journal.sqlite")
        job = asyncio.create_task(keep_journal_within(journal, Retention(days=3), records=store))
        try:
            await eventually_async(lambda: store.load("old") is None, what="the old record deleted")
        finally:
            job.cancel()
            journal.close()

    asyncio.run(scenario())
    assert store.load("recent") is not None and store.load("live") is not None
    assert [r.run_number for r in store.runs()] == [7]  # run numbers are never given again: their table stays
    store.close()
