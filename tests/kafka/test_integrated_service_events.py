"""The integrated services' events on Kafka, read the way their consumers read them (integrations.md §2.3).

A real core publishes to a real Tansu broker; an environment of real OCC processes calls DCS, the trigger
and ODC (each mock a process of its own) with readout-dataflow's calls. The consumers filter with the exact
strings the AliECS GUI (COG) and Bookkeeping use, and decode with the project's own ``events_pb2``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecs_engine.protocols import events_pb2
from ecs_engine.server.core import read_pidfile
from tests.waiting import eventually

from ..e2e.conftest import Coconut, alive, remember, write_example_tasks
from ..integrations.mocks import MockProcess
from .broker import TansuBroker
from .consumer import Received, consume

pytestmark = pytest.mark.slow

#: readout-dataflow's name (COG matches the full role path) with its dcs, trg, odc and ddsched calls
WORKFLOW = """\
name: readout-dataflow
defaults:
  detectors: '["TPC","ITS"]'
  run_type: PHYSICS
  ctp_readout_enabled: "true"
  pdp_config_option: Manual XML
  odc_topology: /etc/epn/topology.xml
  odc_plugin: epn
  odc_resources: '[{"zone":"online","n":"2"}]'
roles:
  - name: producer
    constraints: [{attribute: machine_id, value: flp001}]
    task: {load: producer}
  - name: consumer
    constraints: [{attribute: machine_id, value: flp002}]
    connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
    task: {load: consumer}
  - name: dcs
    defaults: {dcs_detectors: "{{ detectors }}", dcs_sor_parameters: "{}", dcs_eor_parameters: "{}"}
    roles:
      - name: sor
        call: {func: dcs.StartOfRun(), trigger: before_START_ACTIVITY+100, timeout: 10s, critical: true}
      - name: eor
        call: {func: dcs.EndOfRun(), trigger: after_STOP_ACTIVITY-50, timeout: 10s, critical: true}
      - name: destroy-cleanup
        call: {func: dcs.Cleanup(), trigger: DESTROY, timeout: 10s, critical: false}
  - name: trg
    defaults: {trg_detectors: "{{ detectors }}", trg_global_config: GLOBAL.pd, trg_runtime_config: ltu.cfg}
    roles:
      - name: load
        call: {func: trg.RunLoad(), trigger: before_START_ACTIVITY+10, timeout: 10s}
      - name: start
        call: {func: trg.RunStart(), trigger: after_START_ACTIVITY-10, timeout: 10s}
      - name: stop
        call: {func: trg.RunStop(), trigger: before_STOP_ACTIVITY-10, timeout: 10s, critical: false}
      - name: unload
        call: {func: trg.RunUnload(), trigger: after_STOP_ACTIVITY-100, timeout: 10s, critical: false}
  - name: odc
    roles:
      - name: part-init
        call: {func: odc.PartitionInitialize(), trigger: before_DEPLOY, await: after_DEPLOY-1, timeout: 20s}
      - name: configure
        call: {func: odc.Configure(), trigger: after_CONFIGURE-1, timeout: 20s}
      - name: start
        call: {func: odc.Start(), trigger: before_START_ACTIVITY+100, await: after_START_ACTIVITY-10, timeout: 20s}
      - name: stop
        call: {func: odc.Stop(), trigger: before_STOP_ACTIVITY, await: after_STOP_ACTIVITY-50, timeout: 20s}
      - name: cleanup
        call: {func: odc.EnsureCleanup(), trigger: DESTROY, timeout: 20s, critical: false}
  - name: dd-scheduler
    roles:
      - name: initialize
        call: {func: ddsched.PartitionInitialize(), trigger: before_CONFIGURE, await: after_CONFIGURE-1, timeout: 10s}
      - name: cleanup
        call: {func: ddsched.EnsureTermination(), trigger: DESTROY, timeout: 10s, critical: false}
"""
SERVICES = ("dcs", "trg", "odc", "ddsched")
TOPICS = [f"aliecs.integrated_service.{s}" for s in SERVICES]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    write_example_tasks(root)
    (root / "workflows" / "readout-dataflow.yaml").write_text(WORKFLOW)
    return root


@pytest.fixture
def site(tmp_path: Path, kafka_broker: TansuBroker):
    """A core publishing to the broker, with the dcs, trg, odc and ddsched plugins on their mocks."""
    mocks = {name: MockProcess(name, tmp_path).start() for name in SERVICES}
    core = {
        "nodes": ["flp001", "flp002"],
        "kafkaEndpoints": [kafka_broker.endpoint],
        "integrationPlugins": list(SERVICES),
        "dcsServiceEndpoint": f"//{mocks['dcs'].address}",
        "trgServiceEndpoint": mocks["trg"].address,
        "odcEndpoint": mocks["odc"].address,
        "odcPollingInterval": "200ms",
        "ddSchedulerEndpoint": mocks["ddsched"].address,
    }
    coconut = Coconut(tmp_path / "core", {"core": core})
    coconut.seen_pids = set()
    try:
        yield coconut
    finally:
        if read_pidfile(coconut.state_dir) is not None:
            coconut("core", "stop", "--force")
        for mock in mocks.values():
            mock.stop()
    assert not [pid for pid in coconut.seen_pids if alive(pid)], "task processes left behind"


def journal_states(coconut: Coconut, environment_id: str) -> list[str]:
    """The ODC partition's states so far, from the core's journal."""
    found = coconut("events", "query", "--env", environment_id, "--kind", "integratedService", "-o", "json").json()
    events = [e["event"]["integratedServiceEvent"] for e in found]
    return [json.loads(e["payload"])["newState"] for e in events if e["name"] == "odc.partitionStateChanged"]


def ending(environment_id: str):
    """Read until the last events of the environment's run are in: DCS's EOR and the trigger's RunUnload."""

    def done(messages: list[Received]) -> bool:
        ended = {
            m.event.integratedServiceEvent.operationName
            for m in messages
            if m.key == environment_id and m.event.integratedServiceEvent.operationStatus == events_pb2.DONE_OK
        }
        return {"dcs.EndOfRun()", "trg.RunUnload()"} <= ended

    return done


