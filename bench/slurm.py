"""create, START, STOP and destroy of N tasks over 2 Slurm nodes against the same on the local backend, and the
time the nodes' agents take to come up.

A real Slurm cluster (tests/slurm/cluster.py: munge, slurmctld, two slurmd in a network namespace) is brought up
unless ``--cluster ROOT`` names a running one; the bench then runs itself again inside the cluster's namespace,
where the cores it starts, their tasks and the agents meet. Tasks are the fast OCC peer (ecs_engine/occ/multipeer.py,
one hub serving every task's control port), half on ``flp001`` and half on ``flp002``: on the local backend two
virtual nodes (setting core.nodes), on Slurm the two slurmd nodes, each served by its agent job. Agents are kept
between environments (``agent_linger``) except for the cold create, which waits for them: its time minus a warm
create of the same size is the agents' start-up (sbatch, scheduling, the agent's Python start, its dial-back).
Each figure is the median of ``--repeat`` runs; the backends alternate.

Run as root: .venv/bin/python bench/slurm.py [--sizes 10,50,100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecs_engine.occ.multipeer import WORKFLOW, running_hub, write_repo
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from tests.slurm import cluster as slurm_cluster

PHASES = ("create", "START", "STOP", "destroy")
NODES = list(slurm_cluster.NODES)
BACKENDS = ("local", "slurm")


def drive(core: CoreClient, repo: Path, n: int) -> dict[str, float]:
    """One environment of ``n`` tasks over the two nodes: create, START, STOP, destroy; seconds each."""
    numbers = json.dumps([str(i) for i in range(n // len(NODES))])
    request = pb.NewEnvironmentRequest(
        workflowTemplate=f"{repo}/workflows/two-nodes", vars={"hosts": json.dumps(NODES), "numbers": numbers}
    )
    out = {}
    start = time.perf_counter()
    reply = core.call("NewEnvironment", request)
    out["create"] = time.perf_counter() - start
    assert reply.environment.numberOfTasks == n, (reply.environment.numberOfTasks, core.last_error)
    for name, optype, state in (("START", 1, "RUNNING"), ("STOP", 2, "CONFIGURED")):
        start = time.perf_counter()
        result = core.call("ControlEnvironment", pb.ControlEnvironmentRequest(id=reply.environment.id, type=optype))
        out[name] = time.perf_counter() - start
        assert result.state == state, (result.state, core.last_error)
    start = time.perf_counter()
    core.call("DestroyEnvironment", pb.DestroyEnvironmentRequest(id=reply.environment.id))
    out["destroy"] = time.perf_counter() - start
    return out


def start_core(root: Path, backend: str) -> tuple[str, Path]:
    """A core of ``backend`` with its own directories under ``root``; its endpoint and state directory."""
    core = {"resource_manager": backend, "ports": "20000-29999"}
    if backend == "local":
        core["nodes"] = NODES
    else:
        core["slurm"] = {"agent_linger": 3600}
    base = root / backend
    base.mkdir()
    settings = base / "settings.yaml"
    settings.write_text(json.dumps({"core": core}))
    endpoint = f"127.0.0.1:{19000 + BACKENDS.index(backend)}"
    daemon.start(endpoint=endpoint, data_dir=base / "data", state_dir=base / "state", settings_path=settings)
    return endpoint, base / "state"


def inside(sizes: list[int], repeat: int) -> None:
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub.fifo") as fifo:
        root = Path(tmp)
        repo = write_repo(root / "repo", fifo)
        two_nodes = WORKFLOW.replace("name: scale", "name: two-nodes").format(numbers="{{ numbers }}")
        (repo / "workflows" / "two-nodes.yaml").write_text(
            two_nodes.replace("  hosts: '[]'", "  hosts: '[]'\n  numbers: '[]'")
        )
        cores = {backend: start_core(root, backend) for backend in BACKENDS}
        clients = {b: CoreClient(e, timeout=3600, token=read_token(s)) for b, (e, s) in cores.items()}
        try:
            cold = drive(clients["slurm"], repo, 10)["create"]  # the agents come up
            warm = statistics.median(drive(clients["slurm"], repo, 10)["create"] for _ in range(3))
            drive(clients["local"], repo, 10)  # warm-up of the local core alike
            print(
                f"agents up (cold create of 10 tasks minus a warm one): {cold - warm:.2f} s ({cold:.2f} - {warm:.2f})"
            )
            print(f"{'N':>5} {'what':<8} {'local':>9} {'slurm':>9} {'ratio':>6}")
            for n in sizes:
                runs: dict[str, list[dict[str, float]]] = {b: [] for b in BACKENDS}
                for _ in range(repeat):
                    for backend in BACKENDS:
                        runs[backend].append(drive(clients[backend], repo, n))
                for what in PHASES:
                    local, slurm = (statistics.median(r[what] for r in runs[b]) for b in BACKENDS)
                    print(f"{n:>5} {what:<8} {local:>8.3f}s {slurm:>8.3f}s {slurm / local:>6.2f}")
        finally:
            for client in clients.values():
                client.close()
            for _, state in cores.values():
                daemon.stop(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="task counts, comma-separated (even)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each backend per size (median)")
    parser.add_argument("--cluster", type=Path, help="the root of a running test cluster (scripts/slurm-cluster up)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.inside:
        inside(sizes, args.repeat)
        return 0
    if os.geteuid() != 0:
        print("bench/slurm.py: run as root (it brings up a Slurm cluster in a network namespace)", file=sys.stderr)
        return 1
    root = args.cluster or Path(tempfile.mkdtemp(prefix="ecs-slurm-bench-"))
    cluster = slurm_cluster.Cluster(root) if args.cluster else slurm_cluster.up(root, namespace="ecs-slurm-bench")
    try:
        argv = [
            *cluster.enter(),
            sys.executable,
            __file__,
            "--inside",
            "--sizes",
            args.sizes,
            "--repeat",
            str(args.repeat),
        ]
        return subprocess.run(argv, env=cluster.env()).returncode
    finally:
        if not args.cluster:
            slurm_cluster.down(root)


if __name__ == "__main__":
    sys.exit(main())
