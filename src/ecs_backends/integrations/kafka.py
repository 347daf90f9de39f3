"""The legacy ``kafka`` integration (AliECS ``core/integration/kafka``, integrations.md §1.9).

Workflow calls publish ``kafka.NewStateNotification`` messages: ``kafka.PublishEnterStateUpdate()`` to
``aliecs.env_state.<STATE>``, ``PublishLeaveStateUpdate()`` to ``aliecs.env_leave_state.<STATE>``,
``PublishStartActivityUpdate()`` to ``aliecs.{before_,after_,}start_activity``; entering or leaving RUNNING
also publishes the ``ActiveRunsList`` of the environments running to ``aliecs.env_list.RUNNING``
(BKP-LHC-Client and the Monitoring's ``aliecs-run-times`` read the first two). The broker is the setting
``kafkaEndpoint``; the key is the environment id. Unlike upstream, topics are created before their first
message (upstream's first message to a new topic is lost), and the plugin's state is the broker's: a thread looks
at it every ``LOOK_INTERVAL`` (a producer alone says nothing while it has nothing to send).

A call never waits for the broker (a transition must not, and making a topic waits up to 5 s for one that is down):
it only queues the message. The same thread sends the queue in order: it makes a message's topic first if it is new
(only once a look found the broker answering), then hands it to librdkafka's queue, which holds it, without a time
limit, until the broker takes it. A topic a broker lost (one back empty) is made again at the next look, before
librdkafka gives up on its messages. At most ``MAX_WAITING`` messages wait in each queue; past that the oldest in
the plugin's are dropped (one warning line per outage, counted in ``data()``).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from ecs_backends.events.kafka import PROBE_TIMEOUT, client_config, create_topics
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.errors import UnreachableError
from ecs_engine.events.model import now_ms
from ecs_engine.hookspecs import hookimpl
from ecs_engine.protocols import kafka_pb2

log = logging.getLogger(__name__)

ACTIVE_RUNS_TOPIC = "aliecs.env_list.RUNNING"
#: seconds between two looks at the broker (``connection_state``)
LOOK_INTERVAL = 2.0
#: messages that may wait in the plugin's queue, and in librdkafka's, while the broker is down (a transition sends
#: a few; upstream's buffer is unbounded)
MAX_WAITING = 10_000
#: the state a call's trigger stands for, besides ``enter_<STATE>`` and ``leave_<STATE>``
TRIGGER_STATES = {
    "after_START_ACTIVITY": "RUNNING",
    "before_STOP_ACTIVITY": "RUNNING",
    "before_START_ACTIVITY": "CONFIGURED",
    "after_STOP_ACTIVITY": "CONFIGURED",
}


def state_of(trigger: str) -> str:
    for prefix in ("enter_", "leave_"):
        if trigger.startswith(prefix):
            return trigger.removeprefix(prefix)
    return TRIGGER_STATES.get(trigger, "UNKNOWN")


def start_activity_topic(trigger: str) -> str:
    for moment in ("before", "after"):
        if trigger.startswith(f"{moment}_"):
            return f"aliecs.{moment}_start_activity"
    return "aliecs.start_activity"


def _compare(a: kafka_pb2.EnvInfo, b: kafka_pb2.EnvInfo) -> int:
    if len(a.detectors) >= 2 and len(b.detectors) >= 2 and ("ITS" in a.detectors) != ("ITS" in b.detectors):
        return -1 if "ITS" in a.detectors else 1
    return len(b.detectors) - len(a.detectors)


def sort_running(envs: list[kafka_pb2.EnvInfo]) -> list[kafka_pb2.EnvInfo]:
    """Upstream's ``SortRunningEnvList``: among environments of two or more detectors, those with ITS first;
    otherwise more detectors first (ties keep their order); each environment's detectors sorted."""
    for env in envs:
        env.detectors.sort()
    return sorted(envs, key=functools.cmp_to_key(_compare))


