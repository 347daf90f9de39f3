"""Watchdogs on the engine (in-process tasks): which environments they act on, grace, the event action, and
definitions that are refused with the watchdog and the field named."""

from __future__ import annotations

import asyncio

import pytest

from ecs_engine.environment import HookResult
from ecs_engine.environment.watchdog_rules import BEAM_DUMP, parse_rule, watchdog_rules
from ecs_engine.environment.watchdogs import Scope, Watchdogs
from ecs_engine.errors import UsageError
from ecs_engine.protocols import common_pb2, events_pb2
from tests.environment.conftest import source_of
from tests.environment.workflows import RESTARTING, SMALL
from tests.waiting import eventually_async


@pytest.fixture
def small(small_repo):
    small_repo.workflow("small", SMALL)
    return source_of(small_repo)


def beam_mode(mode: str) -> events_pb2.Event:
    info = common_pb2.BeamInfo(beamMode=common_pb2.BeamMode.Value(mode), fillNumber=7)
    return events_pb2.Event(beamModeEvent=events_pb2.Ev_BeamModeEvent(beamInfo=info))


def stop_users(h, environment_id: str) -> list[tuple[str, int]]:
    return [
        (e.runEvent.lastRequestUser.name, e.runEvent.lastRequestUser.externalId)
        for e in h.manager.journal.events(environment_id=environment_id, kinds=["runEvent"])
        if e.runEvent.transition == "STOP_ACTIVITY"
    ]


async def running(h, small, workflow="small", **user_vars: str):
    env = await h.manager.create(small, workflow, user_vars=user_vars)
    await h.manager.control(env.id, "START_ACTIVITY")
    return env


async def test_a_beam_dump_stops_only_the_runs_that_asked_for_it_as_user_lhc(small, harness_factory):
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [BEAM_DUMP])
        await watchdogs.start()
        stops = await running(h, small, stop_at_beam_dump="true")
        keeps = await running(h, small, detectors='["ITS"]')
        h.manager.bus.publish(beam_mode("STABLE_BEAMS"))
        h.manager.bus.publish(beam_mode("BEAM_DUMP"))
        await eventually_async(lambda: stops.state == "CONFIGURED" and stops.busy is None, what="the beam-dump stop")
        assert keeps.state == "RUNNING"
        assert stop_users(h, stops.id) and set(stop_users(h, stops.id)) == {("LHC", 60)}
        await watchdogs.close()


async def test_a_beam_dump_whose_stop_fails_leaves_the_environment_in_error(small, harness_factory):
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [BEAM_DUMP])
        await watchdogs.start()
        env = await running(h, small, stop_at_beam_dump="true")
        h.driver.fail("*host-flp002.worker", "STOP", "the device does not stop")
        h.manager.bus.publish(beam_mode("LOST_BEAMS"))
        await eventually_async(lambda: env.state == "ERROR" and env.busy is None, what="GO_ERROR after the failed stop")
        assert set(stop_users(h, env.id)) == {("LHC", 60)}
        await watchdogs.close()


async def test_a_beam_dump_during_a_task_restart_stops_the_run_after_it(small_repo, harness_factory):
    """A task's restart is not a transition in progress: the beam dump's stop waits for it, the run does not go on."""
    small_repo.workflow("restarting", RESTARTING)
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [BEAM_DUMP])
        await watchdogs.start()
        env = await running(h, source_of(small_repo), "restarting", stop_at_beam_dump="true")
        h.driver.delay("deploy", 0.5)
        monitor = next(t for t in env.tasks.values() if t.path == "restarting.monitor")
        h.driver.process_exit(monitor, HookResult(exit_code=1, final_status="FAILED", error="exited with code 1"))
        await eventually_async(lambda: env.busy is not None and env.busy[0] == "RESTART", what="the restart")
        h.manager.bus.publish(beam_mode("BEAM_DUMP"))
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="the beam-dump stop")
        assert stop_users(h, env.id) and set(stop_users(h, env.id)) == {("LHC", 60)}
        await watchdogs.close()


