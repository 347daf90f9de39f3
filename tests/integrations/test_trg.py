"""The ``trg`` plugin against ``coconut mock trg`` (a process of its own): global and standalone runs, the
RunStart event stamped at the call, a failing RunStart, and reconciliation (off by default)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ecs_backends.integrations.trg import PendingRun, TrgPlugin, parse_run_list
from ecs_engine.environment import TransitionError
from ecs_engine.events import model
from ecs_engine.fsm import State
from tests.environment.conftest import source_of
from tests.integrations.mocks import MockProcess, run_mock
from tests.integrations.service_harness import ServiceHarness, integrated_service_events
from tests.waiting import eventually_async

#: readout-dataflow's trg roles (v1.45 and master), on FLPs of TPC and ITS
WORKFLOW = """
name: ctp
defaults:
  run_type: PHYSICS
  ctp_readout_enabled: "true"
roles:
  - name: work
    task:
      load: worker
  - name: trg
    defaults:
      trg_detectors: "{{ detectors }}"
      trg_global_config: GLOBAL.pd
      trg_runtime_config: ltu.cfg
    roles:
      - name: pfr
        call: {func: trg.PrepareForRun(), trigger: before_START_ACTIVITY-200, timeout: 5s}
      - name: load
        call: {func: trg.RunLoad(), trigger: before_START_ACTIVITY+10, timeout: 5s}
      - name: start
        call: {func: trg.RunStart(), trigger: after_START_ACTIVITY-10, timeout: 5s}
      - name: stop
        call: {func: trg.RunStop(), trigger: before_STOP_ACTIVITY, timeout: 5s, critical: false}
      - name: unload
        call: {func: trg.RunUnload(), trigger: after_STOP_ACTIVITY-100, timeout: 5s, critical: false}
      - name: errorcleanup
        call: {func: trg.Cleanup(), trigger: before_GO_ERROR, timeout: 5s, critical: false}
      - name: destroycleanup
        call: {func: trg.Cleanup(), trigger: DESTROY-100, timeout: 5s, critical: false}
