"""Whole lives of environments on the in-process driver: create, runs, RESET, refusals, destroy flags."""

from __future__ import annotations

import asyncio

import pytest

from ecs_engine.environment import CreateError
from ecs_engine.errors import RefusedError, TemplateError, UsageError
from ecs_engine.events import model
from tests.environment.conftest import source_of
from tests.waiting import eventually_async


async def test_create_configures_and_runs_get_increasing_numbers(small, harness_factory):
    async with harness_factory() as h:
        manager, driver = h.manager, h.driver
        env = await manager.create(small, "small")
        assert env.state == "CONFIGURED"
        assert {t.state for t in env.controlled_tasks()} == {"CONFIGURED"}
        assert env.roles.state["small"] == "CONFIGURED"  # the non-critical spare counts not, hooks never
        assert env.roles.status["small"] == "ACTIVE"
        info = env.info()
        assert (info["state"], info["rootRole"], info["numberOfTasks"], info["numberOfActiveTasks"]) == (
            "CONFIGURED",
            "small",
            4,
            4,
        )
        assert (info["includedDetectors"], info["numberOfHosts"]) == (["TST"], 3)  # flp001, flp002, localhost
        sent = []
        original = driver.transition

        async def spy(tasks, event, args):
            sent.append((event, dict(args)))
            return await original(tasks, event, args)

        driver.transition = spy
        for expected in (1, 2, 3):
            await manager.control(env.id, "START_ACTIVITY")
            assert (env.state, env.current_run) == ("RUNNING", expected)
            assert env.root.vars["run_number"] == env.root.vars["runNumber"] == str(expected)
            await manager.control(env.id, "STOP_ACTIVITY")
            assert (env.state, env.current_run, env.last_run) == ("CONFIGURED", 0, expected)
            assert "run_number" not in env.stack() and env.stack()["last_run_number"] == str(expected)
        starts = [args for event, args in sent if event == "START"]
        assert [(a["runNumber"], a["cleanup"]) for a in starts] == [("1", "0"), ("2", "1"), ("3", "2")]
        assert starts[0]["run_start_time_ms"] == starts[0]["runStartTimeMs"]
        stop = next(args for event, args in sent if event == "STOP")
        assert stop["run_end_time_ms"] and stop["runEndTimeMs"] == stop["run_end_time_ms"]
        await manager.control(env.id, "RESET")
        assert env.state == "DEPLOYED"
        assert {t.state for t in env.controlled_tasks()} == {"STANDBY"}
        report = await manager.destroy(env.id)
        assert env.state == "DONE" and env.id not in manager.environments
        assert len(report.killed) == 4 and not driver.tasks  # 3 tasks and the hook task
        assert [r.run_number for r in manager.store.runs(env.id)] == [1, 2, 3]


