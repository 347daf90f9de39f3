"""create, START, STOP and destroy of N fast tasks through the core, against the floor, for N up to 5,000.

The tasks are served by the fast OCC peer (ecs_engine/occ/multipeer.py: one hub process answers every task's
control port, each task is a tiny process), so the figures measure the core, not Python example processes.
N tasks over N/10 virtual hosts (setting core.nodes), 10 per host, in one environment, driven as a coconut
user drives them: NewEnvironment (expand, deploy, STANDBY, CONFIGURE), ControlEnvironment START and STOP,
DestroyEnvironment (RESET, then the walk down to DONE). The core runs in its own process on default settings
(no timeout raised). The floor: the same task processes on the same hub, spawned and driven by one bare asyncio
script with the OCC client (free ports, spawn, wait for the port, GetState, EventStream, CONFIGURE; START; STOP;
RESET, EXIT, then each process's end). It looks at a starting task's port as the core does (a bind: since the core
stopped connecting to look, a floor that connected paid 5-12 % more CPU per create than the core's way would). The
floor's START first takes a run number as the minimum any controller must: a counter in a file, written and
fdatasync'd before the tasks are told (the core's START takes its number from the configuration store, committed
with an fsync, and a number handed out must survive a crash of the machine; without it the floor's START was short
of one fsync the core cannot skip: 2-5 ms, up to 50 ms, on this VM's disk). The core's record and events are
committed without an fsync (SQLite WAL, synchronous=NORMAL), so the floor's STOP has none. Core and floor runs
alternate; each figure is a median. Prints each figure, the ratio to the floor, (core - floor) / N, the middle half
of the paired ratios (each core run over the floor run beside it: how much one run's ratio moves), the CPU time
per task of the core, of the floor's process and of the hubs (less moved by a loaded machine than wall time), the
whole machine's CPU per task and the share of its cores busy (every process: driver, hubs, the tasks themselves;
near all of them busy, a phase's wall time follows the machine's CPU, so each ms of CPU the core saves shortens it
by about 1/cores ms), the core's RSS per task, and t(N)/t(first N) per transition, for the core and for the floor
(a machine that does not scale linearly shows in the floor's figure too). With --cycles, then the core's RSS after
each of that many create/destroy cycles of 100 tasks (a destroyed environment is freed by reference counting, at
once: no collection is waited for; bench/cycle_memory.py shows what a cycle leaves).

Targets (issue 19): at N=100 create <= 1.1x, START <= 1.2x, STOP <= 1.1x, destroy <= 1.2x; (core-floor)/N at
5,000 within 1.5x of its value at 500; t(5000)/t(500) <= 10.5.

Usage: python bench/scale.py [--sizes 100,500,1000,2000,5000] [--repeat 3] [--quick] [--cycles 20]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from transitions import standby  # bench/transitions.py: the floor's wait for STANDBY

from ecs_engine.occ.client import OccClient
from ecs_engine.occ.multipeer import host_names, running_hub, task_argv, write_repo
from ecs_engine.occ.options import PORT_ENV
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from ecs_engine.server.core import tune_garbage_collector

PHASES = ("create", "START", "STOP", "destroy")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) of process ``pid`` so far, from /proc: unlike wall time, little
    moved by the other processes of a loaded machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_pids() -> list[int]:
    """This process's fast-peer hubs (children of its main thread)."""
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    return [int(p) for p in children if b"ecs_engine.occ.multipeer" in Path(f"/proc/{p}/cmdline").read_bytes()]


class Clock:
    """A phase's wall time, the CPU time of the process driving the tasks (the core, or the floor's own), the
    hubs' CPU time and the whole machine's (every process, from /proc/stat): ``out[name]``, ``out[name + " cpu"]``,
    ``out[name + " hubs"]``, ``out[name + " machine"]``."""

    def __init__(self, driver: int):
        self.driver = driver
        self.hubs = hub_pids()
        self._started = (0.0, 0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float, float]:
        hubs = sum(cpu_seconds(h) for h in self.hubs)
        return time.perf_counter(), cpu_seconds(self.driver), hubs, machine_cpu_seconds()

    def start(self) -> None:
        self._started = self._now()

    def stop(self, out: dict[str, float], name: str) -> None:
        (wall, cpu, hubs, machine), (wall0, cpu0, hubs0, machine0) = self._now(), self._started
        out[name], out[f"{name} cpu"], out[f"{name} hubs"] = wall - wall0, cpu - cpu0, hubs - hubs0
        out[f"{name} machine"] = machine - machine0


