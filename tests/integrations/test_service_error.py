"""A service reporting an environment's part in ERROR (an ODC partition) while it runs: STOP, then ERROR."""

from __future__ import annotations

from ecs_engine.environment import HookResult
from ecs_engine.events import model
from ecs_engine.fsm import State
from tests.environment.conftest import source_of
from tests.environment.workflows import RESTARTING, SMALL
from tests.waiting import eventually_async


async def test_a_running_environment_stops_then_goes_to_error(small_repo, harness_factory):
    small_repo.workflow("small", SMALL)
    async with harness_factory() as h:
        env = await h.manager.create(source_of(small_repo), "small")
        assert h.manager.service_error(env.id, "ODC partition in ERROR") is False  # not running: nothing to do
        await h.manager.control(env.id, "START_ACTIVITY")
        assert h.manager.service_error(env.id, "ODC partition in ERROR") is True
        await eventually_async(lambda: env.state == State.ERROR and env.busy is None, what="STOP then GO_ERROR")
        transitions = [
            (e.runEvent.transition, e.runEvent.transitionStatus)
            for e in h.manager.journal.events(environment_id=env.id, kinds=["runEvent"])
        ]
        assert ("STOP_ACTIVITY", model.DONE_OK) in transitions  # the run ended before the error
        messages = [e.environmentEvent.message for e in h.manager.journal.events(environment_id=env.id)]
        assert "automatic STOP_ACTIVITY: ODC partition in ERROR" in messages
        assert "automatic GO_ERROR: ODC partition in ERROR" in messages


async def test_a_task_restart_in_progress_delays_the_stop_and_error_rather_than_losing_them(
    small_repo, harness_factory
):
    small_repo.workflow("restarting", RESTARTING)
    async with harness_factory() as h:
        env = await h.manager.create(source_of(small_repo), "restarting")
        await h.manager.control(env.id, "START_ACTIVITY")
        h.driver.delay("deploy", 0.5)
        monitor = next(t for t in env.tasks.values() if t.path == "restarting.monitor")
        h.driver.process_exit(monitor, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await eventually_async(lambda: env.busy is not None and env.busy[0] == "RESTART", what="the restart")
        assert h.manager.service_error(env.id, "ODC partition in ERROR") is True
        await eventually_async(lambda: env.state == State.ERROR and env.busy is None, what="STOP then GO_ERROR")
        messages = [e.environmentEvent.message for e in h.manager.journal.events(environment_id=env.id)]
        assert "automatic STOP_ACTIVITY: ODC partition in ERROR" in messages
