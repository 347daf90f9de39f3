"""The Kafka event service: the core's events on AliECS's topics (integrations.md §2.1), through confluent-kafka.

Each ``events.Event`` goes to the topic of its payload, keyed by its environment id (task events: the task
id; core events: no key), as binary protobuf with ``timestampNano`` set, in a record stamped with the event's
time; the header ``seq`` holds its journal sequence number, by which consumers dedupe (delivery is at least
once). Topics are created explicitly before the first message goes to them (upstream lets the broker create
them and loses that message). The ``Outbox`` (``ecs_engine.events.outbox``) drives this class from its own
thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import UnreachableError
from ecs_engine.events.journal import JournalEntry
from ecs_engine.events.model import Event
from ecs_engine.hookspecs import hookimpl

if TYPE_CHECKING:
    from ecs_engine.backend_registry import BackendRegistry

log = logging.getLogger(__name__)

#: the payload kind's topic (integrated-service events: per service, see ``route``)
TOPICS = {
    "coreStartEvent": "aliecs.core",
    "frameworkEvent": "aliecs.core",
    "mesosHeartbeatEvent": "aliecs.core",
    "environmentEvent": "aliecs.environment",
    "runEvent": "aliecs.run",
    "roleEvent": "aliecs.role",
    "taskEvent": "aliecs.task",
    "callEvent": "aliecs.call",
}
INTEGRATED_SERVICES = ("dcs", "ddsched", "odc", "trg")
#: created at start; other services' topics are created before their first event
START_TOPICS = (*dict.fromkeys(TOPICS.values()), *(f"aliecs.integrated_service.{s}" for s in INTEGRATED_SERVICES))
#: seconds a batch (or a topic creation) may take before the broker counts as unreachable
DELIVERY_TIMEOUT = 5.0
#: seconds an idle outbox waits for the broker's metadata before it shows the service unreachable
PROBE_TIMEOUT = 2.0


def route(event: Event) -> tuple[str, str] | None:
    """(topic, key) of an event, None for one the core does not produce (beam mode: it only consumes it)."""
    kind = event.WhichOneof("Payload")
    if kind == "integratedServiceEvent":
        service = event.integratedServiceEvent.operationName.partition(".")[0] or "unknown"
        return f"aliecs.integrated_service.{service}", event.integratedServiceEvent.environmentId
    if kind == "taskEvent":
        return TOPICS[kind], event.taskEvent.taskid
    topic = TOPICS.get(kind or "")
    if topic is None:
        return None
    return topic, getattr(getattr(event, kind or ""), "environmentId", "")


def client_config(endpoints: Iterable[str]) -> dict[str, Any]:
    """What every client of ours sets: the brokers, quick failure and reconnection, librdkafka logs to ``log``; and
    topics made only by ``create_topics``, with one partition. A producer's metadata request otherwise has the broker
    make a topic it names (librdkafka's default for producers), with the broker's partition count: after a broker
    came back empty, the producer's reconnection made them before ``prepare`` did (4 partitions on Tansu)."""
    return {
        "bootstrap.servers": ",".join(endpoints),
        "socket.connection.setup.timeout.ms": int(DELIVERY_TIMEOUT * 1000),
        "reconnect.backoff.max.ms": 1000,
        "allow.auto.create.topics": False,
        "logger": log,
    }


class KafkaPublisher:
    """A producer and an admin client for the outbox; ``send`` returns once the broker has every message."""

    name = "kafka"

    def __init__(self, endpoints: Sequence[str]):
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient

        self.endpoint = ",".join(endpoints)
        config = client_config(endpoints)
        self._admin = AdminClient(config)
        self._producer = Producer(
            {
                **config,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": int(DELIVERY_TIMEOUT * 1000),
                "max.in.flight.requests.per.connection": 1,  # a retried message cannot overtake the next one
            }
        )
        self._topics: set[str] = set()

    def prepare(self) -> None:
        """Create the topics (again: a broker that restarted may have lost them)."""
        self._topics.clear()
        self._create(START_TOPICS)

    def send(self, entries: Sequence[JournalEntry]) -> None:
        from confluent_kafka import KafkaError, KafkaException

        failures: list[str] = []

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                failures.append(f"{message.topic()}: {error.str()}")

        routed = [(entry, route(entry.event)) for entry in entries]
        self._create({target[0] for _, target in routed if target is not None} - self._topics)
        for entry, target in routed:
            if target is None:
                continue
            topic, key = target
            event = entry.event
            if not event.timestampNano:
                event.timestampNano = event.timestamp * 1_000_000
            try:
                self._producer.produce(
                    topic,
                    value=event.SerializeToString(),
                    key=key.encode() if key else None,
                    headers={"seq": str(entry.seq)},
                    timestamp=event.timestamp,  # the event's time, also for one sent late (after an outage)
                    on_delivery=delivered,
                )
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                # sending it again would never succeed and would hold back every later event
                log.error("event %d is larger than Kafka takes (%s): not published on %s", entry.seq, exc, topic)
        left = self._producer.flush(DELIVERY_TIMEOUT + 1)
        if left or failures:
            self._producer.purge()
            self._producer.flush(0)
            reason = failures[0] if failures else f"{left} message(s) not acknowledged"
            raise UnreachableError(f"Kafka at {self.endpoint} did not take the events: {reason}")

    def probe(self) -> None:
        """One metadata request: the broker answers, and still has the topics made (one back empty has none)."""
        from confluent_kafka import KafkaException

        try:
            topics = self._admin.list_topics(timeout=PROBE_TIMEOUT).topics
        except KafkaException as exc:
            raise UnreachableError(f"Kafka at {self.endpoint} does not answer: {exc.args[0].str()}") from None
        lost = sorted(self._topics - set(topics))
        if lost:
            raise UnreachableError(f"Kafka at {self.endpoint} has lost the topics {', '.join(lost)} (made again)")

    def close(self) -> None:
        self._producer.flush(1.0)

    def _create(self, topics: Iterable[str]) -> None:
        self._topics |= create_topics(self._admin, topics, self.endpoint)


def create_topics(admin: Any, topics: Iterable[str], endpoint: str) -> set[str]:
    """Create ``topics`` (one partition each) with an ``AdminClient``; existing ones are fine. Returns them;
    raises UnreachableError if the broker does not answer within DELIVERY_TIMEOUT."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import NewTopic

    wanted = sorted(topics)
    if not wanted:
        return set()
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=1, replication_factor=1) for t in wanted], request_timeout=DELIVERY_TIMEOUT
    )
    for topic, future in futures.items():
        try:
            future.result(DELIVERY_TIMEOUT + 1)
        except Exception as exc:
            error = exc.args[0] if exc.args else None
            if getattr(error, "code", lambda: None)() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise UnreachableError(f"Kafka at {endpoint}: cannot create topic {topic}: {exc}") from None
    return set(wanted)


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_event_publisher("kafka", KafkaPublisher)