def machine_cpu_seconds() -> float:
    """The CPU time every core of the machine spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def free_ports(count: int) -> list[int]:
    """``count`` ports free now, consecutive where possible (both parities: the hubs share tasks by port) and
    outside the kernel's ephemeral range (bind(0) hands out only even ones, and the clients' own connections
    take ephemeral ones at any time). The search starts at a random place: two benches that searched from the
    same port at once (other sessions run this bench too) took the same ports, and the floor's tasks whose port
    the other had bound ended."""
    ports = []
    candidates = [*range(61000, 65536), *range(20000, 32768)]
    first = random.randrange(len(candidates))
    for port in itertools.chain(candidates[first:], candidates[:first]):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError(f"fewer than {count} free ports")


# -- through the core -------------------------------------------------------------------------------------


def through_core(core: CoreClient, repo: Path, n: int, core_pid: int, clock: Clock | None = None) -> dict[str, float]:
    """One cycle through the core, each phase timed by ``clock`` (bench/core_cpu.py passes one that also counts)."""
    clock = clock or Clock(core_pid)
    request = pb.NewEnvironmentRequest(
        workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": json.dumps(host_names(n))}
    )
    out = {"rss_before": rss_mb(core_pid)}
    clock.start()
    reply = core.call("NewEnvironment", request)
    clock.stop(out, "create")
    assert reply.environment.numberOfTasks == n, (reply.environment.numberOfTasks, core.last_error)
    out["rss_created"] = rss_mb(core_pid)
    environment_id = reply.environment.id
    for name, optype, state in (("START", 1, "RUNNING"), ("STOP", 2, "CONFIGURED")):
        clock.start()
        result = core.call("ControlEnvironment", pb.ControlEnvironmentRequest(id=environment_id, type=optype))
        clock.stop(out, name)
        assert result.state == state, (result.state, core.last_error)
    clock.start()
    core.call("DestroyEnvironment", pb.DestroyEnvironmentRequest(id=environment_id))
    clock.stop(out, "destroy")
    out["rss_after"] = rss_mb(core_pid)
    return out


# -- the floor --------------------------------------------------------------------------------------------


async def _ended(process: subprocess.Popen) -> None:
    """The process's end as the core sees it: its pidfd turns readable (a poll every 10 ms was up to 10 ms late
    and woke the floor's loop a hundred times per process)."""
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(process.pid)
    ended = loop.create_future()
    loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
    try:
        await ended
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    process.wait()


def _ignore(event: str) -> None:
    pass


def next_run_number(counter: Path) -> int:
    """The floor's run number: the counter file incremented and on disk (fdatasync) before START is sent."""
    number = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, str(number).encode())
        os.fdatasync(fd)
    finally:
        os.close(fd)
    return number


