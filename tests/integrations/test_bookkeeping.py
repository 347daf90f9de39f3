"""The ``bookkeeping`` plugin against ``coconut mock bookkeeping`` (a process of its own): v1.45's legacy calls,
``RetrieveFillInfo`` from the run's fill or the last fill in stable beams, and a failure that fails only its call."""

from __future__ import annotations

import pytest

from ecs_backends.integrations.bookkeeping import BookkeepingPlugin
from ecs_engine.environment.runvars import FILL_INFO_KEYS
from ecs_engine.fsm import State
from tests.environment.conftest import source_of
from tests.integrations.mocks import MockProcess, run_mock
from tests.integrations.service_harness import ServiceHarness

#: readout-dataflow v1.45's bookkeeping roles (bookkeeping_consuming_kafka false), fewer UpdateEnv
WORKFLOW = """
name: bk
defaults:
  run_type: PHYSICS
  lhc_period: LHC26x
roles:
  - name: work
    task:
      load: worker
  - name: bookkeeping
    defaults:
      legacy: "true"
    roles:
      - name: startenv
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.CreateEnv(), trigger: before_DEPLOY, timeout: 10s, critical: false}
      - name: configure
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.UpdateEnv(), trigger: after_CONFIGURE+100, timeout: 10s, critical: false}
      - name: startrun
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.StartOfRun(), trigger: before_START_ACTIVITY+10, timeout: 10s, critical: false}
      - name: retrievefillinfoatsor
        call: {func: bookkeeping.RetrieveFillInfo(), trigger: before_START_ACTIVITY+11, timeout: 10s, critical: false}
      - name: updaterunstart
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.UpdateRunStart(), trigger: after_START_ACTIVITY+100, timeout: 10s, critical: false}
      - name: updaterunstop
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.UpdateRunStop(), trigger: after_STOP_ACTIVITY+100, timeout: 10s, critical: false}
      - name: updaterundestroy
        enabled: "{{ legacy == 'true' }}"
        call: {func: bookkeeping.UpdateRunStop(), trigger: DESTROY, timeout: 10s, critical: false}
"""
TPC_AND_ITS = {"hosts": '["alio2-cr1-flp001","alio2-cr1-flp187"]'}
FILL = {"fillNumber": 9000, "beamType": "PROTON-PROTON", "fillingSchemeName": "25ns_2352b", "stableBeamsStart": 1700}


@pytest.fixture
def bk(small_repo):
    small_repo.workflow("bk", WORKFLOW)
    return source_of(small_repo)


async def test_the_legacy_calls_record_the_environment_and_its_run(tmp_path, bk):
    with MockProcess("bookkeeping", tmp_path) as mock:
        async with ServiceHarness(tmp_path, BookkeepingPlugin(mock.address)) as h:
            env = await h.manager.create(bk, "bk", user_vars=TPC_AND_ITS)
            await h.manager.control(env.id, "START_ACTIVITY")
            run = env.current_run
            await h.manager.control(env.id, "STOP_ACTIVITY")
            await h.manager.destroy(env.id)  # no run then: nothing to update
    records = [(r["operation"], r["request"]) for r in mock.records()]
    assert [op for op, _ in records] == [
        "EnvironmentService.Create",
        "EnvironmentService.Update",
        *("RunService.Create", "LogService.Create", "FlpService.CreateMany"),
        *("RunService.Get", "LhcFillService.GetLast"),
        "RunService.Update",
        "RunService.Update",
    ]
    created, updated, run_created, log, flps, _, _, at_start, at_stop = (r for _, r in records)
    assert created["id"] == env.id and created["status"] == "STANDBY"
    assert env.id in created["rawConfiguration"]
    assert updated == {"id": env.id, "status": "CONFIGURED"}
    assert run_created["runNumber"] == run and run_created["environmentId"] == env.id
    assert run_created["runType"] == "RUN_TYPE_PHYSICS" and run_created["nFlps"] == 2
    assert run_created["detectors"] == ["DETECTOR_ITS", "DETECTOR_TPC"] and run_created["nDetectors"] == 2
    assert log["runNumbers"] == [run]
    assert [f["hostname"] for f in flps["flps"]] == ["alio2-cr1-flp001", "alio2-cr1-flp187"]
    assert at_start["runNumber"] == run and int(at_start["timeO2Start"]) > 0
    assert at_start["triggerValue"] == "OFF" and at_start["lhcPeriod"] == "LHC26x"
    assert at_stop["runNumber"] == run and int(at_stop["timeO2End"]) >= int(at_start["timeO2Start"])


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param({"fill": FILL, "run_fill": "true"}, "9000", id="the run's fill"),
        pytest.param({"fill": FILL}, "9000", id="the last fill, in stable beams"),
        pytest.param({"fill": {**FILL, "stableBeamsEnd": 1800}}, None, id="the last fill, beams dumped: none"),
    ],
)
async def test_fill_info_comes_from_the_run_or_else_from_the_last_fill_in_stable_beams(tmp_path, bk, script, expected):
    with MockProcess("bookkeeping", tmp_path, script=script) as mock:
        async with ServiceHarness(tmp_path, BookkeepingPlugin(mock.address)) as h:
            env = await h.manager.create(bk, "bk", user_vars=TPC_AND_ITS)
            await h.manager.control(env.id, "START_ACTIVITY")
            root = dict(env.root.user_vars)
            await h.manager.destroy(env.id, allow_in_running_state=True)
    assert root.get("fill_info_fill_number") == expected
    if expected:
        assert root["fill_info_beam_type"] == "PROTON-PROTON" and root["fill_info_stable_beams_start_ms"] == "1700"
    else:
        assert not set(FILL_INFO_KEYS) & set(root)
    asked = [r["operation"] for r in mock.records() if r["operation"] in ("RunService.Get", "LhcFillService.GetLast")]
    assert asked == (["RunService.Get"] if "run_fill" in script else ["RunService.Get", "LhcFillService.GetLast"])


async def test_a_bookkeeping_failure_fails_only_its_call(tmp_path, bk):
    script = {"operations": {"RunService.Create": {"fail": "UNAVAILABLE: Bookkeeping is down"}}}
    with MockProcess("bookkeeping", tmp_path, script=script) as mock:
        async with ServiceHarness(tmp_path, BookkeepingPlugin(mock.address)) as h:
            env = await h.manager.create(bk, "bk", user_vars=TPC_AND_ITS)
            await h.manager.control(env.id, "START_ACTIVITY")
            assert env.state == State.RUNNING
            failed = [
                e.callEvent.error
                for e in h.manager.journal.events(environment_id=env.id, kinds=["callEvent"])
                if e.callEvent.error
            ]
            await h.manager.destroy(env.id, allow_in_running_state=True)
    assert failed == ["Bookkeeping StartOfRun failed. REASON: RunService.Create: UNAVAILABLE: Bookkeeping is down"]
    assert "LogService.Create" not in [r["operation"] for r in mock.records()]  # the first failure ends the call


def test_the_mocks_script_errors_name_the_line(tmp_path):
    script = tmp_path / "bk.yaml"
    script.write_text("fill:\n  fillNumber: 9000\n  stableBeams: 1\n")
    result = run_mock("bookkeeping", "--port", "0", "--script", str(script))
    assert result.returncode == 2
    assert result.stderr.startswith(f"coconut: error: {script}:3: unknown key 'stableBeams' in fill")
