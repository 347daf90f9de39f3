"""Automatic transitions, the ERROR watcher, detector exclusivity and run numbers under concurrency."""

from __future__ import annotations

import asyncio

import pytest

from ecs_engine.config import Configuration
from ecs_engine.environment import EngineSettings, HookResult
from ecs_engine.errors import NotFoundError, RefusedError
from ecs_engine.plugins import backends
from tests.environment.conftest import Harness, source_of
from tests.environment.workflows import RESTARTING, SMALL
from tests.waiting import eventually_async

BASIC = """
name: basic
roles:
  - name: runner
    task:
      load: worker
  - name: job-{{ it }}
    for:
      range: '["a","b"]'
      var: it
    task:
      load: oneshot
"""


@pytest.fixture
def small(small_repo):
    small_repo.workflow("small", SMALL)
    small_repo.workflow("basic", BASIC)
    small_repo.workflow(
        "basic-spare",
        BASIC.replace("name: basic", "name: basic-spare").replace(
            "load: oneshot", "load: oneshot\n      critical: false"
        ),
    )
    return source_of(small_repo)


async def test_auto_stop_stops_the_run_as_the_timer_user(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(
            small, "small", user_vars={"auto_stop_enabled": "true", "auto_stop_timeout": "200ms"}
        )
        await h.manager.control(env.id, "START_ACTIVITY")
        assert env.state == "RUNNING"
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="the auto-stop")
        assert env.last_run == 1
        stop = next(
            e.runEvent
            for e in h.manager.journal.events(environment_id=env.id, kinds=["runEvent"])
            if e.runEvent.transition == "STOP_ACTIVITY"
        )
        assert (stop.lastRequestUser.name, stop.lastRequestUser.externalId) == ("TIMER", 65)


