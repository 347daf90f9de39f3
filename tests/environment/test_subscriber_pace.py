"""A subscriber keeps pace with the engine: the bus lets streams that fell behind send before a transition.

The engine and the gRPC streams share one event loop; a gRPC stream sends one event per turn or two of it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from ecs_engine.events import EventBus, bus, model
from tests.environment.conftest import source_of

#: ten tasks, no hosts: about 30 events a transition
PACE = """
name: pace
defaults:
  workers: '["0","1","2","3","4","5","6","7","8","9"]'
roles:
  - name: w{{ it }}
    for:
      range: "{{ workers }}"
      var: it
    task:
      load: worker
"""


@pytest.fixture
def pace(small_repo):
    small_repo.workflow("pace", PACE)
    return source_of(small_repo)


async def test_a_subscriber_sending_as_grpc_does_keeps_up_with_transitions_back_to_back(pace, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(pace, "pace")
        stream = h.manager.bus.stream(environment_id=env.id)
        published = []
        h.manager.bus.subscribe(published.append, environment_id=env.id)

        async def send() -> None:  # as a gRPC stream writes: each event takes turns of the loop
            async for _ in stream:
                for _turn in range(3):
                    await asyncio.sleep(0)

        sender = asyncio.ensure_future(send())
        sizes, lags = [], []
        for _ in range(10):
            for event in ("RESET", "CONFIGURE", "START_ACTIVITY", "STOP_ACTIVITY"):
                before = len(published)
                await h.manager.control(env.id, event)
                sizes.append(len(published) - before)
                lags.append(stream.backlog())
        # behind by at most one transition and the backlog allowed: not a lag growing with every transition
        assert max(lags) <= max(sizes) + bus.CATCH_UP_BACKLOG, (lags, sizes)
        stream.close()
        await sender


async def test_a_stream_nobody_reads_holds_no_transition(monkeypatch):
    monkeypatch.setattr(bus, "CATCH_UP_LIMIT", 10.0)
    events = EventBus()
    stream = events.stream()
    for i in range(5 * bus.CATCH_UP_BACKLOG):
        events.publish(model.task_event("env", name="t", task_id=str(i), state="RUNNING", status="ACTIVE"))
    started = time.monotonic()
    await events.catch_up()  # the client stopped reading: given up after CATCH_UP_STALL, not the limit
    assert time.monotonic() - started < 2.0
    assert stream.backlog() == 5 * bus.CATCH_UP_BACKLOG
