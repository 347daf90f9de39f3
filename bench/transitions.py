"""create, START and STOP of N real example processes through the core, against the floor.

The workflow has N/2 producer/consumer pairs (the example processes, moving data over TCP while RUNNING).
Through the core: the NewEnvironment / ControlEnvironment RPCs a coconut user makes, core in its own process.
The floor: the same processes with the same arguments, spawned and driven by one bare asyncio script with
the OCC client (spawn + wait for STANDBY + CONFIGURE in parallel; START and STOP in parallel).
Prints each figure (median of the repeats), and the ratio to the floor; target (design.md §8): <= 1.3.

With --state-stream the core also keeps a StateStream per process (setting core.occ_state_stream).

Usage: python bench/transitions.py [--sizes 10,50,100] [--repeat 3] [--state-stream]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecs_engine.occ.client import OccClient
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from ecs_engine.tasks.modes import listening

PRODUCER = ["-m", "ecs_engine.examples.producer", "--rate=20", "--payload-bytes=256"]
CONSUMER = ["-m", "ecs_engine.examples.consumer"]
TASK = """\
name: {name}
control:
  mode: direct
{bind}command:
  stdout: none
  stderr: none
  value: {python}
  arguments: {arguments}
"""
WORKFLOW = """\
name: bench
defaults:
  pairs: '[]'
roles:
  - name: pair-{{ p }}
    for:
      range: "{{ pairs }}"
      var: p
    roles:
      - name: producer
        task:
          load: producer
      - name: consumer
        connect:
          - name: in
            type: pull
            target: "{{ Parent().Path }}.producer:out"
        task:
          load: consumer
"""


def write_repo(root: Path) -> None:
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    (root / "workflows" / "bench.yaml").write_text(WORKFLOW)
    for name, arguments, bind in (
        ("producer", PRODUCER, "bind:\n  - name: out\n    type: push\n"),
        ("consumer", CONSUMER, ""),
    ):
        text = TASK.format(name=name, bind=bind, python=sys.executable, arguments=list(arguments))
        (root / "tasks" / f"{name}.yaml").write_text(text)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free now (held open together, so the kernel cannot hand one out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# -- through the core -------------------------------------------------------------------------------------


def through_core(core: CoreClient, repo: Path, n: int) -> dict[str, float]:
    pairs = [f"{i:03d}" for i in range(n // 2)]
    request = pb.NewEnvironmentRequest(
        workflowTemplate=f"{repo}/workflows/bench", vars={"pairs": str(pairs).replace("'", '"')}
    )
    out = {}
    start = time.perf_counter()
    reply = core.call("NewEnvironment", request)
    out["create"] = time.perf_counter() - start
    assert reply.environment.numberOfTasks == n, reply.environment.numberOfTasks
    environment_id = reply.environment.id
    for name, optype, state in (("START", 1, "RUNNING"), ("STOP", 2, "CONFIGURED")):
        start = time.perf_counter()
        result = core.call("ControlEnvironment", pb.ControlEnvironmentRequest(id=environment_id, type=optype))
        out[name] = time.perf_counter() - start
        assert result.state == state, (result.state, core.last_error)
        if name == "START":
            time.sleep(0.3)  # let data flow a little, as in a real run
    core.call("DestroyEnvironment", pb.DestroyEnvironmentRequest(id=environment_id))
    return out


# -- the floor --------------------------------------------------------------------------------------------


async def standby(client: OccClient, port: int, process: subprocess.Popen) -> None:
    """Wait until the process listens on ``port`` and its OCC state is STANDBY (bench/scale.py shares it). The port
    is looked at every 20 ms as the core looks at it (``listening``: a bind, no connection)."""
    while not listening(port):
        assert process.poll() is None, "a floor process died"
        await asyncio.sleep(0.02)
    while (await client.get_state(wait_for_ready=True)).state != "STANDBY":
        await asyncio.sleep(0.5)


async def floor(n: int) -> dict[str, float]:
    processes: list[subprocess.Popen] = []
    try:
        return await _floor(n, processes)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _floor(n: int, processes: list[subprocess.Popen]) -> dict[str, float]:
    out = {}
    clients, arguments = [], []
    start = time.perf_counter()
    ports = iter(free_ports(n // 2 * 3))
    for i in range(n // 2):
        data = next(ports)
        for argv, channel in (
            (PRODUCER, [("chans.out.0.address", f"tcp://*:{data}"), ("chans.out.0.method", "bind")]),
            (CONSUMER, [("chans.in.0.address", f"tcp://127.0.0.1:{data}"), ("chans.in.0.method", "connect")]),
        ):
            port = next(ports)
            env = {**os.environ, "OCC_CONTROL_PORT": str(port)}
            processes.append(
                subprocess.Popen(
                    [sys.executable, *argv],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            clients.append(OccClient(f"127.0.0.1:{port}"))
            arguments.append([("environment_id", f"floor{i}"), *channel])
    await asyncio.gather(
        *(standby(c, int(c.address.rsplit(":", 1)[1]), p) for c, p in zip(clients, processes, strict=True))
    )
    replies = await asyncio.gather(
        *(c.transition("STANDBY", "CONFIGURE", a) for c, a in zip(clients, arguments, strict=True))
    )
    out["create"] = time.perf_counter() - start
    assert all(r.reached("CONFIGURED") for r in replies)
    for name, source, event, target, args in (
        ("START", "CONFIGURED", "START", "RUNNING", [("runNumber", "1")]),
        ("STOP", "RUNNING", "STOP", "CONFIGURED", []),
    ):
        start = time.perf_counter()
        replies = await asyncio.gather(*(c.transition(source, event, args) for c in clients))
        out[name] = time.perf_counter() - start
        assert all(r.reached(target) for r in replies)
        if name == "START":
            await asyncio.sleep(0.3)
    await asyncio.gather(*(c.transition("CONFIGURED", "EXIT") for c in clients))
    for client in clients:
        await client.close()
    for process in processes:
        process.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--state-stream", action="store_true", help="set core.occ_state_stream: true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_repo(root / "repo")
        endpoint = f"127.0.0.1:{free_ports(1)[0]}"
        settings = None
        if args.state_stream:
            settings = root / "settings.yaml"
            settings.write_text("core:\n  occ_state_stream: true\n")
        daemon.start(endpoint=endpoint, data_dir=root / "data", state_dir=root / "state", settings_path=settings)
        try:
            with CoreClient(endpoint, timeout=600, token=read_token(root / "state")) as core:
                through_core(core, root / "repo", 4)  # warm-up: imports and caches of the core
                print(f"{'N':>4} {'what':<7} {'core':>9} {'floor':>9} {'ratio':>6}")
                for n in sizes:
                    stack, bare = [], []
                    for _ in range(args.repeat):  # alternate, so load from elsewhere hits both alike
                        stack.append(through_core(core, root / "repo", n))
                        bare.append(asyncio.run(floor(n)))
                    for what in ("create", "START", "STOP"):
                        a = statistics.median(s[what] for s in stack)
                        b = statistics.median(s[what] for s in bare)
                        print(f"{n:>4} {what:<7} {a * 1000:>7.0f}ms {b * 1000:>7.0f}ms {a / b:>6.2f}", flush=True)
        finally:
            daemon.stop(root / "state")


if __name__ == "__main__":
    main()