async def test_auto_stop_is_cancelled_by_a_manual_stop(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small", user_vars={"auto_stop_enabled": "true", "auto_stop_timeout": "1h"})
        await h.manager.control(env.id, "START_ACTIVITY")
        timer = env._auto_stop
        assert timer is not None and not timer.cancelled()
        await h.manager.control(env.id, "STOP_ACTIVITY")
        assert timer.cancelled() and env._auto_stop is None


async def test_an_auto_stop_outlives_a_core_restart(small, harness_factory):
    """A core that crashed and came back, its tasks re-attached and the run going on, still stops the run when its
    auto-stop is due: what is left of the duration, not the whole again."""
    harness = harness_factory()
    async with harness as h:
        env = await h.manager.create(small, "small", user_vars={"auto_stop_enabled": "true", "auto_stop_timeout": "1h"})
        await h.manager.control(env.id, "START_ACTIVITY")
        hour_ago = int(env.root.user_vars["run_start_completion_time_ms"]) - 3600_000
        env.root.user_vars["run_start_completion_time_ms"] = str(hour_ago + 300)  # the run is 0.3 s from its end
    manager = harness.new_manager()  # the same tasks, alive, under a new manager on the same data directory
    await manager.start()
    try:
        again = manager.get(env.id)
        assert again.state == "RUNNING"
        await eventually_async(lambda: again.state == "CONFIGURED" and again.busy is None, what="the auto-stop")
        stop = next(
            e.runEvent
            for e in manager.journal.events(environment_id=env.id, kinds=["runEvent"])
            if e.runEvent.transition == "STOP_ACTIVITY"
        )
        assert stop.lastRequestUser.name == "TIMER" and again.last_run == 1
    finally:
        await manager.close()


async def test_an_auto_stop_due_while_a_task_restarts_stops_the_run_after_it(small_repo, harness_factory):
    """The restart holds the environment's slot (RESTART) while it replaces the process: an auto-stop due then
    waits for it, rather than being skipped and the run going on for good."""
    small_repo.workflow("restarting", RESTARTING)
    async with harness_factory() as h:
        env = await h.manager.create(
            source_of(small_repo),
            "restarting",
            user_vars={"auto_stop_enabled": "true", "auto_stop_timeout": "300ms"},
        )
        await h.manager.control(env.id, "START_ACTIVITY")
        h.driver.delay("deploy", 1.0)  # the new process takes longer to come than the run has left
        monitor = next(t for t in env.tasks.values() if t.path == "restarting.monitor")
        h.driver.process_exit(monitor, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await eventually_async(lambda: env.busy is not None and env.busy[0] == "RESTART", what="the restart")
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="the auto-stop")
        assert any(m.startswith("task restarting.monitor restarted") for m in messages(h, env.id))
        assert automatic(h, env.id) == ["automatic STOP_ACTIVITY: auto-stop after 300ms"]


async def test_a_relaunch_whose_catch_up_fails_leaves_no_process_behind(small_repo, harness_factory):
    """A restarted process that cannot be brought to the environment's state (its CONFIGURE times out) is let go
    before the next attempt: once the crash-loop guard gives up, no process of the role runs."""
    small_repo.workflow("restarting", RESTARTING)
    async with harness_factory(settings=EngineSettings(error_watch_delay=0.05, configure_timeout=0.1)) as h:
        env = await h.manager.create(source_of(small_repo), "restarting")
        h.driver.delay("CONFIGURE", 1.0)  # every new process's catch-up runs out of time
        monitor = next(t for t in env.tasks.values() if t.path == "restarting.monitor")
        h.driver.process_exit(monitor, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await eventually_async(lambda: any("stays down" in w for w in env.warnings), what="the crash-loop guard")
        await eventually_async(lambda: env.busy is None, what="the last attempt's end")
        assert [t for t in env.tasks.values() if t.path == "restarting.monitor"] == []
        assert [t for t in h.driver.tasks.values() if t.role.path == "restarting.monitor"] == []


async def test_end_of_stream_stops_the_run(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        task = env.controlled_tasks()[0]
        h.driver.end_of_stream(task)
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after END_OF_STREAM")


async def test_the_run_stops_when_all_basic_tasks_are_done(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "basic")
        await h.manager.control(env.id, "START_ACTIVITY")
        jobs = [t for t in env.controlled_tasks() if t.is_basic]
        assert len(jobs) == 2
        h.driver.basic_exit(jobs[0], HookResult(stdout="done a"))
        done_a = jobs[0].role.user_vars
        await eventually_async(lambda: done_a.get("taskResult.stdout") == "done a", what="the first exit handled")
        await asyncio.create_task(asyncio.sleep(0))  # runs after what the handler spawned has begun (FIFO)
        assert env.state == "RUNNING" and env.busy is None and automatic(h, env.id) == []  # one still working
        h.driver.basic_exit(jobs[1])
        await eventually_async(
            lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after the basic tasks"
        )
        assert automatic(h, env.id) == ["automatic STOP_ACTIVITY: all tasks are done (END_OF_STREAM or finished)"]


async def test_basic_tasks_done_in_one_run_are_not_done_in_the_next(small, harness_factory):
    """Each START starts the basic tasks again: the next run stops when they are done again, not when the first is."""
    async with harness_factory() as h:
        env = await h.manager.create(small, "basic")
        await h.manager.control(env.id, "START_ACTIVITY")
        jobs = [t for t in env.controlled_tasks() if t.is_basic]
        for job in jobs:
            h.driver.basic_exit(job)
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after run 1")
        await h.manager.control(env.id, "START_ACTIVITY")
        h.driver.basic_exit(jobs[0], HookResult(stdout="run 2"))
        await eventually_async(lambda: jobs[0].role.user_vars.get("taskResult.stdout") == "run 2", what="the exit")
        await asyncio.create_task(asyncio.sleep(0))  # runs after what the handler spawned has begun (FIFO)
        assert env.state == "RUNNING" and env.busy is None and len(automatic(h, env.id)) == 1  # the other works on
        h.driver.basic_exit(jobs[1])
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after run 2")
        assert env.last_run == 2


async def test_basic_tasks_done_before_the_start_ends_stop_the_run_after_it(small_repo, harness_factory):
    """Basic tasks that end while the START still goes on (the environment not RUNNING yet, as when the other tasks
    are slow to start) are done: the run stops once the START is over, rather than going on with nothing left."""
    small_repo.workflow(
        "basic-slow-start",
        BASIC.replace("name: basic", "name: basic-slow-start")
        + "  - name: sor\n    call:\n      func: rec.StartOfRun()\n      trigger: before_START_ACTIVITY+10\n",
    )
    async with harness_factory() as h:
        env = await h.manager.create(source_of(small_repo), "basic-slow-start")
        jobs = [t for t in env.controlled_tasks() if t.is_basic]

        async def both_end(call):
            assert env.state == "CONFIGURED" and env.current_transition == "START_ACTIVITY"
            for job in jobs:
                h.driver.basic_exit(job)
            return ""

        h.plugins["rec"].behaviour["StartOfRun"] = both_end
        await h.manager.control(env.id, "START_ACTIVITY")
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after the START")
        assert automatic(h, env.id) == ["automatic STOP_ACTIVITY: all tasks are done (END_OF_STREAM or finished)"]


async def test_a_non_critical_basic_task_that_fails_is_said_in_an_event_and_done(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "basic-spare")
        await h.manager.control(env.id, "START_ACTIVITY")
        failed, fine = [t for t in env.controlled_tasks() if t.is_basic]
        h.driver.basic_exit(failed, HookResult(exit_code=127, final_status="FAILED", error="exited with code 127"))
        said = f"task {failed.name} ({failed.path}) exited with code 127"
        await eventually_async(lambda: said in messages(h, env.id), what="the failed end said")
        h.driver.basic_exit(fine)  # a basic task's end, failed or not, is done (AliECS): the run stops, no ERROR
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="STOP after both")
        assert [m for m in messages(h, env.id) if fine.path in m] == []  # exit code 0: nothing to say


async def test_a_critical_basic_task_that_fails_sends_the_environment_to_error(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "basic")
        await h.manager.control(env.id, "START_ACTIVITY")
        failed = next(t for t in env.controlled_tasks() if t.is_basic and t.critical)
        killed = HookResult(exit_code=-9, voluntary=False, final_status="KILLED", error="killed by signal 9")
        h.driver.basic_exit(failed, killed)  # (its memory limit, say): not a run that finished
        await eventually_async(lambda: env.state == "ERROR", what="GO_ERROR after the critical task's failure")
        assert f"task {failed.name} ({failed.path}) killed by signal 9" in messages(h, env.id)
        assert automatic(h, env.id) == []  # not stopped as if it were done


def messages(h: Harness, environment_id: str) -> list[str]:
    """The messages of the environment's events, in order."""
    return [
        e.environmentEvent.message
        for e in h.manager.journal.events(environment_id=environment_id, kinds=["environmentEvent"])
    ]


def automatic(h: Harness, environment_id: str) -> list[str]:
    """The environment's "automatic EVENT: reason" announcements, in order."""
    return [m for m in messages(h, environment_id) if m.startswith("automatic ")]


async def test_an_internal_error_of_a_non_critical_task_stops_the_run(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        spare = next(t for t in env.tasks.values() if t.path == "small.spare")
        h.driver.internal_error(spare)
        await eventually_async(
            lambda: env.busy is None and env.state != "RUNNING", what="the reaction to the internal error"
        )
        assert env.state == "CONFIGURED"
        assert automatic(h, env.id) == [f"automatic STOP_ACTIVITY: task {spare.name} reported TASK_INTERNAL_ERROR"]


async def test_an_internal_error_of_a_critical_task_tries_to_stop_and_ends_in_error(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        worker = next(t for t in env.tasks.values() if t.path == "small.host-flp001.worker")
        h.driver.internal_error(worker)
        await eventually_async(
            lambda: env.busy is None and env.state != "RUNNING", what="the reaction to the internal error"
        )
        assert env.state == "ERROR"  # the STOP cannot complete for a critical task in ERROR
        assert automatic(h, env.id) == [f"automatic STOP_ACTIVITY: task {worker.name} reported TASK_INTERNAL_ERROR"]


async def test_a_critical_task_in_error_sends_the_environment_to_error(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        spare = next(t for t in env.tasks.values() if t.path == "small.spare")
        h.driver.set_state(spare, "ERROR")  # non-critical: stays local
        await eventually_async(lambda: spare.state == "ERROR", what="the spare's ERROR seen by the environment")
        assert env.state == "CONFIGURED" and env.roles.state["small"] == "CONFIGURED"
        worker = next(t for t in env.tasks.values() if t.path == "small.host-flp001.worker")
        h.driver.set_state(worker, "ERROR")
        await eventually_async(lambda: env.state == "ERROR", what="GO_ERROR after a critical task error")
        announce = [
            e.environmentEvent
            for e in h.manager.journal.events(environment_id=env.id, kinds=["environmentEvent"])
            if e.environmentEvent.message.startswith("a critical error occurred")
        ]
        # one announcement, for the worker: the spare's ERROR armed nothing that fired meanwhile
        assert [a.error for a in announce] == [f"critical task '{worker.name}' on host 'flp001' transitioned to ERROR"]


async def test_the_go_error_after_a_critical_task_error_is_the_last_transition(small, harness_factory):
    """``env show`` says the GO_ERROR that took the environment to ERROR, not the START before it, as succeeded."""
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        worker = next(t for t in env.tasks.values() if t.path == "small.host-flp001.worker")
        h.driver.set_state(worker, "ERROR")
        await eventually_async(lambda: env.state == "ERROR" and env.busy is None, what="GO_ERROR")
        assert env.last_transition is not None and env.last_transition[:2] == ("GO_ERROR", "")


async def test_detectors_are_exclusive_between_environments(small, harness_factory):
    async with harness_factory() as h:
        first = await h.manager.create(small, "small")  # hosts flp001, flp002 -> TST
        assert first.detectors == ["TST"] and h.manager.active_detectors() == ["TST"]
        with pytest.raises(RefusedError, match=f"detector TST is already in use by environment {first.id}"):
            await h.manager.create(small, "small", user_vars={"hosts": '["flp002"]'})
        other = await h.manager.create(small, "small", user_vars={"hosts": '["flp101"]'})
        assert other.detectors == ["ITS"]
        assert h.manager.available_detectors() == []
        await h.manager.destroy(first.id)
        again = await h.manager.create(small, "small", user_vars={"detectors": '["TST"]'})
        assert again.detectors == ["TST"]


async def test_concurrent_creates_never_share_a_detector(small, harness_factory):
    async with harness_factory() as h:
        h.driver.delay("deploy", 0.05)
        results = await asyncio.gather(*(h.manager.create(small, "small") for _ in range(4)), return_exceptions=True)
        created = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, RefusedError)]
        assert len(created) == 1 and len(refused) == 3


async def test_an_unknown_host_is_named(small, harness_factory):
    async with harness_factory() as h:
        with pytest.raises(NotFoundError, match="detector not found for host nohost"):
            await h.manager.create(small, "small", user_vars={"hosts": '["nohost"]'})


async def test_run_numbers_are_unique_under_eight_concurrent_environments(small, tmp_path):
    config = Configuration.open(f"sqlite:///{tmp_path / 'config.sqlite'}", backends())
    config.store.put("hardware/detectors/TST/flps/flp001", "")
    harness = Harness(tmp_path, config)
    async with harness:
        manager = harness.manager
        envs = await asyncio.gather(
            *(manager.create(small, "small", user_vars={"detectors": f'["D{i}"]'}) for i in range(8))
        )

        async def runs(env, count=3):
            numbers = []
            for _ in range(count):
                await manager.control(env.id, "START_ACTIVITY")
                numbers.append(env.current_run)
                await manager.control(env.id, "STOP_ACTIVITY")
            return numbers

        per_env = await asyncio.gather(*(runs(env) for env in envs))
    numbers = [n for ns in per_env for n in ns]
    assert sorted(numbers) == list(range(1, 25))
    assert all(ns == sorted(ns) for ns in per_env)
    assert config.store.get("runtime/run_number") == "24"
    config.close()


async def test_auto_environment_runs_once_and_destroys_itself(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create_auto(
            small, "small", user_vars={"auto_stop_enabled": "true", "auto_stop_timeout": "100ms"}
        )
        await eventually_async(lambda: env.id not in h.manager.environments, what="the auto environment to end")
        assert env.state == "DONE" and env.last_run == 1
        assert not h.driver.tasks


async def test_an_auto_environment_reloaded_after_a_core_restart_still_destroys_itself(small, harness_factory):
    """A core that crashed during an auto environment's run and came back (its tasks re-attached): when the run ends,
    the environment is destroyed and its tasks killed, as under the core that created it."""
    harness = harness_factory()
    async with harness as h:
        env = await h.manager.create_auto(small, "small")
        await eventually_async(lambda: env.state == "RUNNING" and env.busy is None, what="the auto environment's run")
    manager = harness.new_manager()
    await manager.start()
    try:
        assert manager.get(env.id).state == "RUNNING" and harness.driver.tasks
        await manager.control(env.id, "STOP_ACTIVITY")
        await eventually_async(lambda: env.id not in manager.environments, what="the auto environment to end")
        assert not harness.driver.tasks
    finally:
        await manager.close()


async def test_an_auto_environment_whose_task_restarts_as_its_run_ends_still_destroys_itself(
    small_repo, harness_factory
):
    """A task restart that takes the slot as the run's STOP ends (its process died during the STOP) is waited for:
    the auto environment is destroyed after it, rather than its destroy being refused and the environment kept."""
    small_repo.workflow("restarting", RESTARTING)
    async with harness_factory() as h:
        env = await h.manager.create_auto(source_of(small_repo), "restarting")
        await eventually_async(lambda: env.state == "RUNNING" and env.busy is None, what="the auto environment's run")
        h.driver.delay("STOP", 0.3)
        stop = asyncio.create_task(h.manager.control(env.id, "STOP_ACTIVITY"))
        await eventually_async(lambda: env.busy is not None and env.busy[0] == "STOP_ACTIVITY", what="the STOP")
        monitor = next(t for t in env.tasks.values() if t.path == "restarting.monitor")
        h.driver.process_exit(monitor, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await stop
        await eventually_async(lambda: env.id not in h.manager.environments, what="the auto environment to end")
        assert not h.driver.tasks


async def test_without_a_detector_inventory_hosts_take_no_detector(small, tmp_path):
    harness = Harness(tmp_path, Configuration.from_tree({"o2": {}}))
    async with harness as h:
        first = await h.manager.create(small, "small")
        second = await h.manager.create(small, "small")
        assert first.detectors == second.detectors == [] and h.manager.active_detectors() == []


async def test_plugins_report_progress_as_integrated_service_events(small, harness_factory):
    from ecs_engine.events import model

    async with harness_factory() as h:

        async def configure(call):
            call.publish("rec.Configure()", model.ONGOING, step="push parameters", step_status=model.DONE_OK)
            return "ok"

        h.plugins["rec"].behaviour["Configure"] = configure
        env = await h.manager.create(small, "small")
        events = h.manager.journal.events(environment_id=env.id, kinds=["integratedServiceEvent"])
        assert [(e.integratedServiceEvent.name, e.integratedServiceEvent.operationStep) for e in events] == [
            ("small.hooks.configure-call", "push parameters")
        ]


TWO_RESTARTING = (
    RESTARTING
    + """  - name: monitor2
    task:
      load: worker
      critical: false
      restart: {policy: on-failure, max: 3, window: 60s, backoff: 0s}
"""
)


async def test_a_critical_task_error_while_two_tasks_restart_still_sends_the_environment_to_error(
    small_repo, harness_factory
):
    """The error watch waits for the slot behind the second restart as well: it waited once, woke behind the
    second restart that took the slot, was refused ('GO_ERROR after a task error: ... RESTART in progress'), and
    the environment stayed RUNNING with its critical task in ERROR."""
    small_repo.workflow("restarting", TWO_RESTARTING)
    async with harness_factory() as h:
        env = await h.manager.create(source_of(small_repo), "restarting")
        await h.manager.control(env.id, "START_ACTIVITY")
        h.driver.delay("deploy", 0.3)  # each restart holds the slot while its new process comes
        first, second = (
            next(t for t in env.tasks.values() if t.path == f"restarting.{n}") for n in ("monitor", "monitor2")
        )
        h.driver.process_exit(first, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await eventually_async(lambda: env.busy is not None and env.busy[0] == "RESTART", what="the first restart")
        h.driver.process_exit(second, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        runner = next(t for t in env.tasks.values() if t.path == "restarting.runner")
        h.driver.set_state(runner, "ERROR")
        await eventually_async(lambda: env.state == "ERROR" and env.busy is None, what="GO_ERROR after both restarts")
        assert not [w for w in env.warnings if w.startswith("GO_ERROR after a task error")], env.warnings
