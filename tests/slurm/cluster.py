"""A real Slurm test cluster on this machine: munge, slurmctld and two slurmd, inside a network namespace.

slurmctld always listens on every address, so the cluster lives in a namespace of its own that has only
``lo`` (shared/spec/backends.md): nothing outside reaches it, and its ports never meet anyone else's. The
namespace gets a second loopback address, without which glibc's ``getaddrinfo(AI_ADDRCONFIG)`` finds no IPv4
address and every Slurm command fails; slurmd is entered with ``nsenter --net`` only (``ip netns exec``
remounts /sys and slurmd then finds no cgroup file system). Two nodes, ``flp001`` and ``flp002``, are two
slurmd daemons of this host with different ``Features=``.

Slurm confines each job to its allocation (``proctrack/cgroup``, ``task/cgroup``: its CPUs and its ``--mem``),
in cgroups of the cluster's own (tests/slurm/cgroups.py), which ``down`` removes. On a machine without the
cgroup v1 hierarchies this needs, the cluster falls back to ``proctrack/linuxproc`` (jobs unconfined) and
says so: ``Cluster.unconfined`` holds the reason.

Used by the tests' session fixture and by hand, as root::

    scripts/slurm-cluster up [ROOT [NAMESPACE]]   # prints the environment to run commands in the cluster
    scripts/slurm-cluster down [ROOT]

NAMESPACE (default ``$ECS_SLURM_NAMESPACE``, else ``ecs-slurm``) and ROOT let several people's clusters live on
one machine. ``down`` signals only the processes ``up`` started: each pid is recorded with its start time and
skipped if another process has taken the pid since.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.processes import start_ticks

from . import cgroups

DEFAULT_ROOT = Path("/tmp/ecs-slurm")
DEFAULT_NAMESPACE = os.environ.get("ECS_SLURM_NAMESPACE", "ecs-slurm")
#: node name -> its Features= (comma-separated): both are FLPs, of different detectors
NODES = {"flp001": "flp,detector_tpc", "flp002": "flp,detector_its"}
PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "nsenter", "ip")
UP_TIMEOUT = 30.0


class ClusterError(RuntimeError):
    """The cluster could not be brought up; the message names the step and where its log is."""


@dataclass(frozen=True)
class Cluster:
    """A cluster's files (under ``root``) and its namespace; ``run``/``popen`` prefix commands to enter it."""

    root: Path

    @property
    def namespace(self) -> str:
        return (self.root / "namespace").read_text().strip()

    @property
    def conf(self) -> Path:
        return self.root / "slurm" / "slurm.conf"

    def job_cgroup(self, controller: str, node: str, job_id: str, uid: int = 0) -> Path:
        """Where Slurm keeps a job's cgroup of ``controller`` (only when the cluster confines its jobs)."""
        return cgroups.made(self.root / "cgroups")[controller] / f"slurm_{node}" / f"uid_{uid}" / f"job_{job_id}"

    @property
    def unconfined(self) -> str | None:
        """Why Slurm does not confine this cluster's jobs to their allocation; None when it does."""
        reason = self.root / "unconfined"
        return reason.read_text().strip() if reason.exists() else None

    def enter(self) -> list[str]:
        """The command prefix that runs a program in the cluster's network namespace."""
        return ["nsenter", f"--net=/run/netns/{self.namespace}"]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with SLURM_CONF naming the cluster's slurm.conf."""
        return {**(os.environ if base is None else base), "SLURM_CONF": str(self.conf)}

    def run(self, *argv: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command in the namespace with the cluster's configuration; its output as text."""
        return subprocess.run(
            [*self.enter(), *argv], env=self.env(), capture_output=True, text=True, timeout=timeout, check=check
        )


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]


def _which(program: str) -> str:
    return shutil.which(program) or str(Path("/usr/sbin", program))


