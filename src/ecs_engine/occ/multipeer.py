"""The fast OCC peer: one process serving the control ports of many tasks, for benchmarks and tests of scale.

A site's real tasks are C++ processes that answer OCC in microseconds; our Python example processes each
import gRPC (about 100 ms and 30 MB), so a few hundred of them measure Python, not the core. Here one hub
process serves K control ports, each a full OCC state machine (``ControlledProcess``), and each task is a
tiny process (a shell that becomes ``sleep``) that asks the hub, through a FIFO, to open an endpoint on its
``OCC_CONTROL_PORT`` answering GetState with the task's own pid. The endpoint lives as long as its task: the
task's end closes it (seen through a pidfd), and EXIT (DONE) ends the task (SIGTERM), as a real process exits.
So the core launches, watches, walks down and kills these tasks as it does real ones.

    python -m ecs_engine.occ.multipeer /tmp/hub.fifo      # the hub, until SIGTERM/SIGINT
    task_argv("/tmp/hub.fifo")                            # each task's command
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc.aio

from ecs_engine.errors import HandledError
from ecs_engine.protocols import occ_pb2, occ_pb2_grpc

from . import states
from .options import PORT_ENV, ControlOptions
from .process import ControlledProcess, _OccService
from .serving import SHUTDOWN_GRACE

log = logging.getLogger(__name__)

#: a task: tell its hub (a FIFO) its control port and pid in one atomic line, then wait to be ended
REGISTER = 'printf "%s %s\\n" "${port}" "$$" > {fifo} && exec sleep infinity'
#: endpoints one hub serves at most: each holds 3 descriptors (listener, connection, pidfd), and a process's
#: limit is often 20,000; more tasks take more hubs (``hubs``), each serving the ports of one residue
ENDPOINTS_PER_HUB = 2500
HUB_START_TIMEOUT = 30.0
#: the hub's cycle collector: a young generation of 10,000 (Python's: 700), a full collection after 20 x 100 of
#: them (Python's: 10 x 10). An endpoint holds ~250 tracked objects while its task lives; when it ends, reference
#: counting and the young collections free them (each call leaves a small cycle in gRPC that refers to the
#: service: ``test_an_ended_endpoint_is_freed_without_a_full_collection``). With Python's defaults a burst of calls
#: to every endpoint promoted enough in-flight objects to run a full collection, a walk over every endpoint, once
#: or twice per burst: the hub's CPU per call grew with its endpoints (at 2,500: 0.3-0.6 s per collection)
GC_THRESHOLDS = (10_000, 20, 100)


TASKS_PER_HOST = 10
#: a workflow of TASKS_PER_HOST fast tasks on each of the hosts in its variable ``hosts`` (a JSON list)
WORKFLOW = """\
name: scale
defaults:
  hosts: '[]'
roles:
  - name: host-{{{{ it }}}}
    for:
      range: "{{{{ hosts }}}}"
      var: it
    constraints:
      - attribute: machine_id
        value: "{{{{ it }}}}"
    roles:
      - name: t{{{{ i }}}}
        for:
          range: '{numbers}'
          var: i
        task:
          load: fast-peer
"""
TASK = """\
name: fast-peer
control:
  mode: direct
command:
  stdout: none
  stderr: none
  shell: false
  value: {program}
  arguments: {arguments}
