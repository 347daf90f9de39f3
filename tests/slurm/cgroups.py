"""The cgroups that confine the test cluster's jobs: a subtree of the cluster's own in each cgroup v1 hierarchy.

Slurm's cgroup/v1 plugin keeps a job under ``<CgroupMountpoint>/<controller>/slurm_<node>/uid_<uid>/job_<id>``.
Several test clusters run at once on one machine, with the same node names and job ids counting from 1, so
they must not share those paths. A cluster's slurmd therefore start in a cgroup of the cluster,
``<hierarchy>/<this process's cgroup>/<cluster>``, inside a cgroup namespace rooted there and a mount namespace
in which they mount the hierarchies again where the machine has them: to Slurm and its jobs the cluster's cgroup
is the root, and a job finds its cgroup, as /proc/self/cgroup names it, where it looks on any machine
(/sys/fs/cgroup/<controller>/...). Its processes stay inside this process's cgroups, so whatever limits the
caller still limits them.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

#: proctrack/cgroup tracks a job's processes with freezer; task/cgroup confines them with cpuset and memory
CONTROLLERS = ("cpuset", "memory", "freezer")

#: ``sh -c ENTER sh HIERARCHIES CGROUPS PROGRAM ARGS...`` joins CGROUPS, then, in new cgroup and mount namespaces,
#: mounts each of HIERARCHIES (``mountpoint=controllers``) again at its mountpoint (in place of the machine's mount:
#: the kernel refuses a hierarchy mounted on itself) and runs PROGRAM.
ENTER = """set -e
hierarchies=$1 cgroups=$2
shift 2
for dir in $cgroups; do echo $$ > "$dir/cgroup.procs"; done
exec unshare --cgroup --mount --propagation private -- sh -ec '
for h in $1; do umount "${h%%=*}"; mount -t cgroup -o "${h#*=}" cgroup "${h%%=*}"; done
shift
exec "$@"' sh "$hierarchies" "$@"
"""


class Unsupported(Exception):
    """This machine cannot confine the cluster's jobs with cgroup v1; the message says why."""


@dataclass(frozen=True)
class Hierarchy:
    """A cgroup v1 hierarchy: its controllers (as mounted), where it is mounted, and this process's cgroup in it."""

    controllers: str
    mountpoint: Path
    own: str

    def path(self, *parts: str) -> Path:
        return self.mountpoint.joinpath(self.own.lstrip("/"), *parts)


def hierarchies() -> dict[str, Hierarchy]:
    """Controller -> its mounted v1 hierarchy, for each of CONTROLLERS; Unsupported names the first one missing."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if names:  # (cgroup v2's line has none)
            own[names] = path
    mounts: dict[frozenset[str], Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        fstype, _, options = tail.split()[:3]
        root, mountpoint = fields.split()[3:5]
        if fstype == "cgroup" and root == "/":
            mounts.setdefault(frozenset(options.split(",")), Path(mountpoint))
    found: dict[str, Hierarchy] = {}
    for controller in CONTROLLERS:
        controllers = next((c for c in own if controller in c.split(",")), None)
        if controllers is None:
            raise Unsupported(f"no cgroup v1 hierarchy has the {controller} controller (/proc/self/cgroup)")
        where = next((m for o, m in mounts.items() if set(controllers.split(",")) <= o), None)
        if where is None:
            raise Unsupported(f"the cgroup v1 hierarchy {controllers} is not mounted (/proc/self/mountinfo)")
        if any(c.isspace() for c in str(where) + own[controllers]):
            raise Unsupported(f"the cgroup path {where}{own[controllers]} has a space")
        found[controller] = Hierarchy(controllers, where, own[controllers])
    return found


def create(found: dict[str, Hierarchy], cluster: str, record: Path) -> list[Path]:
    """Make the cluster's cgroup ``<hierarchy>/<own>/<cluster>`` in each hierarchy; ``record`` lists them, a line
    ``<controller> <path>`` each (``made``)."""
    made: list[Path] = []
    for controller, hierarchy in found.items():
        base = hierarchy.path(cluster)
        if base.exists():  # left by a cluster that was never taken down
            remove_tree(base)
        base.mkdir()
        with open(record, "a") as out:
            out.write(f"{controller} {base}\n")
        if controller == "cpuset":  # a cpuset needs CPUs and memory nodes before it can hold a process
            for name in ("cpus", "mems"):
                (base / f"cpuset.{name}").write_text((base.parent / f"cpuset.effective_{name}").read_text())
        made.append(base)
    return made


def enter(found: dict[str, Hierarchy], cgroups: list[Path]) -> list[str]:
    """The command prefix that runs a program in ``cgroups``, which it sees as the roots of their hierarchies."""
    mounts = " ".join(f"{hierarchy.mountpoint}={hierarchy.controllers}" for hierarchy in found.values())
    return ["sh", "-c", ENTER, "sh", mounts, " ".join(map(str, cgroups))]


def link(found: dict[str, Hierarchy], mountpoint: Path) -> None:
    """``mountpoint/<controller>``, Slurm's ``CgroupMountpoint`` layout, as links to where the hierarchies are."""
    mountpoint.mkdir()
    for controller, hierarchy in found.items():
        (mountpoint / controller).symlink_to(hierarchy.mountpoint)


def remove(record: Path, timeout: float = 10.0) -> None:
    """Kill what is left in the cgroups ``record`` lists and remove them, deepest first."""
    for base in made(record).values():
        remove_tree(base, timeout)
    record.unlink(missing_ok=True)


def made(record: Path) -> dict[str, Path]:
    """Controller -> the cluster's cgroup in its hierarchy, as ``create`` listed them in ``record``."""
    lines = record.read_text().splitlines() if record.exists() else []
    return {controller: Path(path) for controller, path in (line.split(" ", 1) for line in lines)}


def remove_tree(base: Path, timeout: float = 10.0) -> None:
    """Remove the cgroup ``base`` and those below it, killing their processes first (they are the cluster's)."""
    deadline = time.monotonic() + timeout
    while base.exists():
        dirs = [Path(top) for top, _, _ in os.walk(base, topdown=False)]
        left = {p for d in dirs for p in _pids(d)}
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for directory in dirs:
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:  # EBUSY while a killed process is still exiting
                break
        else:
            return
        if time.monotonic() > deadline:
            raise OSError(f"cannot remove the cgroup {base}: processes {sorted(left)} remain")
        time.sleep(0.05)


def _pids(directory: Path) -> set[int]:
    try:
        return {int(p) for p in (directory / "cgroup.procs").read_text().split()}
    except FileNotFoundError:
        return set()
