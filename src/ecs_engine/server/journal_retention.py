"""How long the core keeps its event journal: settings ``core.journal_keep_days`` and ``core.journal_keep_mb``.

At start and then every hour the oldest whole days beyond either bound are deleted (``EventJournal.prune``,
through ``offload``). Defaults: 90 days, 2000 MB; ``0`` for either means "no bound of this kind".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

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


def journal_retention(section: Mapping[str, Any]) -> Retention:
    """The retention the ``core`` settings ask for; a UsageError naming the setting if a value is no number."""
    bounds = []
    for name, default in (("journal_keep_days", DEFAULT_KEEP_DAYS), ("journal_keep_mb", DEFAULT_KEEP_MB)):
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"setting core.{name}: expected a number, 0 or more (0: no bound), got '{value}'")
        bounds.append(float(value) or None)
    return Retention(days=bounds[0], megabytes=bounds[1])


async def keep_journal_within(
    journal: EventJournal, retention: Retention, delivered: Callable[[], int | None] = lambda: None
) -> None:
    """Prune now and every ``PRUNE_INTERVAL`` until cancelled, never past ``delivered()`` (the Kafka outbox's
    position, None without one); a failed prune is logged and tried again later."""
    while True:
        try:
            deleted = await offload(journal.prune, retention, now_ms(), keep_after=delivered())
            if deleted:
                log.info("event journal: deleted %d events beyond %s", deleted, retention)
        except Exception:
            log.exception("event journal: pruning failed")
        await asyncio.sleep(PRUNE_INTERVAL)