async def watching_the_magnet(h, small, rule):
    """A started watchdog of ``rule`` on the runtime entry lab/current (500 to begin with) and a RUNNING
    environment."""
    h.config.runtime_set("lab", "current", "500")
    watchdogs = Watchdogs(h.manager, [rule], poll_interval=0.01)
    await watchdogs.start()
    return watchdogs, await running(h, small)


async def test_a_condition_that_clears_within_its_grace_time_does_nothing(small, harness_factory):
    rule = parse_rule("magnet", {"runtime": "lab/current", "when": "< 100", "grace": "300ms"}, "test")
    async with harness_factory() as h:
        watchdogs, env = await watching_the_magnet(h, small, rule)
        h.config.runtime_set("lab", "current", "50")
        await eventually_async(lambda: watchdogs.dogs["magnet"].state == "holding", what="the condition to hold")
        h.config.runtime_set("lab", "current", "150")
        await eventually_async(lambda: watchdogs.dogs["magnet"].state == "clear", what="the condition to clear")
        await eventually_async(lambda: any("cleared" in m for _, m in watchdogs.dogs["magnet"].history), what="history")
        await watchdogs.close()
        assert env.state == "RUNNING" and not stop_users(h, env.id)


async def test_a_run_started_and_stopped_by_hand_meanwhile_is_not_resumed(small, harness_factory):
    """With resume, a watchdog starts again what it stopped, not what an operator stopped after it."""
    rule = parse_rule("magnet", {"runtime": "lab/current", "when": "< 100", "resume": True}, "test")
    async with harness_factory() as h:
        watchdogs, env = await watching_the_magnet(h, small, rule)
        h.config.runtime_set("lab", "current", "50")
        await eventually_async(lambda: env.state == "CONFIGURED" and env.busy is None, what="the watchdog's stop")
        await h.manager.control(env.id, "START_ACTIVITY")  # run 2, by hand, while the condition holds
        await h.manager.control(env.id, "STOP_ACTIVITY")  # and stopped by hand
        h.config.runtime_set("lab", "current", "500")
        said = f"not resuming {env.id}: run 2 was started and stopped since"
        await eventually_async(lambda: any(m == said for _, m in watchdogs.dogs["magnet"].history), what="no resume")
        await watchdogs.close()
        assert env.state == "CONFIGURED" and env.last_run == 2


async def test_the_event_action_announces_to_the_environments_and_stops_nothing(small, harness_factory):
    rule = parse_rule(
        "notice", {"event": "beamModeEvent.beamInfo.beamMode", "when": "== ADJUST", "action": "event"}, "t"
    )
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [rule])
        await watchdogs.start()
        env = await running(h, small)
        h.manager.bus.publish(beam_mode("ADJUST"))
        await eventually_async(lambda: watchdogs.dogs["notice"].state == "tripped", what="the watchdog to act")
        await watchdogs.close()
        messages = [e.environmentEvent.message for e in h.manager.journal.events(environment_id=env.id)]
        assert "watchdog notice: beamModeEvent.beamInfo.beamMode is ADJUST (== ADJUST)" in messages
        assert env.state == "RUNNING"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"runtime": "lab/current", "when": "< lots"},
            "watchdog w (settings): when: '< lots': '<' compares with a number",
        ),
        ({"runtime": "lab", "when": "< 1"}, "watchdog w (settings): runtime: 'lab': expected COMPONENT/KEY"),
        ({"when": "< 1"}, "watchdog w (settings): expected exactly one of runtime, event, task"),
        ({"event": "nope.field", "when": "== X"}, "watchdog w (settings): event: 'nope.field': expected PAYLOAD.FIELD"),
        ({"runtime": "a/b", "when": "== 1", "action": "pause"}, "watchdog w (settings): action: 'pause'"),
        ({"runtime": "a/b", "when": "== 1", "grace": "soon"}, "watchdog w (settings): grace:"),
        ({"runtime": "a/b", "when": "== 1", "graec": "1s"}, "watchdog w (settings): unknown field 'graec'"),
    ],
)
def test_a_bad_definition_names_the_watchdog_and_the_field(body, error):
    with pytest.raises(UsageError) as raised:
        watchdog_rules({"w": body}, None)
    assert raised.value.message.startswith(error)


