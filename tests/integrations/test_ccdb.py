"""The ``ccdb`` plugin: the GRP-creation command (here ``coconut mock ccdb``, a process of its own) run with the
arguments of integrations.md §1.7, once at START (``--refresh``) and once at the end of each run, never failing
the call."""

from __future__ import annotations

import shlex
import time

import pytest
import yaml

from ecs_backends.integrations.ccdb import CcdbPlugin, grp_arguments
from ecs_backends.integrations.trg import TrgPlugin
from ecs_engine.environment import TransitionError
from ecs_engine.events import model
from ecs_engine.fsm import State
from tests.environment.conftest import source_of
from tests.integrations.mocks import COCONUT, MockProcess, run_mock
from tests.integrations.service_harness import ServiceHarness, integrated_service_events
from tests.waiting import eventually_async

CCDB = "http://ccdb.example:8080"
WORKFLOW = """
name: grp
defaults:
  hosts: '["alio2-cr1-flp001","alio2-cr1-flp187"]'
  lhc_period: LHC26x
  pdp_n_hbf_per_tf: "128"
  run_type: TECHNICAL
  ctp_readout_enabled: "true"
  ccdb_timeout: 10s
roles:
  - name: work
    task:
      load: worker
  - name: ccdb
    roles:
      - name: start
        call: {func: ccdb.RunStart(), trigger: before_START_ACTIVITY+100, timeout: "{{ ccdb_timeout }}", critical: false}
      - name: stop
        call: {func: ccdb.RunStop(), trigger: after_STOP_ACTIVITY, timeout: "{{ ccdb_timeout }}", critical: false}
      - name: error
        call: {func: ccdb.RunStop(), trigger: after_GO_ERROR, timeout: "{{ ccdb_timeout }}", critical: false}
      - name: destroy
        call: {func: ccdb.RunStop(), trigger: DESTROY, timeout: "{{ ccdb_timeout }}", critical: false}
"""
#: readout-dataflow v1.45's ccdb and trg calls: the trg calls set the trigger times, RunStart after the START
#: object; no RunStop after GO_ERROR, so a run whose START failed owes its final object at DESTROY
WITH_TRG = """
name: grp-trg
defaults:
  hosts: '["alio2-cr1-flp001","alio2-cr1-flp187"]'
  lhc_period: LHC26x
  pdp_n_hbf_per_tf: "128"
  run_type: PHYSICS
roles:
  - name: work
    task:
      load: worker
  - name: ccdb
    roles:
      - name: start
        call: {func: ccdb.RunStart(), trigger: before_START_ACTIVITY+100, timeout: 10s, critical: false}
      - name: stop
        call: {func: ccdb.RunStop(), trigger: after_STOP_ACTIVITY, timeout: 10s, critical: false}
      - name: destroy
        call: {func: ccdb.RunStop(), trigger: DESTROY, timeout: 10s, critical: false}
  - name: trg
    defaults: {trg_detectors: '["TPC","ITS"]'}
    roles:
      - name: load
        call: {func: trg.RunLoad(), trigger: before_START_ACTIVITY+10, timeout: 5s}
      - name: start
        call: {func: trg.RunStart(), trigger: after_START_ACTIVITY-10, timeout: 5s}
      - name: stop
        call: {func: trg.RunStop(), trigger: before_STOP_ACTIVITY, timeout: 5s, critical: false}
      - name: unload
        call: {func: trg.RunUnload(), trigger: after_STOP_ACTIVITY-100, timeout: 5s, critical: false}
      - name: cleanup
        call: {func: trg.Cleanup(), trigger: DESTROY-100, timeout: 5s, critical: false}
"""


def grp_records(record_file) -> list[dict]:
    if not record_file.exists():
        return []
    return [yaml.safe_load(line) for line in record_file.read_text().splitlines()]