"""
FAST_POLLING = {"trgPollingInterval": "100ms"}
TPC_AND_ITS = {"hosts": '["alio2-cr1-flp001","alio2-cr1-flp187"]'}


def requests(mock: MockProcess) -> list[tuple[str, dict]]:
    return [(r["operation"], r["request"]) for r in mock.records() if r["operation"] != "RunList"]


@pytest.fixture
def ctp(small_repo):
    small_repo.workflow("ctp", WORKFLOW)
    return source_of(small_repo)


async def test_a_global_run_is_loaded_started_stopped_and_unloaded(tmp_path, ctp):
    with MockProcess("trg", tmp_path) as mock:
        async with ServiceHarness(tmp_path, TrgPlugin(mock.address), settings=FAST_POLLING) as h:
            env = await h.manager.create(ctp, "ctp", user_vars=TPC_AND_ITS)
            await h.manager.control(env.id, "START_ACTIVITY")
            run = env.current_run
            start_time = env.root.user_vars["trg_start_time_ms"]
            await h.manager.control(env.id, "STOP_ACTIVITY")
            assert env.root.user_vars["trg_end_time_ms"] >= start_time
            await h.manager.destroy(env.id)  # nothing left loaded or started: no request
            events = integrated_service_events(h.manager, env.id)
    assert requests(mock) == [
        ("PrepareForRun", {"runtype": "PHYSICS", "detectors": "its tpc"}),
        ("RunLoad", {"runn": run, "config": "GLOBAL.pd", "detectors": "its tpc", "ctpReadoutIncluded": True}),
        ("RunStart", {"runn": run, "config": "ltu.cfg", "detector": "", "mode": "NULL", "phBc": "", "phRnd": ""}),
        ("RunStop", {"runn": run, "detector": ""}),
        ("RunUnload", {"runn": run, "detector": ""}),
    ]
    (started,) = [e for e in events if e["operation"] == "trg.RunStart()" and e["status"] == model.DONE_OK]
    assert started["name"] == "ctp.trg.start"
    assert started["payload"]["trgRequest"]["runn"] == run  # what Bookkeeping reads
    assert str(started["timestamp"]) == start_time  # stamped with the time of the call, not of the reply


async def test_a_standalone_run_names_its_detector_and_is_never_loaded(tmp_path, ctp):
    with MockProcess("trg", tmp_path) as mock:
        async with ServiceHarness(tmp_path, TrgPlugin(mock.address), settings=FAST_POLLING) as h:
            env = await h.manager.create(ctp, "ctp", user_vars={"hosts": '["alio2-cr1-flp001"]'})
            await h.manager.control(env.id, "START_ACTIVITY")
            run = env.current_run
            await h.manager.control(env.id, "STOP_ACTIVITY")
            await h.manager.destroy(env.id)
    operations = [(op, r.get("detector")) for op, r in requests(mock)]
    assert operations == [("PrepareForRun", None), ("RunStart", "tpc"), ("RunStop", "tpc")]
    assert [r["runn"] for op, r in requests(mock) if op != "PrepareForRun"] == [run, run]


async def test_a_failing_run_start_puts_the_environment_in_error_and_the_ctp_run_is_cleaned_up(tmp_path, ctp):
    script = {"operations": {"RunStart": {"rc": 5, "msg": "detector busy"}}}
    with MockProcess("trg", tmp_path, script=script) as mock:
        async with ServiceHarness(tmp_path, TrgPlugin(mock.address), settings=FAST_POLLING) as h:
            env = await h.manager.create(ctp, "ctp", user_vars=TPC_AND_ITS)
            with pytest.raises(TransitionError, match="response code 5 from TRG: detector busy"):
                await h.manager.control(env.id, "START_ACTIVITY")
            await eventually_async(lambda: env.state == State.ERROR and env.busy is None, what="GO_ERROR")
            run = env.last_run
            unloaded = mock.wait_for(lambda r: r["operation"] == "RunUnload")
            shown = h.services[0].environments_data([env.id])
            await h.manager.destroy(env.id)
    assert unloaded["request"]["runn"] == run  # the loaded run does not stay on the CTP
    assert [op for op, _ in requests(mock)].count("RunUnload") == 1  # forgotten once unloaded
    assert json.loads(shown[env.id])["runStarted"] is None  # the CTP never started it


async def test_a_ctp_that_does_not_answer_in_time_is_a_timeout_naming_the_budget(tmp_path):
    script = {"operations": {"RunLoad": {"delay": "3s"}}}
    with MockProcess("trg", tmp_path, script=script) as mock:
        plugin = TrgPlugin(mock.address)
        plugin.state_dir, plugin.settings = tmp_path / "trg", FAST_POLLING
        await plugin.start()
        try:
            published: list[tuple] = []
            stack = {"environment_id": "env1", "__call_timeout": "1s", "run_number": "5", **TPC_AND_ITS}
            stack["trg_detectors"] = '["TPC","ITS"]'
            call = SimpleNamespace(
                var_stack=stack,
                func="trg.RunLoad()",
                publish=lambda *args, **kwargs: published.append((args, kwargs)),
            )
            await plugin.call_stack(call).RunLoad()
        finally:
            await plugin.stop()
    assert stack["__call_error_reason"] == "no answer from TRG within the call's timeout (1s)"
    (_, status), done = published[-1]
    assert status == model.DONE_TIMEOUT and done["error"] == stack["__call_error_reason"]


async def test_reconciliation_is_off_by_default(tmp_path):
    stray = {"runs": [{"runn": 9999, "global": "true", "running": "true", "detectors": ["hmp", "tof"]}]}
    with MockProcess("trg", tmp_path, script=stray) as mock:
        async with ServiceHarness(tmp_path, TrgPlugin(mock.address), settings=FAST_POLLING) as h:
            plugin = h.services[0]
            mock.wait_for(lambda r: r["operation"] == "RunList")
            await eventually_async(lambda: '"number": 9999' in plugin.data()["ctpRuns"], what="the CTP's runs listed")
            listed = len(mock.records())
            await eventually_async(lambda: len(mock.records()) >= listed + 2, what="two more polls")
            assert plugin.data()["reconciliation"] == "off"
    assert {r["operation"] for r in mock.records()} == {"RunList"}  # the other system's run is left alone


async def test_reconciliation_when_enabled_stops_and_unloads_a_run_no_environment_knows(tmp_path, ctp):
    stray = {"runs": [{"runn": 9999, "global": "true", "running": "true", "detectors": ["hmp"]}]}
    settings = {**FAST_POLLING, "trgReconciliationEnabled": True}
    with MockProcess("trg", tmp_path, script=stray) as mock:
        async with ServiceHarness(tmp_path, TrgPlugin(mock.address), settings=settings) as h:
            env = await h.manager.create(ctp, "ctp", user_vars=TPC_AND_ITS)
            await h.manager.control(env.id, "START_ACTIVITY")
            stopped = mock.wait_for(lambda r: r["operation"] == "RunStop")
            unloaded = mock.wait_for(lambda r: r["operation"] == "RunUnload")
            listed = len(mock.records())
            await eventually_async(lambda: len(mock.records()) >= listed + 2, what="two more polls")
            assert env.state == State.RUNNING  # its own run is known: left running
            await h.manager.control(env.id, "STOP_ACTIVITY")
            await h.manager.destroy(env.id)
            events = [e for e in integrated_service_events(h.manager, "") if e["operation"] == "trg.RunStop()"]
    assert stopped["request"]["runn"] == unloaded["request"]["runn"] == 9999
    assert [r["request"]["runn"] for r in mock.records() if r["operation"] == "RunStop"] == [9999, env.last_run]
    assert events and events[0]["payload"]["trgRequest"]["runn"] == 9999


def test_run_list_lines_are_read_as_ctp_writes_them():
    text = "G 511713 R its, mft, tpc  run511713\nS 2222 L hmp\nG 12 R daq\ngarbage\n"
    runs = parse_run_list(text)
    assert [(r.number, r.is_global, r.running, r.detectors) for r in runs] == [
        (511713, True, True, ("its", "mft", "tpc")),
        (2222, False, False, ("hmp",)),
    ]


def test_the_mocks_script_errors_name_the_line(tmp_path):
    script = tmp_path / "trg.yaml"
    script.write_text("runs:\n  - {runn: 9999}\noperations:\n  RunStart:\n    rc: five\n")
    result = run_mock("trg", "--port", "0", "--script", str(script))
    assert result.returncode == 2
    assert result.stderr.strip() == f"coconut: error: {script}:5: 'rc' is 'five', expected a whole number"


async def test_the_ctp_going_away_shows_in_the_connection_state_and_polling_resumes_when_it_is_back(tmp_path):
    with MockProcess("trg", tmp_path) as first:
        async with ServiceHarness(tmp_path, TrgPlugin(first.address), settings=FAST_POLLING) as h:
            plugin = h.services[0]
            await eventually_async(lambda: plugin.data()["ctpRuns"] == "[]", what="the first RunList")
            first.kill()
            await eventually_async(
                lambda: plugin.connection_state() != "READY", timeout=10, what="the state to leave READY"
            )
            again = tmp_path / "again"
            again.mkdir()
            stray = {"runs": [{"runn": 4242, "detectors": ["hmp"]}]}
            with MockProcess("trg", again, script=stray, port=first.port):
                await eventually_async(lambda: "4242" in plugin.data()["ctpRuns"], timeout=30, what="RunList again")
                assert plugin.connection_state() == "READY"


async def test_a_restarted_core_still_stops_the_run_an_environment_started(tmp_path):
    started = {"runs": [{"runn": 1234, "running": "true", "detectors": ["tpc"]}]}
    with MockProcess("trg", tmp_path, script=started) as mock:
        before = TrgPlugin(mock.address)
        before.state_dir = tmp_path / "trg"
        await before.remember("stop", "env1", PendingRun(1234, "tpc"))  # what its RunStart left
        after = TrgPlugin(mock.address)  # the plugin of the next core, same state directory
        after.state_dir, after.settings = before.state_dir, FAST_POLLING
        after.init("framework")
        await after.start()
        try:
            published: list[tuple] = []
            call = SimpleNamespace(
                var_stack={"environment_id": "env1", "__call_timeout": "5s"},
                func="trg.EnsureRunStop()",
                publish=lambda *args, **kwargs: published.append(args),
            )
            await after.call_stack(call).EnsureRunStop()
        finally:
            await after.stop()
        assert "__call_error" not in call.var_stack
        assert after.pending("stop", "env1") is None
    (stop,) = [r["request"] for r in mock.records() if r["operation"] == "RunStop"]
    assert stop == {"runn": 1234, "detector": "tpc"}