"""


def task_argv(fifo: Path | str, hubs: int = 1) -> list[str]:
    """The command of a task served by the hub(s) of ``running_hub(fifo, hubs=...)``: with several hubs, the one
    of ``fifo.<control port % hubs>`` (the control port from the environment)."""
    target = '"$0"' if hubs == 1 else f'"$0.$(( ${PORT_ENV} % {hubs} ))"'
    return ["/bin/sh", "-c", REGISTER.format(port=PORT_ENV, fifo=target), str(fifo)]


def hubs_for(tasks: int) -> int:
    return max(1, -(-tasks // ENDPOINTS_PER_HUB))


def host_names(tasks: int) -> list[str]:
    """Virtual hosts for ``tasks`` tasks of the ``scale`` workflow (setting core.nodes, variable hosts)."""
    return [f"h{i:04d}" for i in range(max(1, tasks // TASKS_PER_HOST))]


def write_repo(root: Path, fifo: Path, hubs: int = 1) -> Path:
    """A template directory (``--repo``) with the workflow ``scale`` of fast tasks served by the hub(s) of ``fifo``."""
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    numbers = json.dumps([str(i) for i in range(TASKS_PER_HOST)])
    (root / "workflows" / "scale.yaml").write_text(WORKFLOW.format(numbers=numbers))
    program, *arguments = task_argv(fifo, hubs)
    (root / "tasks" / "fast-peer.yaml").write_text(
        TASK.format(program=json.dumps(program), arguments=json.dumps(arguments))
    )
    return root


class Endpoint(ControlledProcess):
    """One task's OCC state machine; GetState reports the task's pid, so the core sees its own process."""

    def __init__(self, port: int, pid: int):
        super().__init__(ControlOptions(port=port, role=f"fast-peer-{port}"))
        self.pid = pid
        self.ended = self._finished = asyncio.Event()  # set by stop() and at DONE


class _EndpointService(_OccService):
    process: Endpoint

    async def GetState(self, request, context):
        return occ_pb2.GetStateReply(state=self.process.state, pid=self.process.pid)


class Hub:
    """Reads ``PORT PID`` lines from ``fifo`` and serves an endpoint for each until its task ends."""

    def __init__(self, fifo: Path):
        self.fifo = fifo
        self.endpoints: dict[int, Endpoint] = {}
        self._serving: set[asyncio.Task] = set()
        self._buffer = b""

    async def serve(self) -> int:
        """Serve until SIGTERM/SIGINT; then end every endpoint and its task. Returns the exit code (0)."""
        created = False
        if not self.fifo.exists():
            os.mkfifo(self.fifo, 0o600)
            created = True
        elif not stat.S_ISFIFO(self.fifo.stat().st_mode):
            raise HandledError(f"{self.fifo}: exists and is not a FIFO")
        fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)  # read-write: never an end-of-file between writers
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_reader(fd, self._read, fd)
        try:
            await stopping.wait()
        finally:
            loop.remove_reader(fd)
            os.close(fd)
            if created:
                self.fifo.unlink(missing_ok=True)
            for endpoint in list(self.endpoints.values()):
                endpoint.stop()
            await asyncio.gather(*self._serving, return_exceptions=True)
        return 0

    def _read(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self._buffer += os.read(fd, 65536)
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                port, pid = (int(word) for word in line.split())
            except ValueError:
                log.warning("%s: ignored %r (expected 'PORT PID')", self.fifo, line)
                continue
            serving = asyncio.get_running_loop().create_task(self._serve(port, pid))
            self._serving.add(serving)
            serving.add_done_callback(self._serving.discard)

    async def _serve(self, port: int, pid: int) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return  # the task ended before it was served
        endpoint = Endpoint(port, pid)
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        occ_pb2_grpc.add_OccServicer_to_server(_EndpointService(endpoint), server)
        try:
            bound = server.add_insecure_port(f"127.0.0.1:{port}")
        except RuntimeError:
            bound = 0
        if not bound:  # as a real process whose port is taken: it ends
            log.warning("control port %d of pid %d is taken: ending the task", port, pid)
            _end(pidfd)
            return
        await server.start()
        loop = asyncio.get_running_loop()
        self.endpoints[port] = endpoint
        loop.add_reader(pidfd, endpoint.stop)  # the task ended: its endpoint goes with it
        try:
            await endpoint.ended.wait()
        finally:
            loop.remove_reader(pidfd)
            del self.endpoints[port]
            await server.stop(SHUTDOWN_GRACE if endpoint.state == states.DONE else 0)
            _end(pidfd)


def _end(pidfd: int) -> None:
    """SIGTERM to the task behind ``pidfd`` if it still runs (a pidfd never reaches a reused pid), then close it."""
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    os.close(pidfd)


@contextlib.contextmanager
def running_hub(fifo: Path, *, hubs: int = 1, timeout: float = HUB_START_TIMEOUT) -> Iterator[Path]:
    """``hubs`` hub processes for as long as the block runs (for tests and benches): one listening on ``fifo``,
    or several on ``fifo.0``, ``fifo.1``... (see ``task_argv``). Yields ``fifo``."""
    fifos = [fifo] if hubs == 1 else [fifo.with_name(f"{fifo.name}.{i}") for i in range(hubs)]
    processes = [subprocess.Popen([sys.executable, "-m", __name__, str(f)], stdin=subprocess.DEVNULL) for f in fifos]
    try:
        deadline = time.monotonic() + timeout
        for process, path in zip(processes, fifos, strict=True):
            while not path.exists():
                if process.poll() is not None:
                    raise HandledError(f"the fast OCC peer's hub exited with code {process.returncode} before serving")
                if time.monotonic() > deadline:
                    raise HandledError(f"the fast OCC peer's hub did not create {path} within {timeout:g} s")
                time.sleep(0.01)
        yield fifo
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecs_engine.occ.multipeer", description=__doc__.splitlines()[0])
    parser.add_argument("fifo", type=Path, help="the FIFO tasks register on (created if missing)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    gc.collect()
    gc.freeze()  # what the imports made lives as long as the hub: no collection walks it
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return asyncio.run(Hub(options.fifo).serve())
    except HandledError as exc:
        sys.stderr.write(f"multipeer: error: {exc.render()}\n")
        return int(exc.exit_status)


if __name__ == "__main__":
    sys.exit(main())
