"""Durability: environments, runs and events survive the manager; a new manager reloads them."""

from __future__ import annotations

import pytest

from ecs_engine.environment import InProcessDriver
from ecs_engine.environment.store import EnvironmentStore
from ecs_engine.errors import HandledError, RefusedError
from ecs_engine.events import model
from tests.waiting import eventually_async


async def test_a_new_manager_reloads_environments_and_reattaches_live_tasks(small, harness_factory):
    harness = harness_factory()
    async with harness as h:
        env = await h.manager.create(small, "small", user_vars={"run_type": "PHYSICS"})
        await h.manager.control(env.id, "START_ACTIVITY")
        env_id, task_ids = env.id, set(env.tasks)
        spare = next(r for r in env.root.walk() if r.path == "small.spare")
        spare.user_vars["note"] = "kept"
    # the same executor (its tasks still alive) under a new manager on the same data directory
    manager = harness.new_manager()
    await manager.start()
    try:
        again = manager.get(env_id)
        assert (again.state, again.current_run) == ("RUNNING", 1)
        assert set(again.tasks) == task_ids and all(t.status == "ACTIVE" for t in again.tasks.values())
        assert again.stack()["run_type"] == "PHYSICS" and again.stack()["run_number"] == "1"
        assert next(r for r in again.root.walk() if r.path == "small.spare").user_vars["note"] == "kept"
        assert manager.active_detectors() == ["TST"]
        assert again.roles.state["small"] == "RUNNING"
        # it works on: hooks and calls come from the stored tree
        await manager.control(env_id, "STOP_ACTIVITY")
        eor = [stack for _, stack in harness.plugins["rec"].seen if stack["__call_rolepath"] == "small.hooks.eor"]
        assert eor and eor[-1]["run_number"] == "1"
        await manager.control(env_id, "START_ACTIVITY")
        assert again.current_run == 2  # the run counter lives in the configuration store
        await manager.destroy(env_id, allow_in_running_state=True)
        assert not harness.driver.tasks
    finally:
        await manager.close()
    third = harness.new_manager()
    await third.start()
    try:
        assert not third.environments  # destroyed environments are not reloaded
        assert [r.run_number for r in third.store.runs(env_id)] == [1, 2]
        transitions = [
            e.environmentEvent.transition
            for e in third.journal.events(environment_id=env_id, kinds=["environmentEvent"])
            if e.environmentEvent.message == "transition completed successfully"
        ]
        assert transitions == [
            "DEPLOY",
            "CONFIGURE",
            "START_ACTIVITY",
            "STOP_ACTIVITY",
            "START_ACTIVITY",
            "STOP_ACTIVITY",
            "RESET",
        ]
    finally:
        await third.close()


async def test_tasks_not_found_after_a_restart_are_marked_lost(small, harness_factory):
    harness = harness_factory()
    async with harness as h:
        env = await h.manager.create(small, "small")
        env_id = env.id
    manager = harness.new_manager(InProcessDriver())  # an executor that knows none of them
    await manager.start()
    try:
        again = manager.get(env_id)
        assert all(t.status == "INACTIVE" and t.state == "ERROR" for t in again.tasks.values())
        assert any("was lost while the core was down" in w for w in again.warnings)
        await eventually_async(lambda: again.state == "ERROR", what="GO_ERROR for the lost critical tasks")
        await manager.destroy(env_id)
    finally:
        await manager.close()


async def test_a_failed_create_stays_torn_down_after_a_restart_and_an_error_owner_is_named(small, harness_factory):
    harness = harness_factory()
    async with harness as h:
        h.driver.fail("*worker", "CONFIGURE", times=1)
        with pytest.raises(HandledError):
            await h.manager.create(small, "small")
        (failed,) = h.manager.environments.values()  # listed in ERROR until destroyed, its detectors free
        assert failed.state == "ERROR" and h.manager.active_detectors() == []
        kept = await h.manager.create(small, "small")  # CONFIGURED, holding TST
        failed_id, kept_id = failed.id, kept.id
    manager = harness.new_manager(InProcessDriver())  # the tasks were killed with the core: lost
    await manager.start()
    try:
        assert failed_id not in manager.environments  # (the core's record at its stop brought it back, with TST)
        again = manager.get(kept_id)
        await eventually_async(lambda: again.state == "ERROR", what="GO_ERROR for the lost critical tasks")
        with pytest.raises(RefusedError) as refused:
            await manager.create(small, "small")
        assert refused.value.message == f"detector TST is already in use by environment {kept_id}"
        assert refused.value.hint == f"environment {kept_id} is in ERROR and holds it until destroyed"
        assert refused.value.shown_hint() == (
            f"environment {kept_id} is in ERROR and holds it until destroyed: coconut env destroy {kept_id}"
        )
        await manager.destroy(kept_id)
        await manager.destroy((await manager.create(small, "small")).id)
    finally:
        await manager.close()


