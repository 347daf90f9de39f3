"""The generated unit, as text: a crashed core's tasks survive for the restarted core, and the user unit names
no target the user manager lacks. (tests/operations/test_core_service.py verifies it with systemd-analyze.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecs_engine.server.systemd import Unit


@pytest.mark.parametrize("system", [False, True])
def test_kill_mode_leaves_tasks_to_the_restarted_core(system: bool) -> None:
    lines = Unit(Path("/d"), Path("/s"), system=system, user="daq").render().splitlines()
    assert "KillMode=process" in lines and "Restart=on-failure" in lines
    assert not any(line.startswith("KillMode=") and line != "KillMode=process" for line in lines)
    assert any(line.startswith("#") and "re-attach" in line for line in lines)


def test_network_online_target_only_in_the_system_unit() -> None:
    user = Unit(Path("/d"), Path("/s")).render()
    system = Unit(Path("/d"), Path("/s"), system=True, user="daq").render().splitlines()
    assert "network-online" not in user
    assert "After=network-online.target" in system and "Wants=network-online.target" in system
