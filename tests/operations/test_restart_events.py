"""The restart policy's events on the engine (in-process tasks): a task killed by a signal and a crash loop are
environment warnings, and a task of an environment reloaded after a core restart says why it is not restarted."""

from __future__ import annotations

from ecs_engine.events.model import severity_of
from ecs_engine.tasks.reports import HookResult
from tests.environment.conftest import source_of
from tests.waiting import eventually_async

MONITOR = """
name: monitor
control: {mode: basic}
command: {value: sleep, arguments: ["100000"]}
"""
WORKFLOW = """
name: watched
roles:
  - name: mon
    task: {load: monitor, critical: false, restart: {policy: on-failure, max: 1, backoff: 10ms}}
"""
KILLED = HookResult(exit_code=-9, voluntary=False, final_status="KILLED", error="killed by signal 9")


def said(h, environment_id: str) -> list[tuple[str, str]]:
    """(message, severity) of the environment's events in the journal."""
    h.manager.journal.flush()
    events = h.manager.journal.events(environment_id=environment_id, kinds=["environmentEvent"])
    return [(e.environmentEvent.message, severity_of(e)) for e in events if e.environmentEvent.message]


def mon(env):
    return next(t for t in env.tasks.values() if t.path.endswith(".mon"))


async def running(h, repo):
    """The watched workflow created and RUNNING."""
    repo.task("monitor", MONITOR)
    repo.workflow("watched", WORKFLOW)
    env = await h.manager.create(source_of(repo), "watched")
    await h.manager.control(env.id, "START_ACTIVITY")
    return env


async def test_a_killed_task_and_its_crash_loop_are_environment_warnings(repo, harness_factory):
    async with harness_factory() as h:
        env = await running(h, repo)
        first = mon(env)
        h.driver.basic_exit(first, KILLED)
        await eventually_async(lambda: mon(env).id != first.id and env.busy is None, what="the restart")
        h.driver.basic_exit(mon(env), KILLED)
        await eventually_async(lambda: any("crash loop" in m for m, _ in said(h, env.id)), what="the crash loop")
        events = said(h, env.id)
    restarting = [s for m, s in events if "killed by signal 9: restarting in" in m]
    loop = [s for m, s in events if "killed by signal 9: not restarted, it stays down: crash loop" in m]
    restarted = [s for m, s in events if "restarted (restart 1)" in m]
    assert restarting == ["warning"] and loop == ["warning"] and restarted == ["info"]


async def test_a_task_of_a_reloaded_environment_says_why_it_is_not_restarted(repo, harness_factory):
    async with harness_factory() as h:
        env = await running(h, repo)
        await h.manager.close()  # the core stops (its tasks keep running) and a new one reloads the environment
        h.manager = h.new_manager()
        await h.manager.start()
        reloaded = h.manager.environments[env.id]
        h.driver.basic_exit(
            mon(reloaded), HookResult(exit_code=-1, final_status="LOST", error="ended (exit code unknown)")
        )
        expected = (
            f"task {mon(reloaded).name} (watched.mon) ended (exit code unknown): not restarted: the environment was "
            "reloaded after a core restart (restart policies do not survive it)"
        )
        await eventually_async(lambda: (expected, "warning") in said(h, env.id), what="the reason in an event")


async def test_a_critical_task_killed_is_an_error_event_not_a_warning(repo, harness_factory):
    """'events query --severity error' finds the first sign of the failure: the critical task's end."""
    repo.task("monitor", MONITOR)
    repo.workflow(
        "watched",
        WORKFLOW.replace("critical: false, restart: {policy: on-failure, max: 1, backoff: 10ms}", "critical: true"),
    )
    async with harness_factory() as h:
        env = await h.manager.create(source_of(repo), "watched")
        await h.manager.control(env.id, "START_ACTIVITY")
        h.driver.basic_exit(mon(env), KILLED)
        expected = (f"task {mon(env).name} (watched.mon) killed by signal 9", "error")
        await eventually_async(lambda: expected in said(h, env.id), what="the task's end as an error")
