"""Where the core finds ``kafkaEndpoints``: our settings file first, else the store's core settings, as upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecs_engine.config import Configuration
from ecs_engine.errors import UsageError
from ecs_engine.server.event_service import endpoints
from ecs_engine.server.settings import CoreSettings


def store_with(settings_yaml: str) -> Configuration:
    tree = {"o2": {"components": {"aliecs": {"ANY": {"any": {"settings": settings_yaml}}}}}}
    return Configuration.from_tree(tree)


def core(section: dict) -> CoreSettings:
    return CoreSettings.from_values({"core": section}, data_dir=Path("."), state_dir=Path("."))


async def test_the_settings_file_wins_over_the_store_and_enable_kafka_false_turns_publishing_off():
    store = store_with("kafkaEndpoints: [broker1:9092, broker2:9092]\n")
    assert await endpoints(core({}), store) == ["broker1:9092", "broker2:9092"]
    assert await endpoints(core({"kafkaEndpoints": ["127.0.0.1:9093"]}), store) == ["127.0.0.1:9093"]
    assert await endpoints(core({"enableKafka": False}), store) == []
    assert await endpoints(core({}), store_with("enableKafka: false\nkafkaEndpoints: [b:9092]\n")) == []
    assert await endpoints(core({}), store_with("")) == []
    with pytest.raises(UsageError, match="kafkaEndpoints"):
        core({"kafkaEndpoints": ["no-port"]})
