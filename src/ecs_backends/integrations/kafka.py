"""The legacy ``kafka`` integration (AliECS ``core/integration/kafka``, integrations.md §1.9).

Workflow calls publish ``kafka.NewStateNotification`` messages: ``kafka.PublishEnterStateUpdate()`` to
``aliecs.env_state.<STATE>``, ``PublishLeaveStateUpdate()`` to ``aliecs.env_leave_state.<STATE>``,
``PublishStartActivityUpdate()`` to ``aliecs.{before_,after_,}start_activity``; entering or leaving RUNNING
also publishes the ``ActiveRunsList`` of the environments running to ``aliecs.env_list.RUNNING``
(BKP-LHC-Client and the Monitoring's ``aliecs-run-times`` read the first two). The broker is the setting
``kafkaEndpoint``; the key is the environment id. Unlike upstream, topics are created before their first
message (upstream's first message to a new topic is lost), and the plugin's state is the broker's: a thread looks
at it every ``LOOK_INTERVAL`` (a producer alone says nothing while it has nothing to send).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from ecs_backends.events.kafka import PROBE_TIMEOUT, client_config, create_topics
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.errors import UnreachableError
from ecs_engine.events.model import now_ms
from ecs_engine.hookspecs import hookimpl
from ecs_engine.offload import offload
from ecs_engine.protocols import kafka_pb2

log = logging.getLogger(__name__)

ACTIVE_RUNS_TOPIC = "aliecs.env_list.RUNNING"
#: seconds between two looks at the broker (``connection_state``)
LOOK_INTERVAL = 2.0
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
    """The functions of one call; each publishes from the call's variables, in a thread (the broker may block)."""

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
        await offload(self._plugin.notify, topic.format(state=info.state), info, leaving)
        return ""


class KafkaPlugin(IntegrationPlugin):
    name = "kafka"
    pretty_name = "Kafka (legacy state notifications)"
    endpoint_setting = "kafkaEndpoint"

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self._lock = threading.Lock()
        self._running: dict[str, kafka_pb2.EnvInfo] = {}
        self._topics: set[str] = set()
        self._producer: Any = None
        self._admin: Any = None
        self._listed = False  # a list of active runs went out
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: why the broker cannot be reached now ("" while it answers)
        self.error = ""

    def init(self, framework_id: str) -> None:
        """Connect and publish the (empty) list of active runs, as upstream does at start (a broker down: one
        warning, and the list once it answers), then look at the broker every LOOK_INTERVAL; not where the setting
        ``enableKafka`` is false, which turns all Kafka off (upstream's plugin then fails to load)."""
        if not self.endpoint or self._turned_off():
            return
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient

        config = {**client_config([self.endpoint]), "logger": _AtDebug(log, {})}
        self._admin = AdminClient(config)
        self._producer = Producer({**config, "acks": "all", "linger.ms": 1})
        self._look()
        self._watcher = threading.Thread(target=self._watch, name="kafka-legacy", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(LOOK_INTERVAL):
            self._look()
            self._producer.poll(0)  # its log lines: else they pile up until ``destroy`` flushes

    def _look(self) -> None:
        """Whether the broker answers (``error``; a change is logged, one line); the list of active runs if none
        went out yet."""
        from confluent_kafka import KafkaException

        try:
            if self._listed:
                self._admin.list_topics(timeout=PROBE_TIMEOUT)
            else:
                self._active_runs()
        except UnreachableError as exc:
            problem = exc.message
        except KafkaException as exc:
            problem = f"Kafka at {self.endpoint} does not answer: {exc.args[0].str()}"
        else:
            if self.error:
                log.info("kafka: Kafka at %s answers again", self.endpoint)
            self.error = ""
            return
        if not self.error:
            log.warning("kafka: %s; looking again every %gs", problem, LOOK_INTERVAL)
        self.error = problem

    def destroy(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(PROBE_TIMEOUT)
        if self._producer is not None:
            self._producer.flush(2.0)

    def connection_state(self) -> str:
        if self._producer is None:
            return "IDLE"
        return "TRANSIENT_FAILURE" if self.error else "READY"

    def data(self) -> dict[str, str]:
        return {
            "endpoint": self.endpoint or "(none: setting kafkaEndpoint)",
            "activeRuns": str(len(self._running)),
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
        """Publish the state notification; entering or leaving RUNNING also updates the active-runs list."""
        self._send(topic, info.environmentId, kafka_pb2.NewStateNotification(envInfo=info, timestamp=now_ms()))
        if info.state != "RUNNING" or leaving is None:
            return
        with self._lock:
            if leaving:
                self._running.pop(info.environmentId, None)
            else:
                self._running[info.environmentId] = info
        self._active_runs()

    def _active_runs(self) -> None:
        with self._lock:
            runs = sort_running(list(self._running.values()))
        self._send(ACTIVE_RUNS_TOPIC, "", kafka_pb2.ActiveRunsList(activeRuns=runs, timestamp=now_ms()))
        self._listed = True

    def _send(self, topic: str, key: str, message: Any) -> None:
        if topic not in self._topics:
            self._topics |= create_topics(self._admin, [topic], self.endpoint)
        self._producer.produce(topic, value=message.SerializeToString(), key=key.encode() if key else None)
        self._producer.poll(0)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [KafkaPlugin]
