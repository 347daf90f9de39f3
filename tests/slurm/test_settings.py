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
        ({"lost_grace": "soon"}, "setting core.slurm.lost_grace: expected a number, got 'soon'"),
        # a host alone: gRPC took it as port 443, and the agents dialled ':443' until agent_timeout
        (
            {"listen": "0.0.0.0"},
            r"setting core.slurm.listen: expected HOST:PORT \(PORT 0: any free port\), got '0.0.0.0'",
        ),
        ({"dial": "ecs-core.example"}, "setting core.slurm.dial: expected HOST:PORT, got 'ecs-core.example'"),
        # taken as they came: the partition "['o2', 'o3']", and a job that ran its options as the command
        ({"partition": ["o2", "o3"]}, r"setting core.slurm.partition: expected a string, got \['o2', 'o3'\]"),
        ({"agent_command": ""}, "setting core.slurm.agent_command: expected a command, as a string or a list of words"),
        ({"agent_linger": True}, "setting core.slurm.agent_linger: expected a number, got True"),
        ("o2", "setting core.slurm: expected a map"),
        ({"memory_per_agent": "lots"}, "setting core.slurm.memory_per_agent: expected a size such as 4096, 500M or 4G"),
    ],
)
def test_a_wrong_slurm_setting_is_one_error_naming_it(section, message):
    with pytest.raises(UsageError, match=message):
        SlurmSettings.from_section(section)


def test_an_agents_share_of_a_cpu_is_kept_not_cut_to_zero():
    """Wants are fractions of CPUs, and so is the agent's own share (it was read as int(0.5), 0: no share)."""
    assert SlurmSettings.from_section({"cpus_per_agent": 0.5}).cpus_per_agent == 0.5