@pytest.fixture
def grp(tmp_path, small_repo):
    """(harness, record file, script file): the plugin's command is the mock recording to the file."""
    small_repo.workflow("grp", WORKFLOW)
    record, script = tmp_path / "grp.jsonl", tmp_path / "grp-script.yaml"
    script.write_text("exit_status: 0\n")
    command = f"{shlex.quote(str(COCONUT))} mock ccdb --record {record} --script {script} --"
    harness = ServiceHarness(tmp_path, CcdbPlugin(CCDB), settings={"ccdbGrpCreateCommand": command})
    return harness, record, script


async def test_one_object_at_start_with_refresh_and_one_at_the_end_of_each_run(grp, small_repo):
    harness, record, _ = grp
    async with harness as h:
        env = await h.manager.create(source_of(small_repo), "grp")
        await h.manager.control(env.id, "START_ACTIVITY")
        started = grp_records(record)
        await h.manager.control(env.id, "STOP_ACTIVITY")
        await h.manager.destroy(env.id)  # its RunStop finds the run done: no third object
    assert len(started) == 1
    at_start, at_stop = (r["request"] for r in grp_records(record))
    for request in (at_start, at_stop):
        assert request["run"] == env.last_run
        assert request["period"] == "LHC26x" and request["hbf_per_tf"] == 128
        assert request["run_type"] == 2  # TECHNICAL in the common run type enum
        assert request["detectors"] == ["ITS", "TPC", "TRG"]  # ctp_readout_enabled adds TRG
        assert request["flps"] == ["001", "187"] and request["server"] == CCDB
        assert request["start"] is not None
    assert at_start["refresh"] is True and at_start["end"] is None
    assert at_stop["refresh"] is False and at_stop["end"] >= at_stop["start"]


async def test_a_failing_or_hanging_command_never_fails_the_call(grp, small_repo):
    harness, record, script = grp
    async with harness as h:
        script.write_text("exit_status: 3\noutput: no CCDB today\n")
        env = await h.manager.create(source_of(small_repo), "grp", user_vars={"ccdb_timeout": "6s"})
        await h.manager.control(env.id, "START_ACTIVITY")
        assert env.state == State.RUNNING
        script.write_text("delay: 60s\n")
        begun = time.monotonic()
        await h.manager.control(env.id, "STOP_ACTIVITY")
        assert time.monotonic() - begun < 20  # killed at the call's 6 s, not waited for
        assert env.state == State.CONFIGURED
        events = [e for e in integrated_service_events(h.manager, env.id) if e["status"] != model.STARTED]
        await h.manager.destroy(env.id)
    failed, timed_out = events
    assert failed["operation"] == "ccdb.RunStart()" and failed["status"] == model.DONE_ERROR
    assert "exited with status 3" in failed["error"] and "no CCDB today" in failed["error"]
    assert timed_out["operation"] == "ccdb.RunStop()" and timed_out["status"] == model.DONE_TIMEOUT
    assert len(grp_records(record)) == 2


def test_the_arguments_follow_the_variables():
    stack = {
        "detectors": '["TPC"]',
        "pdp_n_hbf_per_tf": "32",
        "run_type": "COSMICS",
        "run_start_time_ms": "1000",
        "run_end_completion_time_ms": "5000",
        "pdp_override_run_start_time": "200",
        "trg_start_time_ms": "1100",
        "trg_end_time_ms": "4900",
        "original_run_number": "77",
        "hosts": '["alio2-cr1-flp145","localhost"]',
    }
    args = grp_arguments(stack, 12, CCDB, refresh=False)
    assert args == [
        *("-p", "Unknown", "-r", "12", "-n", "32", "-t", "14", "-d", "TPC"),
        *("-s", "200", "-e", "4200"),  # the override moves start and end, keeping the duration
        *("--start-time-ctp", "1100", "--end-time-ctp", "4900", "-f", "145", "-o", "77", "--ccdb-server", CCDB),
    ]
    with pytest.raises(ValueError, match="lhc_period is empty"):
        grp_arguments({**stack, "lhc_period": ""}, 12, CCDB, refresh=False)
    with pytest.raises(ValueError, match="pdp_n_hbf_per_tf is not a number"):
        grp_arguments({**stack, "pdp_n_hbf_per_tf": ""}, 12, CCDB, refresh=False)


