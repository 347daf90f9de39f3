"""The ``lhc`` integration (AliECS ``core/integration/lhc``, integrations.md §1.8): the LHC beam mode.

The plugin follows the beam mode from a source and keeps the last one. ``lhc.UpdateFillInfo()`` copies it into
the environment's ``fill_info_*`` variables (which START and STOP push to the tasks). Each change it reads is
published as an ``events.Event`` with ``beamModeEvent`` on the core's bus (kept in the journal, never sent back
to Kafka): the ``beam-dump`` watchdog (``ecs_engine.environment.watchdogs``) stops the runs that asked for it.
What the source holds when the core starts is taken as the state without being published (upstream's replay).
A source that stops answering (a broker gone, or back empty without the topic) is shown as the plugin's error and
followed again once it answers; a beam mode that differs from the last one known is then a change.

The source is the setting ``lhcEndpoint``:

- ``kafka://HOST:PORT[,HOST:PORT]`` or ``HOST:PORT``: the topic ``dip.lhc.beam_mode`` (BKP-LHC-Client's
  ``events.Event`` values, key = fill number); unset, the brokers of ``kafkaEndpoints`` (upstream's setting);
- ``runtime://COMPONENT/KEY``: a runtime entry of the configuration store (``coconut config runtime set lhc
  beam_mode BEAM_DUMP``), polled; it holds a beam mode name or a JSON ``common.BeamInfo``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format

from ecs_backends.events.kafka import client_config, create_topics
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.environment.runvars import FILL_INFO_KEYS
from ecs_engine.errors import UsageError
from ecs_engine.events.model import now_ms
from ecs_engine.hookspecs import MockServiceDescription, hookimpl
from ecs_engine.protocols import common_pb2, events_pb2

log = logging.getLogger(__name__)

TOPIC = "dip.lhc.beam_mode"
CONSUMER_GROUP = "o2-aliecs-core.lhc"
#: how long the start waits for the last message of each partition
REPLAY_TIMEOUT = 5.0
#: how often a runtime entry is read, and how long a Kafka poll waits
POLL_INTERVAL = 0.2
#: how often a source that could not be reached is tried again
RETRY_INTERVAL = 2.0
#: how often (and within how long) the Kafka reader asks the broker whether the topic is still there
PROBE_INTERVAL = 1.0
BEAM_MODE_KEY = "fill_info_beam_mode"

OnBeam = Callable[[common_pb2.BeamInfo], None]
#: the source stopped answering (the text says why): the reader has ended
OnLost = Callable[[str], None]


def beam_info(text: str, where: str) -> common_pb2.BeamInfo:
    """A beam mode name (``BEAM_DUMP``) or a JSON ``common.BeamInfo`` as a message; UsageError naming ``where``."""
    text = text.strip()
    try:
        if text.startswith("{"):
            return json_format.Parse(text, common_pb2.BeamInfo())
        return common_pb2.BeamInfo(beamMode=common_pb2.BeamMode.Value(text))
    except (ValueError, json_format.ParseError) as exc:
        raise UsageError(f"{where}: {text!r} is neither a beam mode name nor a JSON BeamInfo ({exc})") from None


class KafkaBeamSource:
    """``dip.lhc.beam_mode`` from its last message on (every partition, as upstream reads the newest)."""

    def __init__(self, endpoints: list[str]):
        self.endpoints = endpoints

    def describe(self) -> str:
        return f"kafka://{','.join(self.endpoints)} topic {TOPIC}"

    def start(self, replayed: OnBeam, changed: OnBeam, lost: OnLost, stop: threading.Event) -> threading.Thread:
        """Read each partition from its last message to its end (the newest of those goes to ``replayed``), then
        follow new messages in a thread (``changed``), asking every ``PROBE_INTERVAL`` whether the broker still
        has the topic's partitions: when it does not answer or lost them (``lost``), the thread ends.

        The end is the partition's end-of-file event, not the high watermark: a broker may report the watermark
        of its last batch's first message (Tansu does), and the messages of that batch are then all replayed.
        """
        from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
        from confluent_kafka.admin import AdminClient

        config = client_config(self.endpoints)
        create_topics(AdminClient(config), [TOPIC], ",".join(self.endpoints))  # so the consumer can assign it
        consumer = Consumer(
            {
                **config,
                "group.id": CONSUMER_GROUP,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 10,
            }
        )
        partitions = consumer.list_topics(TOPIC, timeout=REPLAY_TIMEOUT).topics[TOPIC].partitions
        assignment = []
        for partition in sorted(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, partition), timeout=REPLAY_TIMEOUT)
            assignment.append(TopicPartition(TOPIC, partition, max(low, high - 1)))
        consumer.assign(assignment)
        starts = {tp.partition: tp.offset for tp in assignment}

        def beam_of(message: Any) -> events_pb2.Event | None:
            """The message's event, None for an error, end of file, a message before the start or not a beam mode."""
            if message is None or message.error() or message.offset() < starts.get(message.partition(), 0):
                return None  # (a broker may answer with the whole batch holding the start)
            try:
                event = events_pb2.Event.FromString(message.value())
            except Exception:
                log.warning("lhc: a message of %s is not an events.Event: ignored", TOPIC)
                return None
            if event.WhichOneof("Payload") != "beamModeEvent":
                log.warning("lhc: a message of %s holds no beamModeEvent: ignored", TOPIC)
                return None
            return event

        newest: events_pb2.Event | None = None
        at_end: set[int] = set()
        deadline = time.monotonic() + REPLAY_TIMEOUT
        while len(at_end) < len(assignment) and time.monotonic() < deadline:
            message = consumer.poll(POLL_INTERVAL)
            error = message.error() if message is not None else None
            if message is not None and error is not None and error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition() or 0)
            event = beam_of(message)
            if event is not None and (newest is None or event.timestamp >= newest.timestamp):
                newest = event
        if newest is not None:
            replayed(newest.beamModeEvent.beamInfo)

        def missing() -> str:
            """Why the assigned partitions cannot be read any more, "" while they can."""
            try:
                topic = consumer.list_topics(TOPIC, timeout=PROBE_INTERVAL).topics.get(TOPIC)
            except KafkaException as exc:
                return f"the broker does not answer ({exc.args[0].str() if exc.args else exc})"
            if topic is None or topic.error is not None or len(topic.partitions) < len(assignment):
                return f"the broker lost topic {TOPIC} (restarted empty?)"
            return ""

        def read() -> None:
            probed = time.monotonic()
            try:
                while not stop.is_set():
                    event = beam_of(consumer.poll(POLL_INTERVAL))
                    if event is not None:
                        changed(event.beamModeEvent.beamInfo)
                    if time.monotonic() - probed >= PROBE_INTERVAL:
                        problem = missing()
                        if problem:
                            lost(problem)
                            return
                        probed = time.monotonic()
            finally:
                consumer.close()

        thread = threading.Thread(target=read, name="lhc-kafka", daemon=True)
        thread.start()
        return thread