class _AtDebug(logging.LoggerAdapter):
    """librdkafka's lines at DEBUG: while the broker is down they are a FAIL per connection attempt, and the plugin
    says once itself that it does not answer."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


class KafkaCalls:
    """The functions of one call; each queues its message from the call's variables (it never waits for the broker)."""

    def __init__(self, plugin: KafkaPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    async def PublishEnterStateUpdate(self) -> str:
        return await self._publish("aliecs.env_state.{state}", leaving=False)

    async def PublishLeaveStateUpdate(self) -> str:
        return await self._publish("aliecs.env_leave_state.{state}", leaving=True)

    async def PublishStartActivityUpdate(self) -> str:
        trigger = self._call.var_stack.get("__call_trigger", "")
        return await self._publish(start_activity_topic(trigger), leaving=None)

    async def _publish(self, topic: str, *, leaving: bool | None) -> str:
        stack = self._call.var_stack
        info = self._plugin.env_info(stack)
        if isinstance(info, str):
            stack["__call_error"] = f"kafka: {info}"
            return ""
        self._plugin.notify(topic.format(state=info.state), info, leaving)  # only queues: no need to offload
        return ""


class KafkaPlugin(IntegrationPlugin):
    name = "kafka"
    pretty_name = "Kafka (legacy state notifications)"
    endpoint_setting = "kafkaEndpoint"

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self._lock = threading.Lock()  # the running environments and the order of the queue
        self._running: dict[str, kafka_pb2.EnvInfo] = {}
        #: (topic, key, value) not handed to librdkafka yet, oldest first
        self._waiting: deque[tuple[str, bytes | None, bytes]] = deque()
        self.dropped = 0  # messages dropped from a full queue, since the start
        self._dropping = False  # the queue is full (said once, until it empties)
        self._topics: set[str] = set()  # made on the broker (only the sender thread uses it)
        self._producer: Any = None
        self._admin: Any = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._looked = False  # a look said whether the broker answers (else ``error`` is the start's guess)
        #: why the broker cannot be reached now ("" while it answers)
        self.error = ""

    def init(self, framework_id: str) -> None:
        """Queue the (empty) list of active runs, as upstream publishes it at start, and start the thread that looks
        at the broker and sends; it returns at once (a broker down: one warning from the thread, and the list once it
        answers). Not where the setting ``enableKafka`` is false, which turns all Kafka off (upstream's plugin then
        fails to load)."""
        if not self.endpoint or self._turned_off():
            return
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient

        config = {**client_config([self.endpoint]), "logger": _AtDebug(log, {})}
        self._admin = AdminClient(config)
        self._producer = Producer(
            {
                **config,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": 0,  # kept until the broker takes it, however long it is down
                "max.in.flight.requests.per.connection": 1,  # a retried message cannot overtake the next one
                "queue.buffering.max.messages": MAX_WAITING,
                "on_delivery": self._delivered,
            }
        )
        self.error = f"Kafka at {self.endpoint}: no answer yet"
        with self._lock:
            self._active_runs()
        self._sender = threading.Thread(target=self._send_loop, name="kafka-legacy", daemon=True)
        self._sender.start()

    def _send_loop(self) -> None:
        """Look at the broker every LOOK_INTERVAL, and send what is queued as soon as it is queued; at the stop, what
        is still queued goes to librdkafka if the broker answers (``destroy`` flushes it)."""
        next_look = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_look:
                self._look()
                next_look = time.monotonic() + LOOK_INTERVAL
            self._send_waiting()
            self._producer.poll(0)  # delivery reports and log lines: else they pile up until ``destroy`` flushes
            self._wake.wait(max(0.0, next_look - time.monotonic()))
            self._wake.clear()
        self._send_waiting()

    def _look(self) -> None:
        """Whether the broker answers (``error``); topics it lost (it came back empty) are made again."""
        from confluent_kafka import KafkaException

        try:
            lost = self._topics - set(self._admin.list_topics(timeout=PROBE_TIMEOUT).topics)
            self._topics -= lost
            self._make(lost)
        except UnreachableError as exc:
            self._unreachable(exc.message)
        except KafkaException as exc:
            self._unreachable(f"Kafka at {self.endpoint} does not answer: {exc.args[0].str()}")
        else:
            if self.error and self._looked:
                log.info("kafka: Kafka at %s answers again", self.endpoint)
            self.error = ""
            self._looked = True

    def _unreachable(self, problem: str) -> None:
        """``error``; a change is one log line."""
        if not self.error or not self._looked:
            log.warning("kafka: %s; looking again every %gs", problem, LOOK_INTERVAL)
        self.error = problem
        self._looked = True

    def _make(self, topics: Iterable[str]) -> None:
        self._topics |= create_topics(self._admin, topics, self.endpoint)

    def _send_waiting(self) -> None:
        """Hand the queue to librdkafka in order. A new topic is made first, only while the broker answers (making
        one waits for it); until then that message and those after it wait."""
        while self._waiting:
            head = self._waiting[0]
            topic, key, value = head
            if topic not in self._topics:
                if self.error:
                    return
                try:
                    self._make([topic])
                except UnreachableError as exc:
                    self._unreachable(exc.message)
                    return
            try:
                self._producer.produce(topic, value=value, key=key)
            except BufferError:  # librdkafka's queue is full: try again at the next look
                return
            with self._lock:
                if self._waiting and self._waiting[0] is head:  # not dropped meanwhile from a full queue
                    self._waiting.popleft()
                self._dropping = self._dropping and bool(self._waiting)

    def _delivered(self, error: Any, message: Any) -> None:
        from confluent_kafka import KafkaError

        # a message purged by ``destroy`` is in its count already
        if error is not None and error.code() not in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
            log.warning("kafka: a message to %s was not delivered: %s", message.topic(), error.str())

    def destroy(self) -> None:
        """Stop the thread (it hands librdkafka what is queued) and give librdkafka 2 s to deliver; what is still
        waiting then is dropped (and said)."""
        self._stop.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(PROBE_TIMEOUT)
        if self._producer is not None:
            left = self._producer.flush(2.0) + len(self._waiting)
            if left:
                log.warning("kafka: %d message(s) for Kafka at %s not delivered at the stop", left, self.endpoint)
            self._producer.purge()  # nothing left for librdkafka to wait on at the exit
            self._producer.flush(0)

    def connection_state(self) -> str:
        if self._producer is None:
            return "IDLE"
        return "TRANSIENT_FAILURE" if self.error else "READY"

    def data(self) -> dict[str, str]:
        return {
            "endpoint": self.endpoint or "(none: setting kafkaEndpoint)",
            "activeRuns": str(len(self._running)),
            "waiting": str(len(self._waiting)),
            "dropped": str(self.dropped),
            "error": self.error,
        }

    def call_stack(self, call: Any) -> KafkaCalls:
        return KafkaCalls(self, call)

    def env_info(self, stack: Mapping[str, str]) -> kafka_pb2.EnvInfo | str:
        """The environment as a call's variables describe it, or why no message can be sent."""
        if self._producer is None:
            return "Kafka is off (setting enableKafka)" if self._turned_off() else "no broker (setting kafkaEndpoint)"
        trigger = stack.get("__call_trigger", "")
        state = state_of(trigger)
        try:
            detectors = json.loads(stack.get("detectors", ""))
            entered = int(stack.get("enter_state_time_ms", ""))
        except ValueError:
            return "the variables detectors and enter_state_time_ms are required"
        info = kafka_pb2.EnvInfo(
            environmentId=stack.get("environment_id", ""),
            state=state,
            detectors=[str(d) for d in detectors],
            enterStateTimestamp=entered,
        )
        if state == "RUNNING" or "START_ACTIVITY" in trigger:
            if stack.get("run_number", "").isdigit():
                info.runNumber = int(stack["run_number"])
            if stack.get("run_type"):
                info.runType = stack["run_type"]
        return info

    def _turned_off(self) -> bool:
        return str(self.settings.get("enableKafka", True)).lower() == "false"

    def notify(self, topic: str, info: kafka_pb2.EnvInfo, leaving: bool | None) -> None:
        """Queue the state notification; entering or leaving RUNNING also queues the active-runs list."""
        with self._lock:
            self._queue(topic, info.environmentId, kafka_pb2.NewStateNotification(envInfo=info, timestamp=now_ms()))
            if info.state != "RUNNING" or leaving is None:
                return
            if leaving:
                self._running.pop(info.environmentId, None)
            else:
                self._running[info.environmentId] = info
            self._active_runs()

    def _active_runs(self) -> None:
        """Queue the list of active runs (with ``_lock`` held)."""
        runs = sort_running(list(self._running.values()))
        self._queue(ACTIVE_RUNS_TOPIC, "", kafka_pb2.ActiveRunsList(activeRuns=runs, timestamp=now_ms()))

    def _queue(self, topic: str, key: str, message: Any) -> None:
        """For the sender thread; past MAX_WAITING the oldest goes (a warning the first time in an outage)."""
        if len(self._waiting) >= MAX_WAITING:
            self._waiting.popleft()
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                log.warning("kafka: %d messages wait for Kafka at %s: dropping the oldest", MAX_WAITING, self.endpoint)
        self._waiting.append((topic, key.encode() if key else None, message.SerializeToString()))
        self._wake.set()


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [KafkaPlugin]