def test_the_mock_refuses_arguments_the_real_tool_would_and_a_bad_script(tmp_path):
    refused = run_mock("ccdb", "--", "-p", "LHC26x", "-r", "one", "-n", "1", "-t", "1", "--ccdb-server", CCDB)
    assert refused.returncode == 2 and "argument -r: invalid int value: 'one'" in refused.stderr
    script = tmp_path / "bad.yaml"
    script.write_text("delay: 1s\nexit_code: 1\n")
    bad = run_mock(
        "ccdb", "--script", str(script), "--", "-p", "x", "-r", "1", "-n", "1", "-t", "1", "--ccdb-server", CCDB
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"coconut: error: {script}:2: unknown key 'exit_code' in the script (known: exit_status, delay, output)"
    )


async def test_the_start_object_of_a_second_run_carries_no_trigger_times_of_the_first(tmp_path, grp, small_repo):
    harness, record, _ = grp
    small_repo.workflow("grp-trg", WITH_TRG)
    with MockProcess("trg", tmp_path) as ctp:
        harness.services.append(TrgPlugin(ctp.address))
        async with harness as h:
            env = await h.manager.create(source_of(small_repo), "grp-trg")
            for _ in range(2):
                await h.manager.control(env.id, "START_ACTIVITY")
                await h.manager.control(env.id, "STOP_ACTIVITY")
            await h.manager.destroy(env.id)
    _, stop1, start2, stop2 = (r["request"] for r in grp_records(record))
    assert stop1["start_ctp"] >= stop1["start"] and stop1["end_ctp"] >= stop1["start_ctp"]
    assert start2["run"] == stop2["run"] == env.last_run
    assert start2["start_ctp"] is None and start2["end_ctp"] is None  # not known yet: left out
    assert stop2["start_ctp"] >= stop2["start"] > stop1["end_ctp"]


async def test_a_run_whose_start_failed_gets_its_final_object_at_destroy(tmp_path, grp, small_repo):
    harness, record, _ = grp
    small_repo.workflow("grp-trg", WITH_TRG)
    script = {"operations": {"RunStart": {"rc": 5, "msg": "detector busy"}}}
    with MockProcess("trg", tmp_path, script=script) as ctp:
        harness.services.append(TrgPlugin(ctp.address))
        async with harness as h:
            env = await h.manager.create(source_of(small_repo), "grp-trg")
            with pytest.raises(TransitionError, match="detector busy"):
                await h.manager.control(env.id, "START_ACTIVITY")
            await eventually_async(lambda: env.state == State.ERROR and env.busy is None, what="GO_ERROR")
            assert harness.services[0].data()["runsAwaitingFinalObject"] == f"[{env.last_run}]"
            await h.manager.destroy(env.id)
            owed = harness.services[0].data()["runsAwaitingFinalObject"]
    at_start, final = (r["request"] for r in grp_records(record))
    assert final["run"] == at_start["run"] == env.last_run
    assert final["refresh"] is False and final["end"] >= final["start"]
    assert owed == "[]"


async def test_a_run_whose_environment_went_without_run_stop_is_dropped_with_a_logged_reason(grp, small_repo, caplog):
    harness, record, _ = grp
    small_repo.workflow(
        "grp-start", WORKFLOW.replace("name: grp\n", "name: grp-start\n").split("      - name: stop")[0]
    )
    async with harness as h:
        env = await h.manager.create(source_of(small_repo), "grp-start")
        await h.manager.control(env.id, "START_ACTIVITY")
        ccdb = harness.services[0]
        assert ccdb.data()["runsAwaitingFinalObject"] == f"[{env.current_run}]"
        run = env.current_run
        await h.manager.destroy(env.id, force=True)  # its workflow has no ccdb.RunStop()
        assert ccdb.data()["runsAwaitingFinalObject"] == "[]"
    assert len(grp_records(record)) == 1
    assert f"run {run} gets no final GRP object: environment {env.id} is gone without ccdb.RunStop()" in caplog.text
