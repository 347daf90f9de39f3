"""Cold start of coconut's core commands: ``env list`` with 50 environments and ``env show`` of a 1,000-task one.

A core runs with ``--envs`` environments of fast tasks (ecs_engine/occ/multipeer.py): one of ``--tasks``
tasks, the others of 10. Each command is run as a user types it, in a fresh process (the installed
``coconut`` script), against that core. The floor is the same RPCs from a bare script that imports only
gRPC and the generated messages (interpreter start, those imports, the calls, the data printed plainly); runs
alternate between coconut and the floor, and each figure is the median wall time (min beside it), with the
median CPU time (user + system) of the process. Prints the ratio to the floor and to the 200 ms target of
issue 19. ``python -c pass`` is shown as the interpreter's own start.

Run: .venv/bin/python bench/cli_start.py [--envs 50] [--tasks 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecs_engine.occ.launch import free_port
from ecs_engine.occ.multipeer import host_names, hubs_for, running_hub, write_repo
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token, token_metadata
from ecs_engine.server.client import CoreClient

TARGET_MS = 200.0
BIN = Path(sys.executable).parent
#: the floor: the same calls from a few lines of gRPC (argv: endpoint, metadata key, value, "list" or an id), and
#: the same data printed plainly: env list's two GetEnvironments at once (the public ones, and all to count the
#: hidden ones), env show's GetEnvironment
FLOOR = """\
import sys
import grpc
from ecs_engine.protocols import o2control_pb2 as pb, o2control_pb2_grpc as rpc
endpoint, key, value, what = sys.argv[1:]
stub = rpc.ControlStub(grpc.insecure_channel(endpoint))
if what == "list":
    calls = [stub.GetEnvironments.future(pb.GetEnvironmentsRequest(showAll=every), metadata=((key, value),))
             for every in (False, True)]
    shown, every = (call.result().environments for call in calls)
    for e in shown:
        print(e.id, e.rootRole, e.createdWhen, e.state, e.currentRunNumber)
    print(len(every) - len(shown), "hidden")
else:
    e = stub.GetEnvironment(pb.GetEnvironmentRequest(id=what), metadata=((key, value),)).environment
    print(e.id, e.rootRole, e.state, len(e.tasks), dict(e.vars))
"""


def run_ms(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) milliseconds of one run: CPU moves less than wall with the others' load."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    if status:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), command)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def create(core: CoreClient, repo: Path, tasks: int) -> str:
    request = pb.NewEnvironmentRequest(
        workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": json.dumps(host_names(tasks))}, public=True
    )
    reply = core.call("NewEnvironment", request)
    assert reply.environment.numberOfTasks == tasks, (reply.environment.numberOfTasks, core.last_error)
    return str(reply.environment.id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=50, help="environments the core holds")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks of the environment env show shows")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    hubs = hubs_for(args.tasks + 10 * (args.envs - 1))
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub.fifo", hubs=hubs) as fifo:
        root = Path(tmp)
        write_repo(root / "repo", fifo, hubs)
        dirs = {name: root / name for name in ("config", "data", "state")}
        settings = root / "settings.yaml"
        settings.write_text(f"core:\n  nodes: {json.dumps(host_names(args.tasks))}\n")
        endpoint = f"127.0.0.1:{free_port()}"
        state = dirs["state"] / "coconut"
        daemon.start(endpoint=endpoint, data_dir=dirs["data"] / "coconut", state_dir=state, settings_path=settings)
        try:
            with CoreClient(endpoint, timeout=3600, token=read_token(state)) as core:
                start = time.perf_counter()
                shown = create(core, root / "repo", args.tasks)
                for _ in range(args.envs - 1):
                    create(core, root / "repo", 10)
                print(
                    f"created {args.envs} environments ({args.tasks} + {args.envs - 1} x 10 tasks) in "
                    f"{time.perf_counter() - start:.0f} s"
                )
            env = {**os.environ, **{f"XDG_{name.upper()}_HOME": str(path) for name, path in dirs.items()}}
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: from cached bytecode, not compiling
            ((key, value),) = token_metadata(read_token(state))
            coconut = [str(BIN / "coconut"), "--endpoint", endpoint]
            floor = [sys.executable, "-c", FLOOR, endpoint, key, value]
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "coconut env list": [*coconut, "env", "list"],
                "floor list": [*floor, "list"],
                "coconut env show": [*coconut, "env", "show", shown],
                "floor show": [*floor, shown],
            }
            times: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            for command in commands.values():
                run_ms(command, env)  # let the OS cache the files once
            for _ in range(args.runs):  # alternate, so load from elsewhere hits all alike
                for name, command in commands.items():
                    wall, used = run_ms(command, env)
                    times[name].append(wall)
                    cpu[name].append(used)
        finally:
            daemon.stop(state)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"load average {os.getloadavg()[0]:.1f}, {args.runs} runs each")
    print(f"{'command':<18} {'median':>8} {'min':>8} {'ratio to floor':>15} {'ratio to 200 ms':>16} {'CPU median':>11}")
    for name, values in times.items():
        floor_name = {"coconut env list": "floor list", "coconut env show": "floor show"}.get(name)
        ratio = f"{median[name] / median[floor_name]:.2f}" if floor_name else ""
        used = statistics.median(cpu[name])
        print(
            f"{name:<18} {median[name]:>6.0f}ms {min(values):>6.0f}ms {ratio:>15} {median[name] / TARGET_MS:>16.2f}"
            f" {used:>9.0f}ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