async def floor(n: int, fifo: Path, hubs: int, clock: Clock | None = None) -> dict[str, float]:
    """The floor's cycle, each phase timed by ``clock`` (bench/core_cpu.py passes one that also counts)."""
    out: dict[str, float] = {}
    counter = fifo.with_name("floor-run-number")
    argv = task_argv(fifo, hubs)
    clock = clock or Clock(os.getpid())
    clock.start()
    ports = free_ports(n)  # the core's create finds its ports too
    processes = [
        subprocess.Popen(argv, env={**os.environ, PORT_ENV: str(port)}, start_new_session=True) for port in ports
    ]
    clients = [OccClient(f"127.0.0.1:{port}") for port in ports]
    try:
        await asyncio.gather(*(standby(c, port, p) for c, port, p in zip(clients, ports, processes, strict=True)))
        for client in clients:  # a controller hears device events from STANDBY on, as the core does (its cost)
            client.on_event(_ignore)
        replies = await asyncio.gather(
            *(c.transition("STANDBY", "CONFIGURE", [("environment_id", f"floor{n}")]) for c in clients)
        )
        clock.stop(out, "create")
        assert all(r.reached("CONFIGURED") for r in replies)
        for name, steps in (
            ("START", [("CONFIGURED", "START", "RUNNING", lambda: [("runNumber", str(next_run_number(counter)))])]),
            ("STOP", [("RUNNING", "STOP", "CONFIGURED", list)]),
            ("destroy", [("CONFIGURED", "RESET", "STANDBY", list), ("STANDBY", "EXIT", "DONE", list)]),
        ):
            clock.start()
            for source, event, target, arguments_now in steps:  # START's run number is taken inside the clock
                arguments = arguments_now()
                replies = await asyncio.gather(*(c.transition(source, event, arguments) for c in clients))
                assert all(r.reached(target) for r in replies), event
            if name == "destroy":
                await asyncio.gather(*(c.close() for c in clients))
                await asyncio.gather(*(_ended(p) for p in processes))
            clock.stop(out, name)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    return out


# -- report -----------------------------------------------------------------------------------------------


def report(n: int, stack: list[dict[str, float]], bare: list[dict[str, float]], medians: dict) -> None:
    for what in PHASES:
        a = statistics.median(s[what] for s in stack)
        b = statistics.median(s[what] for s in bare)
        medians[(n, what)] = (a, b)
        extra = (a - b) / n * 1000
        low, high = _spread([s[what] / f[what] for s, f in zip(stack, bare, strict=True)])
        print(
            f"{n:>5} {what:<8} {a * 1000:>8.0f}ms {b * 1000:>8.0f}ms {a / b:>6.2f} {extra:>9.2f}ms"
            f" {low:>6.2f}-{high:.2f}",
            flush=True,
        )
    cpu = " ".join(
        f"{what} {_per_task(stack, what, ' cpu', n):.2f}/{_per_task(bare, what, ' cpu', n):.2f}"
        f" (hubs {_per_task(stack, what, ' hubs', n):.2f}/{_per_task(bare, what, ' hubs', n):.2f})"
        for what in PHASES
    )
    print(f"{n:>5} CPU ms per task, core/floor: {cpu}", flush=True)
    busy = " ".join(
        f"{what} {_per_task(stack, what, ' machine', n):.1f}/{_per_task(bare, what, ' machine', n):.1f}"
        f" ({_busy(stack, what):.0%}/{_busy(bare, what):.0%})"
        for what in PHASES
    )
    print(f"{n:>5} machine CPU ms per task, core/floor (share of its {os.cpu_count()} cores busy): {busy}", flush=True)
    for what in PHASES:
        medians[(n, what, "cpu")] = _per_task(stack, what, " cpu", n)
    per_task = statistics.median((s["rss_created"] - s["rss_before"]) / n * 1024 for s in stack)
    kept = statistics.median(s["rss_after"] - s["rss_before"] for s in stack)
    print(f"{n:>5} core RSS {per_task:.0f} KB per task while created; {kept:+.1f} MB after destroy", flush=True)


def _spread(ratios: list[float]) -> tuple[float, float]:
    """The middle half of the paired ratios (each core run over the floor run beside it; the whole range below
    four): how far one run's ratio may be from the next on this machine at this moment."""
    if len(ratios) < 4:
        return min(ratios), max(ratios)
    quartiles = statistics.quantiles(ratios, n=4)
    return quartiles[0], quartiles[2]


def _busy(runs: list[dict[str, float]], what: str) -> float:
    """The median share of the machine's cores that were busy during the phase (anything running, not only us)."""
    return statistics.median(s[what + " machine"] / s[what] for s in runs) / (os.cpu_count() or 1)