def _slurm_conf(root: Path, confined: bool) -> str:
    host = socket.gethostname()
    slurm = root / "slurm"
    lines = [
        "ClusterName=ecs",
        f"SlurmctldHost={host}(127.0.0.1)",
        "SlurmctldPort=6817",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root / 'munge' / 'sock'}",
        "SlurmUser=root",
        f"StateSaveLocation={slurm / 'state'}",
        f"SlurmdSpoolDir={slurm / 'spool-%n'}",
        f"SlurmctldPidFile={slurm / 'ctld.pid'}",
        f"SlurmdPidFile={slurm / 'slurmd-%n.pid'}",
        f"SlurmctldLogFile={slurm / 'log' / 'ctld.log'}",
        f"SlurmdLogFile={slurm / 'log' / '%n.log'}",
        f"ProctrackType=proctrack/{'cgroup' if confined else 'linuxproc'}",
        f"TaskPlugin=task/{'cgroup' if confined else 'none'}",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2",
        "KillWait=5",
        "MinJobAge=2",
    ]
    for port, (name, features) in enumerate(NODES.items(), start=6818):
        lines.append(
            f"NodeName={name} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs=1 RealMemory=2000 "
            f"Features={features}"
        )
    # OverSubscribe=FORCE: the nodes have 1 CPU, and the agent jobs of several environments (or tests) that ask for
    # no CPU share it rather than wait for each other; what the core lets its tasks want is its own count (docs/slurm.md)
    lines.append(f"PartitionName=ecs Nodes={','.join(NODES)} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE")
    return "\n".join(lines) + "\n"


def _confine(root: Path, namespace: str) -> list[str]:
    """The command prefix that starts a slurmd in the cluster's cgroups; [] where this machine has none to give
    (the reason is then in ``root/unconfined``)."""
    try:
        found = cgroups.hierarchies()
        made = cgroups.create(found, namespace, root / "cgroups")
    except (cgroups.Unsupported, OSError) as exc:
        cgroups.remove(root / "cgroups")
        (root / "unconfined").write_text(f"{exc}\n")
        return []
    cgroups.link(found, root / "cgroup")
    (root / "slurm" / "cgroup.conf").write_text(_cgroup_conf(root))
    return cgroups.enter(found, made)


def _cgroup_conf(root: Path) -> str:
    """cgroup.conf (beside slurm.conf): CgroupMountpoint links to the hierarchies, which the slurmd see rooted at
    the cluster's cgroups (cgroups.py)."""
    lines = [
        "CgroupPlugin=cgroup/v1",
        f"CgroupMountpoint={root / 'cgroup'}",
        "ConstrainCores=yes",
        "ConstrainRAMSpace=yes",
        "ConstrainSwapSpace=yes",  # memory + swap within --mem too: where the machine has swap, a task cannot swap past it
    ]
    return "\n".join(lines) + "\n"


def _start(cluster: Cluster, argv: list[str], log: Path, *, enter: bool = True) -> int:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*(cluster.enter() if enter else []), *argv],
            env=cluster.env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    with open(cluster.root / "pids", "a") as pids:
        pids.write(f"{process.pid} {start_ticks(process.pid)}\n")
    return process.pid


def _ours(root: Path) -> dict[int, int]:
    """The processes ``up`` recorded that still run: pid -> start time. A pid whose process started at another
    time was reused since, by someone else's process."""
    recorded = (root / "pids").read_text().splitlines() if (root / "pids").exists() else []
    pids = {}
    for line in recorded:
        pid, _, ticks = line.partition(" ")
        if ticks and start_ticks(int(pid)) == int(ticks):
            pids[int(pid)] = int(ticks)
    return pids


def _signal(pids: dict[int, int], signum: int) -> None:
    """Signal those of ``pids`` that are still the processes recorded."""
    for pid, ticks in pids.items():
        if start_ticks(pid) == ticks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def stop_controller(cluster: Cluster) -> None:
    """Stop slurmctld (its jobs run on under their slurmd), as when the controller is down."""
    pid = int((cluster.root / "slurm" / "ctld.pid").read_text())
    ours = _ours(cluster.root)
    if pid not in ours:
        raise ClusterError(f"slurmctld pid {pid} is not this cluster's")
    _signal({pid: ours[pid]}, signal.SIGTERM)
    _wait("slurmctld to stop", lambda: not _alive(pid), cluster.root / "slurm" / "log" / "ctld.log")


def start_controller(cluster: Cluster) -> None:
    """Start slurmctld again (it reads its jobs back from its state)."""
    log = cluster.root / "slurm" / "log"
    _start(cluster, [_which("slurmctld"), "-D"], log / "ctld.out")
    _wait("slurmctld", lambda: _idle_nodes(cluster) == len(NODES), log)