def test_the_gui_and_bookkeeping_find_the_dcs_trigger_and_odc_events_of_a_run(repo, site, kafka_broker):
    coconut = site
    created = coconut("env", "create", "-w", "readout-dataflow", "--repo", str(repo), "-o", "json").json()
    environment_id = created["environment"]["id"]
    remember(coconut)
    started = coconut("env", "control", environment_id, "-e", "START_ACTIVITY", "-o", "json").json()
    run = int(started["currentRunNumber"])
    eventually(lambda: "RUNNING" in journal_states(coconut, environment_id), what="ODC's partition seen RUNNING")
    coconut("env", "control", environment_id, "-e", "STOP_ACTIVITY")
    user_vars = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["userVars"]

    messages = [m for m in consume(kafka_broker.endpoint, TOPICS, ending(environment_id)) if m.key == environment_id]
    by_topic = {t: [m.event for m in messages if m.topic == t] for t in TOPICS}
    coconut("env", "destroy", environment_id)

    # every event of the environment on its service's topic, keyed and stamped as the others
    for service, topic in zip(SERVICES, TOPICS, strict=True):
        events = by_topic[topic]
        assert events, f"nothing on {topic}"
        assert all(e.integratedServiceEvent.operationName.startswith(f"{service}.") for e in events), topic
        assert all(e.integratedServiceEvent.environmentId == environment_id for e in events), topic
        assert all(e.timestampNano // 1_000_000 == e.timestamp for e in events), topic
        calls = [e.integratedServiceEvent for e in events if e.integratedServiceEvent.operationName.endswith("()")]
        assert calls and all(c.name.startswith("readout-dataflow.") for c in calls), topic  # the call role path

    # the GUI keeps DCS events named 'readout-dataflow.dcs.sor' whose payload has dcsEvent: one a detector
    sor = [
        json.loads(e.integratedServiceEvent.payload)
        for e in by_topic["aliecs.integrated_service.dcs"]
        if e.integratedServiceEvent.name == "readout-dataflow.dcs.sor"
        and "dcsEvent" in json.loads(e.integratedServiceEvent.payload or "{}")
    ]
    assert {p["detector"] for p in sor} == {"TPC", "ITS"}
    assert {p["runNumber"] for p in sor} == {run}
    assert all(p["dcsEvent"]["detector"] == p["detector"] for p in sor)
    eor = [
        json.loads(e.integratedServiceEvent.payload)
        for e in by_topic["aliecs.integrated_service.dcs"]
        if e.integratedServiceEvent.name == "readout-dataflow.dcs.eor"
        and "dcsEvent" in json.loads(e.integratedServiceEvent.payload or "{}")
    ]
    assert {p["detector"] for p in eor} == {"TPC", "ITS"} and {p["runNumber"] for p in eor} == {run}

    # Bookkeeping: trgRequest.runn is the run; RunStart()/RunStop() with operationStepStatus DONE_OK give
    # timeTrgStart/timeTrgEnd, the event's timestamp
    times = {
        e.integratedServiceEvent.operationName: (json.loads(e.integratedServiceEvent.payload)["trgRequest"]["runn"], e)
        for e in by_topic["aliecs.integrated_service.trg"]
        if e.integratedServiceEvent.operationStepStatus == events_pb2.DONE_OK
    }
    assert {name: runn for name, (runn, _) in times.items()} == {
        "trg.RunLoad()": run,
        "trg.RunStart()": run,
        "trg.RunStop()": run,
        "trg.RunUnload()": run,
    }
    trg_start, trg_end = times["trg.RunStart()"][1].timestamp, times["trg.RunStop()"][1].timestamp
    assert trg_start == int(user_vars["trg_start_time_ms"])  # the time of the call (§1.4)
    assert trg_start <= trg_end

    # COG routes ODC events on names starting with 'odc.partitionStateChanged'
    partition = [
        json.loads(e.integratedServiceEvent.payload)
        for e in by_topic["aliecs.integrated_service.odc"]
        if e.integratedServiceEvent.name.startswith("odc.partitionStateChanged")
    ]
    assert "RUNNING" in [p["newState"] for p in partition]
    assert {p["partitionId"] for p in partition} == {environment_id}