async def test_state_is_committed_before_a_transition_is_reported(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        assert h.manager.store.load(env.id).state == "CONFIGURED"
        await h.manager.control(env.id, "START_ACTIVITY")
        stored = h.manager.store.load(env.id)
        assert (stored.state, stored.current_run) == ("RUNNING", 1)
        # a second reader sees the events already (committed, not buffered)
        from ecs_engine.events.journal import EventJournal

        reader = EventJournal(h.manager.journal.path)
        try:
            kinds = {e.WhichOneof("Payload") for e in reader.events(environment_id=env.id)}
        finally:
            reader.close()
        assert {"environmentEvent", "taskEvent", "roleEvent", "callEvent", "runEvent"} <= kinds


async def test_the_new_state_is_committed_before_hooks_after_it_run(small, harness_factory):
    async with harness_factory() as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        seen = []

        async def end_of_run(call):
            seen.append(h.manager.store.load(env.id).state)  # a crash now must not lose the STOP
            return "done"

        h.plugins["rec"].behaviour["EndOfRun"] = end_of_run
        await h.manager.control(env.id, "STOP_ACTIVITY")
        assert seen == ["CONFIGURED"]


@pytest.mark.parametrize(
    ("state", "transition"),
    [
        ("RUNNING", "STOP_ACTIVITY"),  # before the tasks answered (the record written when the run's end was stamped)
        ("CONFIGURED", "STOP_ACTIVITY"),  # in its enter/after hooks, the tasks stopped
        ("RUNNING", "GO_ERROR"),
        ("ERROR", "GO_ERROR"),  # in its own enter/after hooks: no GO_ERROR can end the run any more
    ],
)
async def test_a_run_whose_end_the_core_stopped_during_is_ended_by_the_restart(
    small, harness_factory, state, transition
):
    harness = harness_factory()
    async with harness as h:
        env = await h.manager.create(small, "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        env_id = env.id
    # the record the core left when it was killed during that transition (as each writes it before its hooks go on)
    store = EnvironmentStore(harness.tmp_path / "data" / "environments.sqlite")
    stored = store.load(env_id)
    user_vars = stored.snapshot["role_vars"]["small"]["user_vars"]
    user_vars["run_end_time_ms"] = str(int(user_vars["run_start_time_ms"]) + 1)
    store.save(
        environment_id=env_id,
        created_ms=stored.created_ms,
        updated_ms=stored.updated_ms,
        template=stored.template,
        state=state,
        current_run=1,
        last_run=0,
        snapshot={**stored.snapshot, "transition": transition},
    )
    store.close()
    manager = harness.new_manager()
    await manager.start()
    try:
        again = manager.get(env_id)
        reason = f"the core stopped during {transition} of run 1"
        assert (again.state, again.current_run, again.last_run) == ("ERROR", 0, 1)
        assert again.last_transition[:2] == (transition, reason)
        assert "run_number" not in again.stack()
        assert again.stack()["run_end_time_ms"] == user_vars["run_end_time_ms"]  # the end stamped before the kill
        if state != "ERROR":  # GO_ERROR stopped the tasks still RUNNING
            assert all(t.state != "RUNNING" for t in again.controlled_tasks())
        (run,) = manager.store.runs(env_id)
        assert run.end_ms is not None
        (marker,) = manager.journal.markers(1)  # the run's marker ends with that transition's failure
        last = list(manager.journal.entries(run_number=1))[-1]
        assert marker.end_seq == last.seq
        ended = last.event.environmentEvent
        assert (ended.transition, ended.transitionStatus, ended.error) == (transition, model.DONE_ERROR, reason)
        stored = manager.store.load(env_id)
        assert (stored.state, stored.current_run, stored.snapshot["transition"]) == ("ERROR", 0, "")
    finally:
        await manager.close()
