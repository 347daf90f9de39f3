"""While a transition waits for its tasks' replies, what the tasks report is applied in batches (issue 19): each
change is still published soon, long before the transition ends, and in the order the tasks reported it."""

from __future__ import annotations

import asyncio
from typing import Any

from ecs_engine.environment import environment as environment_module
from ecs_engine.environment.environment import TASK_CHANGES_BATCH
from tests.waiting import eventually_async

#: how long the tasks take to reply to START in these tests: far longer than a batch
REPLY_DELAY = 2.0


async def start_under_way(h: Any, small: Any) -> tuple[Any, Any, asyncio.Future]:
    """The ``small`` environment, its ``spare`` task (not critical: its reply to START fails, and that is all) and
    its START, under way while the tasks take ``REPLY_DELAY`` to reply."""
    env = await h.manager.create(small, "small")
    h.driver.delay("START", REPLY_DELAY)
    start = asyncio.ensure_future(h.manager.control(env.id, "START_ACTIVITY"))
    await eventually_async(lambda: env.busy is not None, what="START under way")
    return env, env.tasks_by_role["small.spare"], start


async def test_a_task_change_during_a_transition_is_published_before_the_transition_ends(small, harness_factory):
    async with harness_factory() as h:
        env, spare, start = await start_under_way(h, small)
        published = asyncio.Event()
        h.manager.bus.subscribe(
            lambda e: e.taskEvent.state == "RUNNING" and published.set(), environment_id=env.id, kinds=["taskEvent"]
        )
        h.driver.set_state(spare, "RUNNING")  # the device says so before its reply
        await asyncio.wait_for(published.wait(), REPLY_DELAY / 2)
        assert not start.done()
        await start
        assert TASK_CHANGES_BATCH < REPLY_DELAY / 10


async def test_another_kind_of_task_event_applies_the_waiting_changes_first(small, harness_factory):
    async with harness_factory() as h:
        _, spare, start = await start_under_way(h, small)
        h.driver.set_state(spare, "ERROR")
        assert spare.state == "CONFIGURED"  # waiting for its batch
        h.driver.end_of_stream(spare)
        assert spare.state == "ERROR"  # applied before the end of stream was
        await start


async def test_a_full_batch_is_applied_at_once(small, harness_factory, monkeypatch):
    """A burst of replies leaves at most one batch's worth of changes to apply after the last reply."""
    monkeypatch.setattr(environment_module, "TASK_CHANGES_AT_MOST", 2)
    async with harness_factory() as h:
        env, spare, start = await start_under_way(h, small)
        states: list[str] = []
        h.manager.bus.subscribe(lambda e: states.append(e.taskEvent.state), environment_id=env.id, kinds=["taskEvent"])
        h.driver.set_state(spare, "RUNNING")
        assert spare.state == "CONFIGURED"  # one change waits for its batch
        h.driver.set_state(spare, "ERROR")
        assert spare.state == "ERROR"  # the second fills the batch: both applied now, in order, with no timer
        await eventually_async(lambda: states[:2] == ["RUNNING", "ERROR"], what="both changes published in order")
        await start
