"""ODC failures as an operator meets them: a real core, real OCC producer/consumer processes, the ODC mock.

An EPN partition that turns ERROR while the run goes on stops the run, then sends the environment to ERROR
(reference §1.6); an ODC that refuses to start the partition fails START, and the environment is in ERROR.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from ecs_engine.server.core import read_pidfile
from tests.e2e.conftest import Coconut, alive, remember, write_example_tasks
from tests.waiting import eventually

from .mocks import MockProcess

pytestmark = pytest.mark.slow

EPN_WORKFLOW = """\
name: epn
defaults:
  pdp_config_option: Manual XML
  odc_topology: /etc/epn/topology.xml
  odc_plugin: epn
  odc_resources: '[{"zone":"online","n":"2"}]'
roles:
  - name: producer
    task: {load: producer}
  - name: consumer
    connect: [{name: in, type: pull, target: "{{ Parent().Path }}.producer:out"}]
    task: {load: consumer}
  - name: odc
    defaults: {odc_timeout: 20s}
    roles:
      - name: part-init
        call: {func: odc.PartitionInitialize(), trigger: before_DEPLOY, await: after_DEPLOY-1, timeout: "{{ odc_timeout }}"}
      - name: configure
        call: {func: odc.Configure(), trigger: after_CONFIGURE-1, timeout: "{{ odc_timeout }}"}
      - name: start
        call: {func: odc.Start(), trigger: before_START_ACTIVITY+100, await: after_START_ACTIVITY-10, timeout: "{{ odc_timeout }}"}
      - name: stop
        call: {func: odc.Stop(), trigger: before_STOP_ACTIVITY, await: after_STOP_ACTIVITY-50, timeout: "{{ odc_timeout }}"}
      - name: go-error
        call: {func: odc.EnsureStop(), trigger: before_GO_ERROR, await: after_GO_ERROR-1, timeout: "{{ odc_timeout }}", critical: false}
      - name: cleanup
        call: {func: odc.EnsureCleanup(), trigger: DESTROY, timeout: "{{ odc_timeout }}", critical: false}
"""


@pytest.fixture
def epn_repo(tmp_path):
    """The OCC producer/consumer pair of the examples and the ODC calls of readout-dataflow."""
    root = tmp_path / "epn-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    write_example_tasks(root)
    (root / "workflows" / "epn.yaml").write_text(textwrap.dedent(EPN_WORKFLOW))
    return root


def core_with(tmp_path, odc: MockProcess) -> Coconut:
    settings = {
        "core": {
            "nodes": ["flp001", "flp002"],
            "integrationPlugins": ["odc"],
            "odcEndpoint": odc.address,
            "odcPollingInterval": "200ms",
        }
    }
    coconut = Coconut(tmp_path / "core", settings)
    coconut.seen_pids = set()
    return coconut


def finish(coconut: Coconut) -> None:
    if read_pidfile(coconut.state_dir) is not None:
        coconut("core", "stop", "--force")
    assert not [pid for pid in coconut.seen_pids if alive(pid)], "task processes left behind"


def messages(coconut: Coconut, environment_id: str) -> list[str]:
    result = coconut("events", "query", "--env", environment_id, "--kind", "environment", "-o", "json")
    return [e["event"]["environmentEvent"].get("message", "") for e in result.json()]


def test_a_partition_in_error_while_running_stops_the_run_then_errors_the_environment(tmp_path, epn_repo):
    script = {"operations": {"Start": {"after": {"delay": "1s", "state": "ERROR"}}}}
    with MockProcess("odc", tmp_path, script=script) as odc:
        coconut = core_with(tmp_path, odc)
        try:
            created = coconut("env", "create", "-w", "epn", "--repo", str(epn_repo), "-o", "json").json()
            environment_id = created["environment"]["id"]
            remember(coconut)
            coconut("env", "control", environment_id, "-e", "START")
            eventually(lambda: coconut.state(environment_id) == "ERROR", timeout=30, what="the environment in ERROR")
            odc.wait_for(lambda r: r["operation"] == "Stop")  # the run was stopped on ODC too
            shown = messages(coconut, environment_id)
            # ODC cannot stop a partition in ERROR, so the STOP itself fails into ERROR (a successful STOP is
            # followed by GO_ERROR: tests/integrations/test_service_error.py)
            assert f"automatic STOP_ACTIVITY: ODC partition {environment_id} is in ERROR" in shown
            changes = coconut("events", "query", "--env", environment_id, "--kind", "integratedService", "-o", "json")
            states = [
                (json.loads(e["event"]["integratedServiceEvent"]["payload"])["state"], e["severity"])
                for e in changes.json()
                if e["event"]["integratedServiceEvent"]["name"] == "odc.partitionStateChanged"
            ]
            assert states[-1:] == [("ERROR", "error")]  # as COG reads it, at severity error
            coconut("env", "destroy", environment_id)
        finally:
            finish(coconut)


def test_odc_refusing_to_start_the_partition_sends_the_environment_to_error(tmp_path, epn_repo):
    script = {"operations": {"Start": {"error": "503: 3 devices failed to start"}}}
    with MockProcess("odc", tmp_path, script=script) as odc:
        coconut = core_with(tmp_path, odc)
        try:
            created = coconut("env", "create", "-w", "epn", "--repo", str(epn_repo), "-o", "json").json()
            environment_id = created["environment"]["id"]
            remember(coconut)
            started = coconut("env", "control", environment_id, "-e", "START", check=False)
            assert coconut.state(environment_id) == "ERROR"
            assert "EPN Start call failed. REASON: code 503 from ODC: 3 devices failed to start" in (
                started.out + started.err
            )
            coconut("env", "destroy", environment_id)
        finally:
            finish(coconut)
