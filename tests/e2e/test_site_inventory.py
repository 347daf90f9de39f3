"""The detector inventory and the demo: a host no detector lists is refused with how to add it; after
``coconut config init`` (the shipped site file) the demo runs again."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_an_unlisted_host_is_named_with_the_fix_and_the_site_file_lists_the_demos_hosts(coconut):
    coconut("config", "inventory", "add", "TST", "flp001")
    result = coconut("env", "create", "-w", "dataflow-demo", check=False)
    assert result.status != 0
    assert "detector not found for host localhost" in result.err
    assert "add it with 'coconut config inventory add DETECTOR localhost'" in result.err

    coconut("config", "init")
    environment_id = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]["id"]
    assert coconut.state(environment_id) == "CONFIGURED"
    coconut("env", "destroy", environment_id)


def test_the_demo_given_detectors_runs_on_their_hosts_from_the_inventory(coconut):
    coconut("config", "init")  # TST: localhost, flp001, flp002
    created = coconut("env", "create", "-w", "dataflow-demo", "-e", 'detectors=["TST"]', "-o", "json").json()
    environment_id = created["environment"]["id"]
    hosts = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["userVars"]
    producers = [t for t in coconut.tasks() if t["className"].endswith("demo-producer@local")]
    agents = sorted(t["deploymentInfo"]["agentId"] for t in producers)
    assert len(agents) == 3 and agents[:2] == ["flp001", "flp002"], (agents, hosts)  # and the local machine
    info = coconut("info", "-o", "json").json()["framework"]
    assert info["activeDetectors"] == ["TST"]
    refused = coconut("env", "create", "-w", "dataflow-demo", "-e", 'detectors=["XYZ"]', check=False)
    assert refused.status != 0 and "detector 'XYZ' has no host in the inventory" in refused.err
    coconut("env", "destroy", environment_id)
