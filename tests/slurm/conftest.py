"""A real Slurm cluster for the session, and coconut against a core that uses it (``core.resource_manager: slurm``).

The cluster lives in a network namespace (tests/slurm/cluster.py); the core must reach its tasks' ports and the
agents must reach the core, so every coconut command runs in that namespace too (a subprocess under
``nsenter --net``), and so does the core it starts. Each test has its own directories, hence its own core and
its own agent jobs (named after the core's state directory); at the end no agent job and no task may be left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecs_backends.resources.slurm import SlurmResourceManager, SlurmSettings
from ecs_engine.server.core import read_pidfile
from tests.e2e.conftest import Result, alive, free_port
from tests.ports import own_port_range
from tests.servers import in_ci, need_program
from tests.waiting import eventually

from . import cluster as slurm_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> slurm_cluster.Cluster:
    for program in ("slurmctld", "slurmd", "sbatch"):
        need_program(program, "slurm-wlm", path=f"/usr/sbin/{program}")
    need_program("munged", "munge", path="/usr/sbin/munged")
    need_program("ip", "iproute2", path="/usr/sbin/ip")
    if os.geteuid() != 0:
        reason = "the Slurm test cluster needs root (network namespace, slurmd)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm-cluster")
    running = slurm_cluster.up(root, namespace=f"ecs-slurm-{os.getpid()}")
    yield running
    slurm_cluster.down(root)


class SlurmCoconut:
    """``coconut --endpoint ...`` in the cluster's namespace, with this test's directories and settings (``slurm``:
    more ``core.slurm`` settings; ``core``: more ``core`` settings, such as integrated services')."""

    def __init__(self, cluster: slurm_cluster.Cluster, root: Path, slurm: dict | None = None, core: dict | None = None):
        self.cluster = cluster
        self.root = root
        self.port = free_port()
        for name in ("config/coconut", "data", "state", "work"):
            (root / name).mkdir(parents=True, exist_ok=True)
        settings = {
            "core": {
                "resource_manager": "slurm",
                "ports": own_port_range(),
                **(core or {}),
                "slurm": {"agent_linger": 1, "lost_grace": 5, **(slurm or {})},
            }
        }
        (root / "config" / "coconut" / "settings.yaml").write_text(yaml.safe_dump(settings))
        self.env = cluster.env(
            {
                **os.environ,
                "XDG_CONFIG_HOME": str(root / "config"),
                "XDG_DATA_HOME": str(root / "data"),
                "XDG_STATE_HOME": str(root / "state"),
            }
        )
        self.seen_pids: set[int] = set()

    @property
    def state_dir(self) -> Path:
        return self.root / "state" / "coconut"

    def __call__(self, *args: str, check: bool = True, timeout: float = 120.0) -> Result:
        argv = [*self.cluster.enter(), sys.executable, "-m", "coconut"]
        argv += ["--endpoint", f"127.0.0.1:{self.port}", "--nospinner", *args]
        done = subprocess.run(
            argv, env=self.env, cwd=self.root / "work", capture_output=True, text=True, timeout=timeout
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if check:
            assert done.returncode == 0, f"coconut {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return result

    def tasks(self) -> list[dict]:
        tasks = self("task", "list", "-o", "json").json()["tasks"]
        self.seen_pids.update(int(t["pid"]) for t in tasks if t.get("pid"))
        return tasks

    def state(self, environment_id: str) -> str:
        return self("env", "show", environment_id, "-o", "json").json()["environment"]["state"]

    def agent_jobs(self) -> dict[str, str]:
        """This core's agent jobs that Slurm still has: node -> job id."""
        data = json.loads(self.cluster.run("squeue", "--json").stdout)
        core = _core_prefix(self)
        return {
            j["name"][len(core) :]: str(j["job_id"])
            for j in data["jobs"]
            if j["name"].startswith(core) and j["job_state"] not in ("COMPLETED", "CANCELLED", "FAILED")
        }

    def agent_pid(self, node: str) -> int:
        """The pid of this core's agent on ``node`` (found by its command line: this test's work directory)."""
        work_dir = str(self.state_dir / "slurm")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if "agent" in argv and work_dir in argv and node in argv and "--node" in argv:
                return int(entry.name)
        raise AssertionError(f"no agent process of node {node} under {work_dir}")


def _core_prefix(coconut: SlurmCoconut) -> str:
    return SlurmResourceManager(SlurmSettings(), coconut.state_dir).agent_job_name("")


@pytest.fixture
def coconut(cluster, tmp_path):
    runner = SlurmCoconut(cluster, tmp_path)
    yield runner
    if read_pidfile(runner.state_dir) is not None:
        runner("core", "stop", "--force", check=False)
    eventually(lambda: not runner.agent_jobs(), timeout=30, what="no agent job left")
    eventually(lambda: not [p for p in runner.seen_pids if alive(p)], timeout=15, what="no task process left")