async def test_negative_before_start_hooks_run_before_the_run_number_exists(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        stacks = {stack["__call_rolepath"]: stack for _, stack in h.plugins["rec"].seen}
        assert "run_number" not in stacks["small.hooks.prepare"]  # before_START_ACTIVITY-200
        assert stacks["small.hooks.sor"]["run_number"] == "1"  # before_START_ACTIVITY+100
        assert stacks["small.hooks.sor"]["run_start_time_ms"]
        assert stacks["small.hooks.sor"]["__call_timeout"] == "5s"
        assert stacks["small.hooks.sor"]["__call_critical"] == "true"
        assert stacks["small.hooks.sor"]["environment_id"] == env.id


async def test_an_event_not_allowed_is_refused_and_the_state_stays(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        with pytest.raises(RefusedError) as refused:
            await h.manager.control(env.id, "STOP_ACTIVITY")
        assert "is CONFIGURED" in refused.value.message
        assert "allowed: RESET, START_ACTIVITY, EXIT)" in refused.value.message
        assert env.state == "CONFIGURED"
        with pytest.raises(UsageError, match="unknown event 'JUMP'"):
            await h.manager.control(env.id, "JUMP")
        await h.manager.control(env.id, "START_ACTIVITY")  # still usable


async def test_a_second_transition_is_refused_while_one_runs(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        h.driver.delay("START", 0.3)
        first = asyncio.ensure_future(h.manager.control(env.id, "START_ACTIVITY"))
        await eventually_async(lambda: env.busy is not None, what="START to begin")
        with pytest.raises(RefusedError, match=r"transition START_ACTIVITY in progress since \d{4}-"):
            await h.manager.control(env.id, "RESET")
        with pytest.raises(RefusedError, match="in progress"):
            await h.manager.destroy(env.id)
        await first
        assert env.state == "RUNNING"


async def test_destroying_a_running_environment_needs_a_flag(small, harness_factory):
    async with harness_factory() as h:
        manager = h.manager
        env = await manager.create(small, "small")
        await manager.control(env.id, "START_ACTIVITY")
        with pytest.raises(RefusedError, match="is RUNNING: stop it first"):
            await manager.destroy(env.id)
        assert env.state == "RUNNING"
        report = await manager.destroy(env.id, allow_in_running_state=True)
        assert not report.warnings or all("forcing" not in w for w in report.warnings)
        assert ("transition", "STOP", "3") in h.driver.log and ("transition", "RESET", "3") in h.driver.log
        assert manager.store.runs(env.id)[0].end_ms is not None

        forced = await manager.create(small, "small")
        await manager.control(forced.id, "START_ACTIVITY")
        h.driver.log.clear()
        await manager.destroy(forced.id, force=True)
        assert not [entry for entry in h.driver.log if entry[0] == "transition"]  # forced: no STOP, no RESET
        assert manager.store.runs(forced.id)[0].end_ms is not None  # the run was ended as TEARDOWN
        kinds = [e.runEvent.transition for e in manager.journal.events(environment_id=forced.id, kinds=["runEvent"])]
        assert kinds[-1] == "TEARDOWN"


async def test_keep_tasks_releases_instead_of_killing(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        report = await h.manager.destroy(env.id, keep_tasks=True)
        assert len(report.kept) == 4 and not report.killed
        assert all(not t.locked for t in env.tasks.values())
        assert len(h.driver.tasks) == 4  # still alive, claimable


async def test_a_destroy_kills_its_tasks_without_releasing_them_first(small, harness_factory):
    """Released tasks are unlocked and claimable; those a destroy kills never are (their records are not rewritten
    just before they are deleted, and a CleanupTasks during the DESTROY hooks cannot take them)."""
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        report = await h.manager.destroy(env.id)
        assert len(report.killed) == 4 and not report.kept and not h.driver.tasks
        assert all(t.locked for t in env.tasks.values() if not t.is_hook)


async def test_error_recover_and_exit(small, harness_factory):
    async with harness_factory() as h:
        manager = h.manager
        env = await manager.create(small, "small")
        await manager.control(env.id, "START_ACTIVITY")
        await manager.control(env.id, "GO_ERROR")
        assert env.state == "ERROR"
        assert {t.state for t in env.controlled_tasks()} == {"CONFIGURED"}  # GO_ERROR stopped them
        assert env.current_run == 0 and env.stack()["last_run_number"] == "1"
        with pytest.raises(RefusedError, match="allowed: RECOVER"):
            await manager.control(env.id, "START_ACTIVITY")
        await manager.control(env.id, "RECOVER")
        assert env.state == "DEPLOYED"
        assert {t.state for t in env.controlled_tasks()} == {"STANDBY"}
        await manager.control(env.id, "CONFIGURE")
        await manager.control(env.id, "EXIT")
        assert env.state == "DONE"
        assert {t.state for t in env.controlled_tasks()} == {"DONE"}
        await manager.destroy(env.id)
        assert env.id not in manager.environments


async def test_failed_create_tears_down_and_says_why(small, harness_factory):
    async with harness_factory() as h:
        h.driver.fail("*host-flp002.worker", "CONFIGURE", "bad configuration payload")
        with pytest.raises(CreateError) as failed:
            await h.manager.create(small, "small")
        message = failed.value.message
        assert message.startswith("cannot create new environment: CONFIGURE could not complete for critical tasks")
        assert "small.host-flp002.worker" in message and "bad configuration payload" in message
        assert failed.value.info["state"] == "ERROR"
        assert not h.driver.tasks and h.manager.active_detectors() == []  # torn down, tasks killed
        (kept,) = h.manager.environments.values()  # listed with its reason until destroyed
        assert kept.state == "ERROR" and "bad configuration payload" in kept.failure
        with pytest.raises(RefusedError, match=r"was not created .*: destroy it"):
            await h.manager.control(kept.id, "RECOVER")
        await h.manager.destroy(kept.id)
        assert not h.manager.environments


async def test_a_workflow_that_does_not_load_is_one_clear_error(small_repo, harness_factory):
    small_repo.workflow("broken", "name: broken\nroles:\n  - name: x\n    task:\n      load: nosuchtask\n")
    async with harness_factory() as h:
        with pytest.raises(TemplateError) as failed:
            await h.manager.create(source_of(small_repo), "broken")
        error = failed.value
        assert (error.file, error.role_path, error.field) == (
            str(small_repo.root / "workflows" / "broken.yaml"),
            "broken.x",
            "task.load",
        )
        assert error.message == (
            "cannot load workflow template: cannot load task 'nosuchtask': task template 'nosuchtask' not found "
            f"(looked for {small_repo.root / 'tasks' / 'nosuchtask.yaml'})"
        )
        assert not h.manager.environments


async def test_every_create_event_names_the_user_who_asked_also_for_a_workflow_that_does_not_load(
    small_repo, small, harness_factory
):
    """As upstream's CreateEnvironment: before_CREATE (and its failure) carry lastRequestUser, as after_CREATE."""
    small_repo.workflow("broken", "name: broken\nroles:\n  - name: x\n    task:\n      load: nosuchtask\n")
    alice = model.user("alice")
    async with harness_factory() as h:
        await h.manager.create(small, "small", request_user=alice)
        with pytest.raises(TemplateError):
            await h.manager.create(source_of(small_repo), "broken", request_user=alice)
        creates = [
            e.environmentEvent
            for e in h.manager.journal.events(kinds=["environmentEvent"])
            if e.environmentEvent.transition == "CREATE"
        ]
        steps = [(e.transitionStep, e.transitionStatus) for e in creates]
        assert steps.count(("before_CREATE", model.STARTED)) == 2 and ("", model.DONE_ERROR) in steps
        assert [e.lastRequestUser.name for e in creates] == ["alice"] * len(creates)


async def test_async_create_answers_at_once_and_reports_by_events(small, harness_factory):
    async with harness_factory() as h:
        h.driver.delay("deploy", 0.2)
        stream = h.manager.bus.stream(kinds=["environmentEvent"])
        env = await h.manager.create_async(small, "small")
        assert env.state == "STANDBY" and env.busy is not None
        with pytest.raises(RefusedError, match="in progress"):
            await h.manager.control(env.id, "START_ACTIVITY")
        while True:
            event = await stream.next(5)
            if event.environmentEvent.message == "created new environment":
                break
        assert env.state == "CONFIGURED"
        stream.close()


async def test_user_variables_reach_the_environment_and_per_role_ones_the_role(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small", user_vars={"run_type": "TECHNICAL", "small.spare:level": "3"})
        stack = env.stack()
        assert stack["run_type"] == "TECHNICAL" and stack["environment_id"] == env.id
        assert stack["__fmq_cleanup_count"] == "0" and stack["enter_state_time_ms"]
        spare = next(r for r in env.root.walk() if r.path == "small.spare")
        assert spare.stack()["level"] == "3" and "level" not in stack


async def test_undeployable_roles_fail_deploy_only_when_critical(small, harness_factory):
    async with harness_factory() as h:
        h.driver.undeployable("small.spare", "no host offers the resources")
        env = await h.manager.create(small, "small")
        assert env.state == "CONFIGURED" and "small.spare" not in env.tasks_by_role
        assert any("non-critical role small.spare left without a task" in w for w in env.warnings)
        h.driver.undeployable("*flp002.worker", "no host offers the resources")
        with pytest.raises(CreateError, match=r"undeployable critical roles: small\.host-flp002\.worker"):
            await h.manager.create(small, "small", user_vars={"detectors": '["OTHER"]'})


async def test_a_reason_many_undeployable_roles_share_is_said_once(small, harness_factory):
    """Hosts no node has fail each of their roles alike: the error names the roles, then the reason once."""
    async with harness_factory() as h:
        h.driver.undeployable("*.worker", "no node has machine_id=nowhere")
        with pytest.raises(CreateError) as failed:
            await h.manager.create(small, "small")
        assert str(failed.value.args[0]).endswith(
            "undeployable critical roles: small.host-flp001.worker, small.host-flp002.worker"
            " (no node has machine_id=nowhere)"
        )


async def test_engine_waits_are_bounded_and_name_their_setting(small, harness_factory):
    from ecs_engine.environment import EngineSettings

    async with harness_factory(settings=EngineSettings(deploy_timeout=0.1, configure_timeout=0.1)) as h:
        h.driver.delay("deploy", 1)
        with pytest.raises(CreateError, match=r"workflow deployment timed out after 100ms .*deploy_timeout"):
            await h.manager.create(small, "small")
        h.driver.clear()
        h.driver.delay("CONFIGURE", 1)
        with pytest.raises(
            CreateError, match=r"CONFIGURE of 3 tasks did not complete within 100ms .*configure_timeout"
        ):
            await h.manager.create(small, "small")