def test_the_store_overrides_the_settings_file_which_can_disable_the_built_in_beam_dump():
    rules = watchdog_rules(
        {"beam-dump": {"enabled": False}, "m": {"runtime": "a/b", "when": "== 1"}},
        {"m": {"runtime": "a/c", "when": "in [1, 2]", "resume": True}},
    )
    assert [(r.name, r.subject, r.origin, r.resume) for r in rules] == [("m", "a/c", "configuration store", True)]


async def test_a_task_down_for_its_grace_time_stops_only_its_own_environment(small, harness_factory):
    rule = parse_rule("spare-down", {"task": "*.spare", "when": "in [INACTIVE]", "grace": "100ms"}, "test")
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [rule], poll_interval=0.01)
        await watchdogs.start()
        lost = await running(h, small)
        other = await running(h, small, detectors='["ITS"]')
        spare = next(t for t in lost.tasks.values() if t.path.endswith(".spare"))
        h.driver.lose(spare)  # a non-critical task: the environment stays RUNNING by itself
        await eventually_async(lambda: lost.state == "CONFIGURED" and lost.busy is None, what="the watchdog's stop")
        assert set(stop_users(h, lost.id)) == {("spare-down", 0)}
        assert other.state == "RUNNING"
        await watchdogs.close()


async def test_a_store_that_cannot_be_read_leaves_the_last_value_and_says_so_once(small, harness_factory, monkeypatch):
    from ecs_engine.errors import UnreachableError

    rule = parse_rule("magnet", {"runtime": "lab/current", "when": "< 100"}, "test")
    async with harness_factory() as h:
        h.config.runtime_set("lab", "current", "500")
        watchdogs = Watchdogs(h.manager, [rule], poll_interval=0.01)
        await watchdogs.start()
        dog = watchdogs.dogs["magnet"]
        await eventually_async(lambda: dog.scopes.get("", None) is not None, what="a first reading")

        def down(component: str, key: str) -> str:
            raise UnreachableError("the store at sqlite:///x is down")

        monkeypatch.setattr(h.config, "runtime_get", down)
        await eventually_async(lambda: len(dog.history) > 0, what="the failure in the history")
        await asyncio.sleep(0.05)  # more failed readings
        await watchdogs.close()
        assert [m for _, m in dog.history] == ["cannot read runtime lab/current: the store at sqlite:///x is down"]
        assert dog.scopes[""].value == "500" and dog.state == "clear"


async def test_a_task_pattern_that_matches_no_task_says_so(small, harness_factory):
    from ecs_engine.server.watchdog_service import watchdog_message

    one_level = parse_rule("one-level", {"task": "*.worker", "when": "in [INACTIVE]"}, "test")
    any_level = parse_rule("any-level", {"task": "**.worker", "when": "in [INACTIVE]"}, "test")
    async with harness_factory() as h:
        watchdogs = Watchdogs(h.manager, [one_level, any_level], poll_interval=0.01)
        await watchdogs.start()
        env = await running(h, small)
        await eventually_async(lambda: env.id in watchdogs.dogs["one-level"].scopes, what="the tasks looked at")
        await eventually_async(
            lambda: watchdogs.dogs["any-level"].scopes.get(env.id, Scope()).value == "RUNNING", what="a running look"
        )
        statuses = {s["name"]: s for s in watchdogs.status()}
        await watchdogs.close()
    expected = f"task *.worker matches no task of environment {env.id} ('*' stays within one level of the path, '**' crosses levels)"
    assert statuses["one-level"]["warnings"] == [expected]
    assert list(watchdog_message(statuses["one-level"]).warnings) == [expected]
    assert statuses["any-level"]["warnings"] == [] and statuses["any-level"]["values"][env.id] == "RUNNING"