def _wait(what: str, ready, log: Path, timeout: float = UP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not ready within {timeout:.0f} s (log: {log})")
        time.sleep(0.1)


def _idle_nodes(cluster: Cluster) -> int:
    try:
        out = cluster.run("sinfo", "-h", "-N", "-o", "%T", timeout=10, check=False).stdout
    except subprocess.TimeoutExpired:
        return 0
    return sum(1 for line in out.split() if line.strip() in ("idle", "mixed", "allocated"))


def up(root: Path = DEFAULT_ROOT, namespace: str = DEFAULT_NAMESPACE) -> Cluster:
    """Bring the cluster up under ``root`` (emptied first) in the network namespace ``namespace``."""
    if os.geteuid() != 0:
        raise ClusterError("the Slurm test cluster needs root (network namespace, munge, slurmd)")
    if missing := missing_programs():
        raise ClusterError(f"not installed: {', '.join(missing)} (Debian packages slurm-wlm, munge, iproute2)")
    if root.exists():
        down(root)
        shutil.rmtree(root)
    cluster = Cluster(root)
    for sub in ("munge", "slurm/state", "slurm/log"):
        (root / sub).mkdir(parents=True)
    (root / "munge").chmod(0o700)
    try:
        _start_all(cluster, namespace)
    except BaseException:
        down(root)  # what started, stopped; the cgroups made, removed
        raise
    return cluster


def _start_all(cluster: Cluster, namespace: str) -> None:
    """The namespace, munged, slurmctld and the slurmd, each recorded under the root as it starts (for ``down``)."""
    root = cluster.root
    subprocess.run(["ip", "netns", "add", namespace], check=True, capture_output=True)
    (root / "namespace").write_text(namespace + "\n")  # ours only once made: down() deletes it
    for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"]):
        subprocess.run(["ip", "netns", "exec", namespace, *argv], check=True, capture_output=True)
    munge = root / "munge"
    subprocess.run([_which("mungekey"), "-c", "-k", str(munge / "key")], check=True, capture_output=True)
    _start(
        cluster,
        [
            _which("munged"),
            "-F",
            "--force",
            f"--socket={munge / 'sock'}",
            f"--key-file={munge / 'key'}",
            f"--pid-file={munge / 'pid'}",
            f"--seed-file={munge / 'seed'}",
        ],
        munge / "log",
    )
    _wait("munged", (munge / "sock").is_socket, munge / "log")
    enter = _confine(root, namespace)
    cluster.conf.write_text(_slurm_conf(root, confined=bool(enter)))
    log = root / "slurm" / "log"
    _start(cluster, [_which("slurmctld"), "-D"], log / "ctld.out")
    for name in NODES:
        _start(cluster, [*enter, _which("slurmd"), "-D", "-N", name], log / f"{name}.out")
    _wait(f"{len(NODES)} idle slurmd nodes", lambda: _idle_nodes(cluster) == len(NODES), log)


def down(root: Path = DEFAULT_ROOT) -> None:
    """Stop every process of the cluster (and of its jobs), remove its namespace and cgroups; the files stay."""
    cluster = Cluster(root)
    namespace = cluster.namespace if (root / "namespace").exists() else ""
    pids = _ours(root)
    if namespace:
        subprocess.run(
            [*cluster.enter(), "scancel", "--full", "--partition=ecs"],
            env=cluster.env(),
            check=False,
            capture_output=True,
            timeout=10,
        )
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    if namespace:
        left = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
        for pid in left:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
    _signal(pids, signal.SIGKILL)
    cgroups.remove(root / "cgroups")
    (root / "pids").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("up", "down") or len(argv) > (3 if argv[0] == "up" else 2):
        print("usage: slurm-cluster up [ROOT [NAMESPACE]] | down [ROOT]", file=sys.stderr)
        return 2
    root = Path(argv[1]) if len(argv) > 1 else DEFAULT_ROOT
    try:
        if argv[0] == "down":
            down(root)
            return 0
        cluster = up(root, argv[2] if len(argv) > 2 else DEFAULT_NAMESPACE)
    except (ClusterError, subprocess.CalledProcessError) as exc:
        print(f"slurm-cluster: {exc}", file=sys.stderr)
        return 1
    print(cluster.run("sinfo", "-N", "-o", "%N %T %f").stdout, end="")
    if cluster.unconfined:
        print(
            f"slurm-cluster: jobs are NOT confined to their allocation (proctrack/linuxproc): {cluster.unconfined}",
            file=sys.stderr,
        )
    else:
        print("jobs are confined to their allocation (proctrack/cgroup, task/cgroup: CPUs and --mem)")
    print(f"export SLURM_CONF={cluster.conf}  # and run commands with: {' '.join(cluster.enter())} COMMAND")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
