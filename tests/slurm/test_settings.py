"""The core.slurm settings: a mistake is one error naming the key (no cluster needed)."""

from __future__ import annotations

import pytest

from ecs_backends.resources.slurm import SlurmSettings
from ecs_engine.errors import UsageError


def test_slurm_settings_are_read_with_their_types():
    settings = SlurmSettings.from_section(
        {"agent_command": "/opt/py -m coconut agent", "agent_linger": "2", "partition": "o2"}
    )
    assert (settings.agent_command, settings.agent_linger, settings.partition) == (
        ["/opt/py", "-m", "coconut", "agent"],
        2.0,
        "o2",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"agent_lingr": 1}, "setting core.slurm.agent_lingr: unknown"),
        ({"lost_grace": "soon"}, "setting core.slurm.lost_grace: expected a float, got 'soon'"),
        ("o2", "setting core.slurm: expected a map"),
        ({"memory_per_agent": "lots"}, "setting core.slurm.memory_per_agent: expected a size such as 4096, 500M or 4G"),
    ],
)
def test_a_wrong_slurm_setting_is_one_error_naming_it(section, message):
    with pytest.raises(UsageError, match=message):
        SlurmSettings.from_section(section)
