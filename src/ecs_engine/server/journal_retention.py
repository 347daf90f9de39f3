"""How long the core keeps its event journal: settings ``core.journal_keep_days`` and ``core.journal_keep_mb``.

At start and then every hour the oldest whole days beyond either bound are deleted (``EventJournal.prune``,
through ``offload``). Defaults: 90 days, 2000 MB; ``0`` for either means "no bound of this kind".
The same job deletes the task output directory of an environment ``core.journal_keep_days`` after it was
found gone (destroyed), and the record of one destroyed that long ago, as the journal's events about it go.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_engine.environment.store import EnvironmentStore
from ecs_engine.errors import UsageError
from ecs_engine.events.journal import EventJournal, Retention
from ecs_engine.events.model import now_ms
from ecs_engine.offload import offload

from .layered_settings import KNOWN

log = logging.getLogger(__name__)

DEFAULT_KEEP_DAYS: float = KNOWN["core.journal_keep_days"]
DEFAULT_KEEP_MB: float = KNOWN["core.journal_keep_mb"]
#: seconds between two prunes
PRUNE_INTERVAL = 3600.0
#: in a gone environment's task output directory: its time is when the retention job first found it gone
GONE_MARK = ".environment-gone"
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class TaskOutput:
    """Where the task output directories are (one per environment id, plus ``unlocked``, the directory of tasks
    of no environment) and which environments exist (read on the event loop)."""

    root: Path
    unlocked: str
    live: Callable[[], Collection[str]]


def journal_retention(section: Mapping[str, Any]) -> Retention:
    """The retention the ``core`` settings ask for; a UsageError naming the setting if a value is no number."""
    bounds = []
    for name, default in (("journal_keep_days", DEFAULT_KEEP_DAYS), ("journal_keep_mb", DEFAULT_KEEP_MB)):
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"setting core.{name}: expected a number, 0 or more (0: no bound), got '{value}'")
        bounds.append(float(value) or None)
    return Retention(days=bounds[0], megabytes=bounds[1])


def prune_task_output(output: TaskOutput, live: Collection[str], keep_days: float, now: float) -> list[str]:
    """Mark the output directory of each environment not in ``live`` as gone (once), delete those marked more
    than ``keep_days`` ago; the ids deleted. A live environment's mark (found gone while it was being
    created) is removed."""
    try:
        directories = [d for d in output.root.iterdir() if d.is_dir() and d.name != output.unlocked]
    except FileNotFoundError:
        return []
    deleted = []
    for directory in directories:
        mark = directory / GONE_MARK
        if directory.name in live:
            mark.unlink(missing_ok=True)
            continue
        try:
            gone_since = mark.stat().st_mtime
        except FileNotFoundError:
            mark.touch()
            continue
        if now - gone_since >= keep_days * DAY_SECONDS:
            shutil.rmtree(directory, ignore_errors=True)
            deleted.append(directory.name)
    return deleted


async def keep_journal_within(
    journal: EventJournal,
    retention: Retention,
    delivered: Callable[[], int | None] = lambda: None,
    task_output: TaskOutput | None = None,
    records: EnvironmentStore | None = None,
) -> None:
    """Prune now and every ``PRUNE_INTERVAL`` until cancelled, never past ``delivered()`` (the Kafka outbox's
    position, None without one), and the task output and ``records`` of environments gone for ``retention.days``;
    a failed prune is logged and tried again later."""
    while True:
        try:
            deleted = await offload(journal.prune, retention, now_ms(), keep_after=delivered())
            if deleted:
                log.info("event journal: deleted %d events beyond %s", deleted, retention)
        except Exception:
            log.exception("event journal: pruning failed")
        if task_output is not None and retention.days is not None:
            try:
                live = set(task_output.live())
                gone = await offload(prune_task_output, task_output, live, retention.days, time.time())
                if gone:
                    log.info("deleted the task output of %d environment(s) gone for %g days", len(gone), retention.days)
            except Exception:
                log.exception("task output: pruning failed")
        if records is not None and retention.days is not None:
            try:
                forgotten = await offload(records.forget_destroyed, now_ms() - int(retention.days * DAY_SECONDS * 1000))
                if forgotten:
                    log.info(
                        "deleted the records of %d environment(s) destroyed %g days ago", forgotten, retention.days
                    )
            except Exception:
                log.exception("environment records: pruning failed")
        await asyncio.sleep(PRUNE_INTERVAL)
