"""The core's event service: where ``kafkaEndpoints`` comes from, and the outbox that publishes the journal.

As upstream, the setting is read from the core settings in the configuration store
(``components/aliecs/ANY/any/settings``); our settings file's ``core.kafkaEndpoints`` wins over it. Unset,
no events leave the core (upstream defaults to ``localhost:9092``; we do not publish to a broker nobody
configured).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.errors import HandledError
from ecs_engine.events.bus import EventBus
from ecs_engine.events.outbox import JournalReader, Outbox, OutboxStatus
from ecs_engine.offload import offload

from .settings import CoreSettings, kafka_endpoints

log = logging.getLogger(__name__)

#: the outbox's delivered position, in the data directory
POSITION_FILE = "kafka-outbox.json"
#: how long the start waits for the configuration store's core settings before going without them
STORE_WAIT_SECONDS = 2.0


async def stored_core_settings(config: Any) -> dict[str, Any]:
    """The core settings of the configuration store (``components/aliecs/ANY/any/settings``, as upstream reads
    its settings), or {} when the store cannot answer within ``STORE_WAIT_SECONDS``."""
    try:
        return await asyncio.wait_for(offload(config.core_settings), STORE_WAIT_SECONDS)
    except (HandledError, TimeoutError) as exc:
        log.warning("the configuration store's core settings cannot be read (%s): going without them", exc)
        return {}


async def endpoints(settings: CoreSettings, config: Any) -> list[str]:
    """The settings file's ``kafkaEndpoints``, else the configuration store's, else none."""
    if settings.kafka_endpoints is not None:
        return settings.kafka_endpoints
    return kafka_endpoints(await stored_core_settings(config), "configuration store core settings") or []


async def open_event_service(
    settings: CoreSettings, config: Any, registry: BackendRegistry, journal: JournalReader, bus: EventBus
) -> Outbox | None:
    """The running outbox to Kafka, or None if no endpoint is set."""
    brokers = await endpoints(settings, config)
    if not brokers:
        return None
    publisher = registry.open_event_publisher("kafka", brokers)
    outbox = Outbox(journal, publisher, settings.data_dir / POSITION_FILE)
    await offload(outbox.start, bus)
    log.info("publishing events to Kafka at %s", publisher.endpoint)
    return outbox


def service_info(status: OutboxStatus) -> dict[str, Any]:
    """The event service as an entry of ``GetIntegratedServices`` (what ``coconut info`` shows)."""
    import json

    data = {"deliveredSeq": status.delivered_seq, "lag": status.lag, "error": status.error}
    return {
        "name": status.service,
        "enabled": True,
        "endpoint": status.endpoint,
        "connectionState": "READY" if status.connected else "TRANSIENT_FAILURE",
        "data": json.dumps(data),
    }