class RuntimeBeamSource:
    """A runtime entry of the configuration store, read every ``POLL_INTERVAL``; a change is a new beam mode."""

    def __init__(self, config: Any, component: str, key: str):
        self.config = config
        self.component = component
        self.key = key

    def describe(self) -> str:
        return f"runtime://{self.component}/{self.key}"

    def start(self, replayed: OnBeam, changed: OnBeam, lost: OnLost, stop: threading.Event) -> threading.Thread:
        """Read the entry now (``replayed``), then in a thread each change (``changed``) until the store fails
        (``lost``: the thread ends); a value that is no beam mode is logged and skipped."""
        where = f"runtime entry {self.component}/{self.key}"
        last = self.config.runtime_get(self.component, self.key)
        if last is not None:
            replayed(beam_info(last, where))

        def read() -> None:
            nonlocal last
            while not stop.wait(POLL_INTERVAL):
                try:
                    text = self.config.runtime_get(self.component, self.key)
                except Exception as exc:
                    lost(str(getattr(exc, "message", exc)))
                    return
                if text is not None and text != last:
                    last = text
                    try:
                        changed(beam_info(text, where))
                    except UsageError as exc:
                        log.warning("lhc: %s", exc.message)

        thread = threading.Thread(target=read, name="lhc-runtime", daemon=True)
        thread.start()
        return thread


class LhcCalls:
    """The functions of one call."""

    def __init__(self, plugin: LhcPlugin, call: Any):
        self._plugin = plugin
        self._call = call

    def UpdateFillInfo(self) -> str:
        """Set the environment's ``fill_info_*`` from the last beam mode (never fails, as upstream)."""
        role = self._call.role
        root = role.root()
        fill_info(root.user_vars, self._plugin.beam())
        return ""


def fill_info(variables: dict[str, str], beam: common_pb2.BeamInfo | None) -> None:
    """Upstream's ``UpdateFillInfo`` on ``variables``: the beam mode always; with no beam (or none known) the
    rest removed; otherwise the fill number, scheme and beam type, and the stable-beams times if set."""
    mode = beam.beamMode if beam is not None else common_pb2.UNKNOWN
    variables[BEAM_MODE_KEY] = common_pb2.BeamMode.Name(mode)
    number, scheme, beam_type, start, end = FILL_INFO_KEYS
    if beam is None or mode in (common_pb2.NO_BEAM, common_pb2.UNKNOWN):
        for key in FILL_INFO_KEYS:
            variables.pop(key, None)
        return
    variables.update({number: str(beam.fillNumber), scheme: beam.fillingSchemeName, beam_type: beam.beamType})
    for key, ms in ((start, beam.stableBeamsStart), (end, beam.stableBeamsEnd)):
        if ms > 0:
            variables[key] = str(ms)
        else:
            variables.pop(key, None)


