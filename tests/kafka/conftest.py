"""A Tansu broker for the session, and consumers that read the core's topics the way AliECS's consumers do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .broker import TansuBroker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> Iterator[TansuBroker]:
    broker = TansuBroker(tmp_path_factory.mktemp("tansu")).start()
    yield broker
    broker.kill()
