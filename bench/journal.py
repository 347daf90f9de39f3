"""The journal: how soon a Subscribe client sees a state change, and how fast events are written.

1. State change -> Subscribe client latency: the engine with the in-process task driver (an environment of
   TASKS tasks, events journalled in SQLite as in production) behind the core's real ``Subscribe`` RPC on
   127.0.0.1; a gRPC client in a process of its own subscribes to the environment. CONFIGURE/START/STOP/RESET
   cycles, first with PAUSE seconds between transitions, then back to back; for each event, its arrival
   time minus its timestamp (ms resolution). p50/p95 of transition-completed events (target p95 < 100 ms)
   and of all events; and what a subscriber costs the engine: the mean time of a transition back to back
   with and without one (the engine lets a subscriber that fell behind send first: ``EventBus.catch_up``).
2. Journal write throughput: EVENTS task events written and committed, as the bus hands them over.
Usage: python bench/journal.py [TASKS]   (default 100)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
from engine import write_repository  # bench/engine.py: the same 100-task workflow

from ecs_engine.config import Configuration
from ecs_engine.environment import EnvironmentManager, InProcessDriver
from ecs_engine.events import model
from ecs_engine.events.journal import EventJournal
from ecs_engine.plugins import plugin_manager
from ecs_engine.protocols import events_pb2
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc
from ecs_engine.server.service import ControlService
from ecs_engine.template.sources import DirectorySource

TARGET_P95_MS = 100.0
CYCLES = 20
PAUSE = 0.2  # seconds between transitions in the first measurement; the second has none
CYCLE = ("CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY", "RESET")
EVENTS = 100_000


def subscribe_latencies(endpoint: str, environment_id: str, transitions: int, ready, results) -> None:
    """In a process of its own, as a real client, until ``transitions`` have completed: arrival minus event
    timestamp, in ms."""
    state_changes: list[float] = []
    every: list[float] = []
    with grpc.insecure_channel(endpoint) as channel:
        call = pb_grpc.ControlStub(channel).Subscribe(pb.SubscribeRequest(environmentId=environment_id))
        call.initial_metadata()
        ready.set()
        for event in call:
            arrived = time.time_ns() / 1e6
            every.append(arrived - event.timestamp)
            env = event.environmentEvent
            if (
                event.HasField("environmentEvent")
                and env.transitionStatus == events_pb2.DONE_OK
                and not env.transitionStep
            ):
                state_changes.append(arrived - event.timestamp)
            if len(state_changes) == transitions:
                break
    results.put((state_changes, every))


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms (n={len(values)})"


async def latencies(manager: EnvironmentManager, environment_id: str, endpoint: str, pause: float):
    ready, results = multiprocessing.Event(), multiprocessing.Queue()
    transitions = CYCLES * len(CYCLE)
    client = multiprocessing.Process(
        target=subscribe_latencies, args=(endpoint, environment_id, transitions, ready, results)
    )
    client.start()
    await asyncio.to_thread(ready.wait, 10)
    started = time.perf_counter()
    for _ in range(CYCLES):
        for event in CYCLE:
            await manager.control(environment_id, event)
            await asyncio.sleep(pause)
    elapsed = time.perf_counter() - started
    measured = await asyncio.to_thread(results.get, True, 60)
    client.join()
    return (*measured, elapsed / transitions - pause)


async def transition_time(manager: EnvironmentManager, environment_id: str) -> float:
    """Seconds a transition takes back to back with nobody subscribed."""
    started = time.perf_counter()
    for _ in range(CYCLES):
        for event in CYCLE:
            await manager.control(environment_id, event)
    return (time.perf_counter() - started) / (CYCLES * len(CYCLE))


def journal_throughput(root: Path) -> None:
    journal = EventJournal(root / "throughput.sqlite")
    events = [
        model.task_event("bench", name="t", task_id=f"t{i}", state="RUNNING", status="ACTIVE") for i in range(EVENTS)
    ]
    started = time.perf_counter()
    for event in events:
        journal.write(event)
    journal.flush()
    elapsed = time.perf_counter() - started
    journal.close()
    print(f"journal write throughput: {EVENTS} task events numbered, written and committed in {elapsed:.2f} s")
    print(f"  {EVENTS / elapsed:,.0f} events/s")


async def main(tasks: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_repository(root, plain=(tasks, 0))
        manager = EnvironmentManager(
            config=Configuration.from_tree({"o2": {}}),
            controller=InProcessDriver(),
            plugins=plugin_manager(),
            data_dir=root / "data",
        )
        await manager.start()
        server = grpc.aio.server()
        pb_grpc.add_ControlServicer_to_server(ControlService(SimpleNamespace(manager=manager)), server)  # type: ignore[arg-type]
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            env = await manager.create(DirectorySource(root), "plain")
            await manager.control(env.id, "RESET")
            for pause, label in ((PAUSE, f"{PAUSE:g} s between transitions"), (0.0, "back to back")):
                state_changes, every, each = await latencies(manager, env.id, f"127.0.0.1:{port}", pause)
                print(
                    f"state change -> Subscribe client, {tasks} tasks, {CYCLES} cycles of {'/'.join(CYCLE)}, {label}:"
                )
                p95 = statistics.quantiles(state_changes, n=100)[94]
                print(
                    f"  transition completed: {percentiles(state_changes)}; ratio to target {p95 / TARGET_P95_MS:.2f}"
                )
                print(f"  every environment and task event: {percentiles(every)}")
                print(f"  a transition took {each * 1000:.1f} ms on average")
            alone = await transition_time(manager, env.id)
            print(f"back to back without a subscriber, a transition took {alone * 1000:.1f} ms on average")
            await manager.destroy(env.id)
        finally:
            await server.stop(1)
            await manager.close()
        journal_throughput(root)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
