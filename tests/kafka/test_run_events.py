"""Run events on ``aliecs.run`` when a STOP fails after its EOR went out (integrations.md §2.2): the STOP's own
DONE_ERROR ends the run, and the GO_ERROR that follows sends no run event (its STARTED/DONE_OK go out only for a
run that was not ending already)."""

from __future__ import annotations

import pytest

from ecs_engine.protocols import events_pb2

from ..e2e.conftest import Coconut, alive, remember, write_example_tasks
from .broker import TansuBroker
from .consumer import consume

pytestmark = pytest.mark.slow

#: one task, and a critical call at STOP's end that fails (testplugin.Test() fails when testplugin_fail is true)
WORKFLOW = """\
name: failing-stop
defaults:
  testplugin_fail: "true"
roles:
  - name: producer
    task: {load: producer}
  - name: eor
    call: {func: testplugin.Test(), trigger: after_STOP_ACTIVITY-50, timeout: 5s, critical: true}
"""


def test_a_stop_failing_after_its_eor_ends_the_run_with_done_error_and_no_go_error_run_event(
    tmp_path, kafka_broker: TansuBroker
):
    repo = tmp_path / "repo"
    (repo / "workflows").mkdir(parents=True)
    write_example_tasks(repo)
    (repo / "workflows" / "failing-stop.yaml").write_text(WORKFLOW)
    coconut = Coconut(tmp_path / "core", {"core": {"kafkaEndpoints": [kafka_broker.endpoint]}})
    coconut.seen_pids = set()
    try:
        created = coconut("env", "create", "-w", "failing-stop", "--repo", str(repo), "-o", "json").json()
        environment_id = created["environment"]["id"]
        remember(coconut)
        coconut("env", "control", environment_id, "-e", "START_ACTIVITY")
        stopped = coconut("env", "control", environment_id, "-e", "STOP_ACTIVITY", check=False)
        assert stopped.status != 0 and coconut.state(environment_id) == "ERROR", stopped.err
        coconut("env", "destroy", environment_id)

        def destroyed(messages) -> bool:
            return any(
                m.key == environment_id and m.event.environmentEvent.message == "environment destroyed"
                for m in messages
            )

        messages = consume(kafka_broker.endpoint, ["aliecs.run", "aliecs.environment"], destroyed)
    finally:
        coconut("core", "stop", "--force", check=False)
    assert not [pid for pid in coconut.seen_pids if alive(pid)], "task processes left behind"
    runs = [m.event.runEvent for m in messages if m.topic == "aliecs.run" and m.key == environment_id]
    assert [(r.transition, r.transitionStatus) for r in runs] == [
        ("START_ACTIVITY", events_pb2.STARTED),
        ("START_ACTIVITY", events_pb2.DONE_OK),
        ("STOP_ACTIVITY", events_pb2.STARTED),
        ("STOP_ACTIVITY", events_pb2.DONE_ERROR),
    ]
    assert "testplugin.Test() failed on request" in runs[-1].error
    assert {r.runNumber for r in runs} == {runs[0].runNumber}
