"""The dcs plugin against the DCS mock running as a process of its own: subscription, requests, grace periods,
stream endings, owed EORs (kept across a restart), and a DCS that dies and comes back."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ecs_backends.integrations.dcs import DcsPlugin
from ecs_engine.config import Configuration
from ecs_engine.events import model
from ecs_engine.offload import offload
from tests.waiting import eventually_async

from .mocks import MockProcess, reserved_port

FRAMEWORK_ID = "framework-1"
ENV = "2oDvieFrVTi"


class FakeCall:
    """What the plugin uses of a ``Call``: its func, environment, variables, and where its events go."""

    def __init__(self, func: str, **variables: str):
        self.func = f"dcs.{func}()"
        self.environment_id = ENV
        self.var_stack = {"__call_timeout": "10s", "detectors": '["ITS","TPC"]', "run_type": "PHYSICS", **variables}
        self.events: list[dict[str, Any]] = []

    def publish(self, operation: str, status: int, *, step="", step_status=model.NULL, error="", payload=""):
        self.events.append({"operation": operation, "status": status, "step": step, "error": error, "payload": payload})

    @property
    def error(self) -> str:
        return self.var_stack.get("__call_error", "")


@contextlib.asynccontextmanager
async def dcs_plugin(mock: MockProcess, state_dir: Path) -> AsyncIterator[tuple[DcsPlugin, list]]:
    """The plugin as the manager runs it (init in a thread, start on the loop), subscribed to ``mock``."""
    plugin = DcsPlugin(endpoint=f"//{mock.address}")
    plugin.state_dir = state_dir
    published: list = []
    plugin.publish = published.append
    await offload(plugin.init, FRAMEWORK_ID)
    await plugin.start()
    try:
        await eventually_async(lambda: plugin.subscribed, what="subscribed")
        yield plugin, published
    finally:
        await plugin.stop()
        plugin.destroy()


def requests(mock: MockProcess, operation: str) -> list[dict[str, Any]]:
    return [r["request"] for r in mock.records() if r["operation"] == operation]


async def test_the_subscription_keeps_each_detectors_availability_and_publishes_changes(tmp_path):
    script = {"heartbeat": "200ms", "detectors": {"TPC": {"sor": "SOR_UNAVAILABLE"}, "AGD": {}}}
    with MockProcess("dcs", tmp_path, script=script) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, published):
            assert requests(mock, "Subscribe") == [{"instanceId": FRAMEWORK_ID}]
            assert plugin.connection_state() == "READY"
            data = plugin.data()
            assert data["detectors"]["TPC"]["SorAvailability"] == "SOR_UNAVAILABLE"
            assert data["detectors"]["TST"]["PfrAvailability"] == "PFR_AVAILABLE"  # AGD is our TST
            (event,) = [e.integratedServiceEvent for e in published]  # later heartbeats change nothing
            assert event.operationName == "dcs.updateDetectorOpAvailabilities"
            assert json.loads(event.payload)["changed"]["sorAvailability"] == ["TPC", "TST"]


async def test_requests_carry_the_detectors_run_type_parameters_and_state_sequence(tmp_path):
    with MockProcess("dcs", tmp_path) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            pfr = FakeCall(
                "PrepareForRun",
                dcs_detectors='["TST","TPC","DCS"]',
                run_type="COSMICS",
                dcs_sor_parameters='{"mode": "a", "keep": "1"}',
                tpc_dcs_sor_parameters='{"mode": "b"}',
                dcs_pfr_state_sequence="20:PREPARING,20:RUN_OK",
            )
            await plugin.call_stack(pfr).PrepareForRun()
            sor = FakeCall("StartOfRun", run_number="42", run_type="SYNTHETIC")
            await plugin.call_stack(sor).StartOfRun()
    assert pfr.error == "" and sor.error == ""
    (pfr_request,) = requests(mock, "PrepareForRun")
    assert pfr_request["partitionId"] == ENV
    assert pfr_request["runType"] == "PHYSICS"  # COSMICS is PHYSICS for DCS
    sequence = {"STATE_SEQUENCE": "20:PREPARING,20:RUN_OK"}
    assert pfr_request["detectors"] == [  # sorted by our names; TST is DCS's AGD; no DCS
        {"detector": "TPC", "extraParameters": {"mode": "b", "keep": "1", **sequence}},
        {"detector": "AGD", "extraParameters": {"mode": "a", "keep": "1", **sequence}},
    ]
    (sor_request,) = requests(mock, "StartOfRun")
    assert sor_request["runNumber"] == 42
    assert sor_request["runType"] == "TECHNICAL"  # a run type DCS does not know
    assert [d["detector"] for d in sor_request["detectors"]] == ["ITS", "TPC"]


async def test_pfr_waits_its_grace_period_then_prepares_only_the_ready_detectors(tmp_path):
    script = {"detectors": {"ITS": {"pfr": "PFR_UNAVAILABLE"}}}
    with MockProcess("dcs", tmp_path, script=script) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            call = FakeCall("PrepareForRun", dcs_pfr_grace_period="1s")
            begun = time.monotonic()
            await plugin.call_stack(call).PrepareForRun()
            waited = time.monotonic() - begun
            none_ready = FakeCall("PrepareForRun", detectors='["ITS"]')
            await plugin.call_stack(none_ready).PrepareForRun()
    assert call.error == "" and waited >= 1.0
    assert [[d["detector"] for d in r["detectors"]] for r in requests(mock, "PrepareForRun")] == [["TPC"]]
    assert none_ready.error == "dcs.PrepareForRun(): no detector is ready for PFR: ITS (PFR_UNAVAILABLE)"


async def test_sor_fails_without_asking_dcs_when_a_detector_is_not_ready(tmp_path):
    script = {"detectors": {"TPC": {"sor": "SOR_UNAVAILABLE"}}}
    with MockProcess("dcs", tmp_path, script=script) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            call = FakeCall("StartOfRun", run_number="7")
            await plugin.call_stack(call).StartOfRun()
            assert plugin.data()["partitions"] == {}  # no SOR, so no EOR owed
    assert call.error == "dcs.StartOfRun(): detectors not ready for SOR: TPC (SOR_UNAVAILABLE)"
    assert requests(mock, "StartOfRun") == []
    assert call.events[-1]["status"] == model.DONE_ERROR


async def test_a_detector_whose_last_state_is_not_run_ok_fails_the_call_once_dcs_ends_the_stream(tmp_path):
    script = {"detectors": {"TPC": {"StartOfRun": "50:SOR_PROGRESSING,50:SOR_FAILURE,50:SOR_PROGRESSING"}}}
    with MockProcess("dcs", tmp_path, script=script) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            call = FakeCall("StartOfRun", run_number="8")
            await plugin.call_stack(call).StartOfRun()
            assert plugin.data()["partitions"] == {ENV: 8}  # the SOR was sent: its EOR is owed
    assert call.error.startswith("dcs.StartOfRun(): StartOfRun did not succeed for TPC (SOR_PROGRESSING)")
    ongoing = [json.loads(e["payload"]) for e in call.events if e["status"] == model.ONGOING]
    # SOR_FAILURE did not end the reading: the stream's own end did
    assert [(p["detector"], p["state"]) for p in ongoing if p["detector"] == "TPC"] == [
        ("TPC", "SOR_PROGRESSING"),
        ("TPC", "SOR_FAILURE"),
        ("TPC", "SOR_PROGRESSING"),
    ]
    assert all("dcsEvent" in p and p["runNumber"] == 8 for p in ongoing)
    assert call.events[-1]["status"] == model.DONE_ERROR


async def test_the_reason_of_a_failed_sor_names_only_the_detectors_that_failed(tmp_path):
    script = {"detectors": {"TPC": {"StartOfRun": "50:SOR_PROGRESSING,50:SOR_FAILURE"}}}
    with MockProcess("dcs", tmp_path, script=script) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            call = FakeCall("StartOfRun", run_number="8")
            await plugin.call_stack(call).StartOfRun()
    assert call.error.startswith("dcs.StartOfRun(): StartOfRun did not succeed for TPC (SOR_FAILURE)")
    reason = call.var_stack["__call_error_reason"]
    assert "TPC SOR_FAILURE (mock)" in reason and "ITS" not in reason  # ITS went through SOR_PROGRESSING to RUN_OK


async def test_an_operation_dcs_does_not_end_in_time_fails_with_done_timeout(tmp_path):
    with MockProcess("dcs", tmp_path) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            call = FakeCall("EndOfRun", run_number="9", __call_timeout="500ms", dcs_eor_state_sequence="5000:RUN_OK")
            begun = time.monotonic()
            await plugin.call_stack(call).EndOfRun()
    assert time.monotonic() - begun < 3.0
    assert "did not end EndOfRun within the call's timeout" in call.error
    assert call.events[-1]["status"] == model.DONE_TIMEOUT


async def test_the_owed_eor_is_paid_once_by_end_of_run_or_by_cleanup_even_after_a_restart(tmp_path):
    state = tmp_path / "state"
    with MockProcess("dcs", tmp_path) as mock:
        async with dcs_plugin(mock, state) as (plugin, _):
            await plugin.call_stack(FakeCall("StartOfRun", run_number="10")).StartOfRun()
            await plugin.call_stack(FakeCall("EndOfRun", run_number="10")).EndOfRun()
            await plugin.call_stack(FakeCall("Cleanup")).Cleanup()  # nothing owed any more
            await plugin.call_stack(FakeCall("StartOfRun", run_number="11")).StartOfRun()
            assert json.loads(plugin.environments_data([ENV])[ENV])["SorSuccessful"] is True
        async with dcs_plugin(mock, state) as (restarted, _):  # a new core, the same state directory
            assert restarted.data()["partitions"] == {ENV: 11}
            cleanup = FakeCall("Cleanup")
            await restarted.call_stack(cleanup).Cleanup()
            assert restarted.data()["partitions"] == {}
            await restarted.call_stack(FakeCall("StartOfRun", run_number="12")).StartOfRun()
            await restarted.call_stack(FakeCall("EndOfRun", run_number="12")).EndOfRun()
            assert ENV in restarted.environments_data([ENV])
            await restarted.call_stack(FakeCall("Cleanup", __call_trigger="DESTROY")).Cleanup()
            assert restarted.environments_data([ENV]) == {}  # DESTROY's cleanup forgot the environment
    assert cleanup.error == ""
    assert [r["runNumber"] for r in requests(mock, "EndOfRun")] == [10, 11, 12]


async def test_a_dcs_that_dies_shows_in_the_connection_state_and_is_subscribed_to_again_when_back(tmp_path):
    mock = MockProcess("dcs", tmp_path, port=reserved_port()).start()  # it comes back on the same port
    try:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            mock.kill()
            print("KILLED", mock.process.pid, mock.process.returncode)
            await eventually_async(lambda: plugin.connection_state() != "READY", what="the channel saw DCS go")
            assert not plugin.subscribed
            (tmp_path / "again").mkdir()
            with MockProcess("dcs", tmp_path / "again", port=mock.port) as again:
                await eventually_async(lambda: plugin.subscribed, timeout=30.0, what="subscribed again")
                assert requests(again, "Subscribe") == [{"instanceId": FRAMEWORK_ID}]
                assert plugin.connection_state() == "READY"
    finally:
        mock.stop()


async def test_a_detector_that_sends_its_enabled_links_gets_their_aliases_as_ddl_list(tmp_path):
    cards = json.dumps({"0": {"serial": "S1", "endpoint": "0"}})
    links = json.dumps({"link0": {"enabled": "true"}, "link1": {"enabled": "false"}, "link2": {"enabled": "true"}})
    aliases = {str(n): {"alias": f"TPC-L{n}"} for n in range(3)}
    tpc_flp = {"flp001": {"cards": {"S1": {"links": aliases}}}}
    inventory = {
        "hardware": {"detectors": {"TPC": {"flps": tpc_flp}}, "flps": {"flp001": {"cards": cards}}},
        "components": {"readoutcard": {"flp001": {"cru": {"S1": {"0": links}}}}},
    }
    with MockProcess("dcs", tmp_path) as mock:
        async with dcs_plugin(mock, tmp_path / "state") as (plugin, _):
            plugin.config = Configuration.from_tree({"o2": inventory})
            sor = FakeCall("StartOfRun", run_number="12", tpc_dcs_send_enabled_links="true")
            await plugin.call_stack(sor).StartOfRun()
    assert sor.error == ""
    (request,) = requests(mock, "StartOfRun")
    assert {d["detector"]: d["extraParameters"].get("ddl_list") for d in request["detectors"]} == {
        "ITS": None,
        "TPC": "TPC-L0,TPC-L2",  # enabled links only
    }


async def test_an_eor_owed_by_a_destroyed_environment_is_sent_once_dcs_is_back(tmp_path):
    state = tmp_path / "state"
    mock = MockProcess("dcs", tmp_path, port=reserved_port()).start()  # it comes back on the same port
    try:
        async with dcs_plugin(mock, state) as (plugin, published):
            mock.kill()
            await eventually_async(lambda: plugin.connection_state() != "READY", what="the channel saw DCS go")
            sor = FakeCall("StartOfRun", run_number="7")
            await plugin.call_stack(sor).StartOfRun()
            await plugin.call_stack(FakeCall("Cleanup", __call_trigger="DESTROY")).Cleanup()
            assert "DCS StartOfRun failed: UNAVAILABLE" in sor.error
            assert json.loads((state / "pending-eor.json").read_text()) == {ENV: 7}
            (tmp_path / "again").mkdir()
            with MockProcess("dcs", tmp_path / "again", port=mock.port) as again:
                await eventually_async(lambda: plugin.data()["partitions"] == {}, timeout=40.0, what="the EOR sent")
                assert [r["runNumber"] for r in requests(again, "EndOfRun")] == [7]
    finally:
        mock.stop()
    assert json.loads((state / "pending-eor.json").read_text()) == {}
    events = [e.integratedServiceEvent for e in published if e.HasField("integratedServiceEvent")]
    sent = [e for e in events if e.operationName == "dcs.EndOfRun()"]
    assert [(e.operationStatus, e.environmentId) for e in sent] == [(model.DONE_OK, ENV)]
