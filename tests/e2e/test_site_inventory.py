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