class LhcPlugin(IntegrationPlugin):
    name = "lhc"
    pretty_name = "LHC beam mode"
    endpoint_setting = "lhcEndpoint"
    enabled_by_default = False  # as upstream: only where integrationPlugins names it

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint)
        self._lock = threading.Lock()
        self._beam: common_pb2.BeamInfo | None = None
        self._changed_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.source: KafkaBeamSource | RuntimeBeamSource | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: why the source cannot be followed now ("" while it is)
        self.error = ""

    def _source(self) -> KafkaBeamSource | RuntimeBeamSource | None:
        text = self.endpoint.strip()
        if text.startswith("runtime://"):
            component, _, key = text.removeprefix("runtime://").partition("/")
            if not component or not key:
                raise UsageError(f"setting lhcEndpoint '{text}': expected runtime://COMPONENT/KEY")
            if self.config is None:
                raise UsageError("setting lhcEndpoint: a runtime:// source needs the core's configuration store")
            return RuntimeBeamSource(self.config, component, key)
        brokers: Any = text.removeprefix("kafka://") if text else self.settings.get("kafkaEndpoints") or ""
        endpoints = brokers.split(",") if isinstance(brokers, str) else [str(b) for b in brokers]
        endpoints = [e.strip() for e in endpoints if e.strip()]
        return KafkaBeamSource(endpoints) if endpoints else None

    def init(self, framework_id: str) -> None:
        """Read the source's current beam mode (not published), then follow it in a thread of its own."""
        self.source = self._source()
        if self.source is None:
            log.info("lhc: no beam mode source (settings lhcEndpoint, kafkaEndpoints)")
            return
        source = self.source
        try:
            self._thread = source.start(self._set, self._changed, self._lost, self._stop)
        except Exception as exc:  # the broker or the store is down: keep trying, as upstream's reader does
            self._lost(getattr(exc, "message", str(exc)), replayed=self._set)

    def _lost(self, problem: str, replayed: OnBeam | None = None) -> None:
        """The source cannot be followed (``problem``): shown by the status, tried again every RETRY_INTERVAL.

        What it holds once it answers again is taken without acting (``replayed``) at the core's start, and is a
        change if it differs from the last beam mode known when the source was lost while followed."""
        self.error = problem
        source = self.source
        assert source is not None
        log.warning("lhc: cannot follow %s (%s): retrying every %gs", source.describe(), problem, RETRY_INTERVAL)
        again = replayed or self._recovered
        threading.Thread(target=self._retry, args=(source, again), name="lhc-retry", daemon=True).start()

    def _retry(self, source: KafkaBeamSource | RuntimeBeamSource, replayed: OnBeam) -> None:
        while not self._stop.wait(RETRY_INTERVAL):
            try:
                self._thread = source.start(replayed, self._changed, self._lost, self._stop)
            except Exception as exc:
                self.error = getattr(exc, "message", str(exc))
                continue
            self.error = ""
            log.info("lhc: following %s", source.describe())
            return

    def _recovered(self, beam: common_pb2.BeamInfo) -> None:
        if beam != self.beam():
            self._changed(beam)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _set(self, beam: common_pb2.BeamInfo) -> None:
        with self._lock:
            self._beam = beam
            self._changed_ms = now_ms()

    def _changed(self, beam: common_pb2.BeamInfo) -> None:
        self._set(beam)
        log.info("lhc: beam mode %s (fill %d)", common_pb2.BeamMode.Name(beam.beamMode), beam.fillNumber)
        stamp = now_ms()
        event = events_pb2.Event(
            timestamp=stamp,
            timestampNano=stamp * 1_000_000,
            beamModeEvent=events_pb2.Ev_BeamModeEvent(timestamp=stamp, beamInfo=beam),
        )
        if self._loop is not None:  # the core's events are published on its loop
            self._loop.call_soon_threadsafe(self.publish, event)
        else:
            self.publish(event)

    def beam(self) -> common_pb2.BeamInfo | None:
        """The last beam information read, None before the first."""
        with self._lock:
            return self._beam

    def destroy(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def connection_state(self) -> str:
        if self.error:
            return "TRANSIENT_FAILURE"
        return "READY" if self._thread is not None and self._thread.is_alive() else "IDLE"

    def data(self) -> dict[str, str]:
        beam = self.beam()
        return {
            "source": self.source.describe() if self.source is not None else "(none: setting lhcEndpoint)",
            "error": self.error,
            "beamMode": common_pb2.BeamMode.Name(beam.beamMode) if beam is not None else "UNKNOWN",
            "fillNumber": str(beam.fillNumber) if beam is not None else "",
            "since": str(self._changed_ms or ""),
            "beamInfo": json.dumps(json_format.MessageToDict(beam)) if beam is not None else "{}",
        }

    def call_stack(self, call: Any) -> LhcCalls:
        return LhcCalls(self, call)


@hookimpl
def ecs_integration_plugins() -> list[type[IntegrationPlugin]]:
    return [LhcPlugin]


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.lhc import MOCK

    return [MOCK]
