"""Hooks and calls: await across transitions, critical vs non-critical at each phase, messages, call variables."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from ecs_engine.environment import HookResult, TransitionError
from ecs_engine.environment.hooks import aggregate_failures
from ecs_engine.template.triggers import Trigger
from tests.environment.conftest import source_of
from tests.waiting import eventually_async


def workflow(repo, calls: str, name: str = "w", extra_roles: str = ""):
    """A workflow with one critical task ``work``, ``extra_roles`` and the ``calls`` under ``calls``.

    ``calls`` and ``extra_roles`` are YAML role list items written at column 0.
    """
    text = f"name: {name}\nroles:\n  - name: work\n    task:\n      load: worker\n"
    text += textwrap.indent(extra_roles, "  ")
    if calls:
        text += "  - name: calls\n    roles:\n" + textwrap.indent(calls, "      ")
    repo.workflow(name, text)
    return source_of(repo)


def call(name: str, func: str, trigger: str, *, await_: str = "", critical: bool = True, timeout: str = "5s") -> str:
    lines = [f"- name: {name}", "  call:", f"    func: {func}", f"    trigger: {trigger}", f"    timeout: {timeout}"]
    if await_:
        lines.append(f"    await: {await_}")
    lines.append(f"    critical: {'true' if critical else 'false'}")
    return "\n".join(lines) + "\n"


async def test_a_call_started_in_one_transition_is_awaited_in_a_later_one(small_repo, harness_factory):
    source = workflow(
        small_repo,
        call("slow", "rec.Slow()", "before_DEPLOY", await_="after_CONFIGURE-5")
        + call("marker", "rec.Marker()", "after_CONFIGURE-1"),
    )
    async with harness_factory() as h:
        gate = asyncio.Event()
        finished = []

        async def slow(call_):
            await gate.wait()
            finished.append("slow")
            return "slow result"

        h.plugins["rec"].behaviour["Slow"] = slow
        h.plugins["rec"].behaviour["Marker"] = lambda c: asyncio.sleep(0, result=finished.append("marker"))
        creating = asyncio.ensure_future(h.manager.create(source, "w"))
        await eventually_async(
            lambda: h.manager.environments and next(iter(h.manager.environments.values())).state == "CONFIGURED"
        )
        env = next(iter(h.manager.environments.values()))
        # DEPLOY completed and CONFIGURE reached its after step while the call is still pending
        assert env.current_transition == "CONFIGURE" and not creating.done()
        assert finished == []
        deploy_done = [
            e
            for e in h.manager.journal.events(environment_id=env.id, kinds=["environmentEvent"])
            if e.environmentEvent.transition == "DEPLOY"
            and e.environmentEvent.transitionStatus == 3
            and not e.environmentEvent.transitionStep
        ]
        assert deploy_done  # DEPLOY completed while the call it started was still running
        gate.set()
        await creating
        assert finished == ["slow", "marker"]


async def test_a_critical_failure_skips_the_rest_of_the_moment(small_repo, harness_factory):
    source = workflow(
        small_repo,
        call("bad", "testplugin.Test()", "before_START_ACTIVITY-10")
        + call("later", "rec.Later()", "before_START_ACTIVITY-5")
        + call("after-work", "rec.AfterWork()", "before_START_ACTIVITY+1"),
    )
    async with harness_factory() as h:
        env = await h.manager.create(source, "w", user_vars={"testplugin_fail": "true"})
        with pytest.raises(TransitionError) as failed:
            await h.manager.control(env.id, "START_ACTIVITY")
        assert failed.value.reason == (
            "call w.calls.bad (testplugin.Test()): testplugin.Test() failed on request. REASON: testplugin_fail is true"
        )
        assert env.state == "ERROR"
        assert h.plugins["rec"].seen == []  # neither the later weight nor the weights after the built-in work
        assert env.last_run == 0 and [r for r in h.manager.store.runs()] == []  # no run number was taken


@pytest.mark.parametrize(
    ("trigger", "critical", "state_after", "error_part"),
    [
        ("before_START_ACTIVITY", True, "ERROR", "call w.calls.c"),
        ("leave_CONFIGURED", True, "ERROR", "call w.calls.c"),
        ("enter_RUNNING", True, "ERROR", "call w.calls.c"),
        ("after_START_ACTIVITY+5", True, "ERROR", "call w.calls.c"),
        ("before_START_ACTIVITY", False, "RUNNING", None),
        ("enter_RUNNING", False, "RUNNING", None),
        ("after_START_ACTIVITY", False, "RUNNING", None),
    ],
)
async def test_call_failures_at_each_phase(small_repo, harness_factory, trigger, critical, state_after, error_part):
    source = workflow(small_repo, call("c", "testplugin.Test()", trigger, critical=critical))
    async with harness_factory() as h:
        env = await h.manager.create(source, "w", user_vars={"testplugin_fail": "true"})
        events = h.manager.bus.stream(environment_id=env.id, kinds=["environmentEvent"])
        if error_part:
            with pytest.raises(TransitionError, match=error_part):
                await h.manager.control(env.id, "START_ACTIVITY")
        else:
            await h.manager.control(env.id, "START_ACTIVITY")
            assert any("testplugin.Test() failed on request" in w for w in env.warnings)
        assert env.state == state_after
        seen = [(e.environmentEvent.transition, e.environmentEvent.state) for e in events.pending()]
        if error_part:
            # a failure before the state changed keeps CONFIGURED; after it, RUNNING; both then go to ERROR
            reached = "RUNNING" if trigger.startswith(("enter", "after")) else "CONFIGURED"
            failed_at = [s for t, s in seen if t == "START_ACTIVITY"][-1]
            assert failed_at == reached
            # then GO_ERROR (which, leaving CONFIGURED, fails again on the leave_CONFIGURED call: ERROR is forced)
            assert any(t == "GO_ERROR" for t, _ in seen)


async def test_task_failure_in_leave_keeps_the_state_then_goes_to_error(small_repo, harness_factory):
    source = workflow(small_repo, call("c", "rec.Noop()", "after_START_ACTIVITY"))
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        h.driver.fail("w.work", "START", "cannot open the device")
        with pytest.raises(TransitionError) as failed:
            await h.manager.control(env.id, "START_ACTIVITY")
        assert "START could not complete for critical tasks" in failed.value.reason
        assert "cannot open the device" in failed.value.reason
        assert env.state == "ERROR"
        assert h.plugins["rec"].seen == []  # after_START_ACTIVITY never ran
        assert env.last_run == 1  # the number was consumed by the failed start
        run_events = h.manager.journal.events(environment_id=env.id, kinds=["runEvent"])
        assert [(e.runEvent.transition, e.runEvent.transitionStatus) for e in run_events][:2] == [
            ("START_ACTIVITY", 1),
            ("START_ACTIVITY", 4),
        ]


async def test_non_critical_task_failure_is_a_warning(small_repo, harness_factory):
    source = workflow(small_repo, "", extra_roles="- name: spare\n  task:\n    load: worker\n    critical: false\n")
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        h.driver.fail("w.spare", "START", "flaky")
        await h.manager.control(env.id, "START_ACTIVITY")
        assert env.state == "RUNNING"
        assert any("flaky" in w for w in env.warnings)
        assert env.roles.state["w"] == "RUNNING"  # the non-critical ERROR does not reach the root


def test_failure_messages_are_joined_up_to_three_then_summarised():
    trigger = Trigger("before_START_ACTIVITY", 100)
    assert aggregate_failures(["a", "b", "c"], trigger) == "a; b; c"
    summary = aggregate_failures(["a", "b", "c", "d"], trigger)
    assert summary.startswith("4 critical hooks failed at trigger before_START_ACTIVITY+100")


async def test_four_critical_failures_at_one_weight_are_summarised(small_repo, harness_factory):
    calls = "".join(call(f"c{i}", "testplugin.Test()", "before_START_ACTIVITY+3") for i in range(4))
    source = workflow(small_repo, calls)
    async with harness_factory() as h:
        env = await h.manager.create(source, "w", user_vars={"testplugin_fail": "true"})
        with pytest.raises(TransitionError, match="4 critical hooks failed at trigger before_START_ACTIVITY\\+3"):
            await h.manager.control(env.id, "START_ACTIVITY")


async def test_call_return_values_become_runtime_variables(small_repo, harness_factory):
    calls = call("ask", "rec.Ask()", "before_CONFIGURE").replace("    critical", "    return: answer\n    critical")
    source = workflow(small_repo, calls)
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        role = next(r for r in env.root.walk() if r.path == "w.calls.ask")
        assert role.user_vars["answer"] == "Ask done"
        event = [e for e in h.manager.journal.events(kinds=["callEvent"]) if e.callEvent.path == role.path][-1]
        assert getattr(event.callEvent, "return") == "Ask done" and event.callEvent.callStatus == 3
        assert getattr(event.callEvent.traits, "await") == "before_CONFIGURE"


async def test_a_call_of_an_unknown_plugin_fails_with_the_expression(small_repo, harness_factory):
    source = workflow(small_repo, call("c", "nosuch.Thing()", "before_CONFIGURE"))
    async with harness_factory() as h:
        from ecs_engine.environment import CreateError

        with pytest.raises(CreateError, match="unknown name 'nosuch'"):
            await h.manager.create(source, "w")


async def test_a_call_that_overruns_its_timeout_fails(small_repo, harness_factory, monkeypatch):
    monkeypatch.setattr("ecs_engine.environment.hooks.CALL_GRACE", 0.05)
    source = workflow(small_repo, call("c", "rec.Hang()", "before_START_ACTIVITY", timeout="100ms"))
    async with harness_factory() as h:
        h.plugins["rec"].behaviour["Hang"] = lambda c: asyncio.sleep(30)
        env = await h.manager.create(source, "w")
        with pytest.raises(TransitionError, match="did not return within its timeout 100ms"):
            await h.manager.control(env.id, "START_ACTIVITY")


async def test_testplugin_noop_waits_for_the_call_timeout(small_repo, harness_factory):
    source = workflow(small_repo, call("c", "testplugin.Noop()", "before_START_ACTIVITY", timeout="300ms"))
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await h.manager.control(env.id, "START_ACTIVITY")
        assert loop.time() - started >= 0.3


HOOK_ROLE = """- name: hook
  task:
    load: oneshot
    trigger: before_START_ACTIVITY
    timeout: 200ms
    critical: {critical}
