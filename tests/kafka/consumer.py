"""Reading the core's topics as a consumer does: confluent-kafka, ``assign()`` (group join is slow on Tansu),
values decoded with the project's own ``events_pb2``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_engine.protocols import events_pb2


@dataclass(frozen=True)
class Received:
    topic: str
    key: str
    seq: int
    event: events_pb2.Event


def read(
    endpoint: str, topics: Sequence[str], done: Callable[[list[Any]], bool] | None = None, *, timeout: float = 30.0
) -> list[Any]:
    """Every message of ``topics`` from the beginning, until ``done(messages)`` holds and every topic is read to
    its end (AssertionError at the deadline)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": endpoint,
            "group.id": "contract-test",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
            "logger": logging.getLogger("kafka-consumer"),
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING) for topic in topics])
    messages: list[Any] = []
    at_end: set[str] = set()
    errors: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while not (at_end == set(topics) and (done is None or done(messages))):
            if time.monotonic() >= deadline:
                read_ = {t: (sum(1 for m in messages if m.topic() == t), _watermarks(consumer, t)) for t in topics}
                raise AssertionError(
                    f"not all expected messages within {timeout} s: got {len(messages)} (per topic, read and the "
                    f"partition's watermarks: {read_}; read to the end: {sorted(at_end)}; errors: {errors[-5:]})"
                )
            message = consumer.poll(0.1)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.topic())
                else:
                    errors.append(f"{message.topic()}: {message.error()}")
                continue
            at_end.discard(message.topic())
            messages.append(message)
    finally:
        consumer.close()
    return messages


def _watermarks(consumer: Any, topic: str) -> tuple[int, int] | str:
    """The low and high offsets of ``topic``'s partition 0 as the broker gives them now (for a failure's message)."""
    from confluent_kafka import KafkaException, TopicPartition

    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=2)
    except KafkaException as exc:
        return str(exc)


def consume(
    endpoint: str, topics: Sequence[str], done: Callable[[list[Received]], bool] | None = None, *, timeout: float = 30.0
) -> list[Received]:
    """``read``, each message decoded as an ``events.Event`` with its key and journal sequence number."""

    def decoded(message: Any) -> Received:
        headers = dict(message.headers() or [])
        event = events_pb2.Event.FromString(message.value())
        return Received(message.topic(), (message.key() or b"").decode(), int(headers["seq"]), event)

    until = None if done is None else (lambda messages: done([decoded(m) for m in messages]))
    return [decoded(m) for m in read(endpoint, topics, until, timeout=timeout)]


def consume_raw(endpoint: str, topic: str) -> list[bytes]:
    """The values of every message of ``topic``, read to its end."""
    return [m.value() for m in read(endpoint, [topic])]
