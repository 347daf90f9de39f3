"""Transitions belong to the engine: a caller that goes away does not cut them short; destroy --force does.

And ERROR/RECOVER keep their promise: no transition ends CONFIGURED or RUNNING while a critical task is dead,
and RECOVER relaunches the dead critical tasks (or refuses, naming them, when it cannot).
"""

from __future__ import annotations

import asyncio

import pytest

from ecs_engine.environment import TransitionError
from ecs_engine.errors import RefusedError
from tests.waiting import eventually_async


async def test_a_caller_cancelled_mid_start_leaves_the_start_running_to_its_end(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        h.driver.delay("START", 0.3)
        caller = asyncio.ensure_future(h.manager.control(env.id, "START_ACTIVITY"))
        await eventually_async(lambda: env.current_run != 0, what="START to allocate its run")
        run = env.current_run
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await eventually_async(lambda: env.busy is None, what="START to end")
        assert (env.state, env.current_run) == ("RUNNING", run)
        assert env.last_transition is not None and env.last_transition[:2] == ("START_ACTIVITY", "")


async def test_a_caller_cancelled_mid_create_leaves_a_configured_environment(small, harness_factory):
    async with harness_factory() as h:
        h.driver.delay("CONFIGURE", 0.3)
        admitted = []
        caller = asyncio.ensure_future(h.manager.create(small, "small", on_admitted=admitted.append))
        await eventually_async(lambda: bool(admitted), what="the environment to exist")
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        (env,) = admitted
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="create to end")
        assert h.manager.get(env.id) is env


async def start_held(h, small):
    """An environment whose START has its run number and waits (30 s) for its tasks; the START's own task."""
    env = await h.manager.create(small, "small")
    h.driver.delay("START", 30)
    start = asyncio.ensure_future(h.manager.control(env.id, "START_ACTIVITY"))
    await eventually_async(lambda: env.busy is not None and env.current_run != 0, what="START to begin")
    return env, start


async def test_destroy_with_force_cancels_a_running_transition_and_tears_down(small, harness_factory):
    async with harness_factory() as h:
        env, start = await start_held(h, small)
        report = await asyncio.wait_for(h.manager.destroy(env.id, force=True), 5)
        assert report.killed and not h.driver.tasks  # every task of the environment is gone
        assert any("transition START_ACTIVITY cancelled" in w for w in report.warnings)
        with pytest.raises(RefusedError, match=r"START_ACTIVITY of \S+ was cancelled: the environment was destroyed"):
            await start
        assert env.id not in h.manager.environments


async def test_no_transition_ends_configured_while_a_critical_task_is_dead(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "RESET")
        dead = env.tasks_by_role["small.host-flp001.worker"]
        h.driver.lose(dead)
        await eventually_async(lambda: dead.status == "INACTIVE", what="the loss seen")
        with pytest.raises(TransitionError, match=rf"CONFIGURE failed: critical tasks are dead: {dead.name} "):
            await h.manager.control(env.id, "CONFIGURE")
        assert env.state == "ERROR"
        assert env.last_transition is not None and env.last_transition[0] == "CONFIGURE"


async def test_recover_relaunches_a_dead_critical_task_and_the_next_run_has_every_task(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        dead = env.tasks_by_role["small.host-flp001.worker"]
        h.driver.lose(dead)
        await eventually_async(lambda: env.state == "ERROR" and env.busy is None, what="ERROR after the loss")
        await h.manager.control(env.id, "RECOVER")
        assert env.state == "DEPLOYED"
        fresh = env.tasks_by_role["small.host-flp001.worker"]
        assert fresh.id != dead.id and dead.id not in env.tasks and fresh.id in h.driver.tasks
        assert all(t.status == "ACTIVE" and t.state == "STANDBY" for t in env.controlled_tasks())
        await h.manager.control(env.id, "CONFIGURE")
        await h.manager.control(env.id, "START_ACTIVITY")
        assert env.state == "RUNNING"
        assert all(t.status == "ACTIVE" and t.state == "RUNNING" for t in env.controlled_tasks())
        assert not env.dead_critical_tasks()


async def test_recover_is_refused_naming_the_dead_task_when_its_templates_are_not_loaded(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        dead = env.tasks_by_role["small.host-flp001.worker"]
        h.driver.lose(dead)
        await eventually_async(lambda: env.state == "ERROR" and env.busy is None, what="ERROR after the loss")
        env.workflow = None  # as after a core restart: the role tree is stored, the templates are not
        with pytest.raises(RefusedError, match=rf"cannot RECOVER: critical tasks are dead \({dead.name} "):
            await h.manager.control(env.id, "RECOVER")
        assert env.state == "ERROR"


async def test_the_core_s_stop_cancels_a_start_and_commits_its_run_s_end_as_cut_short(small, harness_factory):
    async with harness_factory() as h:
        env, start = await start_held(h, small)
        await asyncio.wait_for(h.manager.end_runs(), 5)
        assert env.busy is None and env.current_transition == "START_ACTIVITY"  # what the restart ends
        assert env.root.user_vars["run_end_time_ms"].isdigit()
        assert env.last_transition is not None and env.last_transition[:2] == (
            "START_ACTIVITY",
            "cancelled: the core stops",
        )
        with pytest.raises(RefusedError):
            await start


async def test_after_the_core_s_stop_during_a_start_the_next_core_fails_it_and_ends_its_run(small, harness_factory):
    async with harness_factory() as h:
        env, start = await start_held(h, small)
        run = env.current_run
        await asyncio.wait_for(h.manager.end_runs(), 5)
        with pytest.raises(RefusedError):
            await start
        await h.manager.close()
        h.driver.delay("START", 0)
        h.manager = h.new_manager()  # the next core, on the same store (the tasks still answer)
        await h.manager.start()
        reloaded = h.manager.get(env.id)
        assert (reloaded.state, reloaded.current_run, reloaded.last_run) == ("ERROR", 0, run)
        assert reloaded.last_transition[:2] == (
            "START_ACTIVITY",
            f"the core stopped during START_ACTIVITY of run {run}",
        )