"""


@pytest.mark.parametrize("critical", [True, False])
async def test_task_hooks_run_within_their_timeout(small_repo, harness_factory, critical):
    source = workflow(small_repo, "", extra_roles=HOOK_ROLE.format(critical=str(critical).lower()))
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        h.driver.hook_delay("w.hook", 5)
        if critical:
            with pytest.raises(TransitionError, match=r"hook task oneshot#\w+ \(w.hook\) timed out after 200ms"):
                await h.manager.control(env.id, "START_ACTIVITY")
            assert env.state == "ERROR"
        else:
            await h.manager.control(env.id, "START_ACTIVITY")
            assert env.state == "RUNNING"
        role = next(r for r in env.root.walk() if r.path == "w.hook")
        assert role.user_vars["taskResult.finalStatus"] == "TIMEOUT"


async def test_a_failing_hook_reports_exit_code_and_stderr(small_repo, harness_factory):
    source = workflow(small_repo, "", extra_roles=HOOK_ROLE.format(critical="true"))
    async with harness_factory() as h:
        env = await h.manager.create(source, "w")
        h.driver.hook_result("w.hook", HookResult(exit_code=3, stdout="out", stderr="line1\nno space left"))
        with pytest.raises(TransitionError, match="failed: exit code 3: no space left"):
            await h.manager.control(env.id, "START_ACTIVITY")
        role = next(r for r in env.root.walk() if r.path == "w.hook")
        assert (role.user_vars["taskResult.exitCode"], role.user_vars["taskResult.stdout"]) == ("3", "out")


async def test_pending_awaits_are_cancelled_at_teardown(small_repo, harness_factory):
    source = workflow(small_repo, call("c", "rec.Forever()", "after_CONFIGURE", await_="after_STOP_ACTIVITY"))
    async with harness_factory() as h:
        cancelled = asyncio.Event()

        async def forever(call_):
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        h.plugins["rec"].behaviour["Forever"] = forever
        env = await h.manager.create(source, "w")
        assert len(env.hooks.pending_calls) == 1
        await h.manager.destroy(env.id)
        assert cancelled.is_set() and env.hooks.pending_calls == []


async def test_destroy_runs_destroy_hooks_even_when_they_fail(small_repo, harness_factory):
    calls = call("d1", "testplugin.Test()", "DESTROY") + call("d2", "rec.Bye()", "after_DESTROY+1")
    source = workflow(small_repo, calls)
    async with harness_factory() as h:
        env = await h.manager.create(source, "w", user_vars={"testplugin_fail": "true"})
        report = await h.manager.destroy(env.id)
        assert any("testplugin.Test() failed on request" in w for w in report.warnings)
        assert [func for func, _ in h.plugins["rec"].seen] == ["rec.Bye"]
        assert env.state == "DONE"