def _per_task(runs: list[dict[str, float]], what: str, clock: str, n: int) -> float:
    return statistics.median(s[what + clock] for s in runs) / n * 1000


def cycles(core: CoreClient, repo: Path, n: int, count: int, core_pid: int) -> None:
    """RSS of the core after each create/destroy cycle: a leak shows as a rising low point."""
    lows = [through_core(core, repo, n, core_pid)["rss_after"] for _ in range(count)]
    half = count // 2
    drift = statistics.mean(lows[half:]) - statistics.mean(lows[:half])
    print(f"RSS after each of {count} cycles of {n} tasks (MB): {' '.join(f'{r:.0f}' for r in lows)}")
    print(f"  mean of the second half - mean of the first: {drift:+.1f} MB; first {lows[0]:.0f}, last {lows[-1]:.0f}")


def more_descriptors(wanted: int = 1 << 16) -> None:
    """The floor holds a channel, a stream, a pidfd and pipes per task: 5,000 tasks pass a 20,000 descriptor limit
    (gRPC then fails sockets and retries, which slows the floor). Raise it where allowed (root may)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(wanted, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, limit), max(hard, limit)))
            return
        except (ValueError, OSError):
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000,2000,5000")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per size (median)")
    parser.add_argument("--quick", action="store_true", help="sizes 100,500 and one run each")
    parser.add_argument("--hubs", type=int, default=2, help="fast-peer hub processes (each serves 2,500 at most)")
    parser.add_argument("--cycles", type=int, default=0, help="then this many create/destroy cycles of 100 tasks")
    args = parser.parse_args()
    more_descriptors()
    # the floor collects cycles as the core does: with Python's defaults a burst of calls to every task ran full
    # collections over all the tasks' clients (2,500 tasks: 405 -> 373 us of the floor's CPU per START/STOP call)
    tune_garbage_collector()
    sizes = [100, 500] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else args.repeat
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub.fifo", hubs=args.hubs) as fifo:
        root = Path(tmp)
        write_repo(root / "repo", fifo, args.hubs)
        settings = root / "settings.yaml"
        settings.write_text(f"core:\n  nodes: {json.dumps(host_names(max(sizes)))}\n")
        endpoint = f"127.0.0.1:{free_ports(1)[0]}"
        started = daemon.start(
            endpoint=endpoint, data_dir=root / "data", state_dir=root / "state", settings_path=settings
        )
        try:
            with CoreClient(endpoint, timeout=3600, token=read_token(root / "state")) as core:
                through_core(core, root / "repo", 10, started.pid)  # warm-up: imports and caches of the core
                print(f"{'N':>5} {'what':<8} {'core':>10} {'floor':>10} {'ratio':>6} {'(c-f)/N':>11} {'paired':>11}")
                medians: dict = {}
                for n in sizes:
                    stack, bare = [], []
                    for _ in range(repeat):  # alternate, so load from elsewhere hits both alike
                        stack.append(through_core(core, root / "repo", n, started.pid))
                        gc.collect()
                        bare.append(asyncio.run(floor(n, fifo, args.hubs)))
                    report(n, stack, bare, medians)
                first = sizes[0]
                for n in sizes[1:]:
                    growth = " ".join(
                        f"{what} {medians[(n, what)][0] / medians[(first, what)][0]:.1f}" for what in PHASES
                    )
                    print(f"t({n})/t({first}) core: {growth} (linear: {n / first:.1f})")
                    growth = " ".join(
                        f"{what} {medians[(n, what)][1] / medians[(first, what)][1]:.1f}" for what in PHASES
                    )
                    print(f"t({n})/t({first}) floor: {growth}")
                    per_task = " ".join(
                        f"{what} {medians[(n, what, 'cpu')] / medians[(first, what, 'cpu')]:.2f}" for what in PHASES
                    )
                    print(f"core CPU per task at {n} / at {first}: {per_task} (linear: 1)")
                if args.cycles:
                    cycles(core, root / "repo", 100, args.cycles, started.pid)
        finally:
            daemon.stop(root / "state")


if __name__ == "__main__":
    main()
