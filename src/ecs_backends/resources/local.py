"""The ``local`` resource manager: tasks are child processes of the core, on virtual nodes of this machine.

Virtual nodes come from the settings (``core.nodes``), so a workflow whose roles are constrained to
``machine_id=flp001`` and ``flp002`` runs here; every node is this machine, reached at 127.0.0.1. Without
settings there is one node named after the host, whose ``machine_id`` also answers to ``localhost``.
Each task gets its own process group, output files under ``<state dir>/tasks/<environment>/``, and ports
that are really free on this machine (data from 9000, control from 30000; all from the ``core.ports`` range
``LO-HI`` when it is set, so cores of two users on one host, or tests, stay apart). Processes are watched through
pidfds, so a restarted core can re-attach to tasks it did not start itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ecs_engine.backend_registry import BackendRegistry
from ecs_engine.errors import HandledError, UsageError
from ecs_engine.hookspecs import hookimpl
from ecs_engine.ids import new_id
from ecs_engine.offload import offload
from ecs_engine.processes import start_ticks
from ecs_engine.tasks.resources import NO_DESCRIPTOR, LaunchSpec, Node, ProcessHandle, ResourceManager

from . import escapes
from .escapes import TASK_MARK, become_subreaper, signal_escaped

log = logging.getLogger(__name__)
T = TypeVar("T")

RESOURCE_MANAGER = "local"
#: every task starts as this shell, which runs the task's command only once the core says "go" on its stdin
#: (after recording it): a core killed in between leaves a shell that reads end-of-file and exits
GATE = "read -r _ || exit 111"
#: descriptors this process may hold at least, else it raises its soft limit (``more_descriptors``)
DESCRIPTORS_WANTED = 1 << 20
LOCAL_NAMES = ("localhost", "127.0.0.1")
PORT_SPREAD = 4096  # without core.ports, a core's search starts up to this far above the base (per state dir)
#: processes started at once (each a fork and exec on the offload pool): a thousand tasks neither fill the pool
#: that the core's other blocking work shares nor starve the event loop that watches the started ones come up
LAUNCHES_AT_ONCE = 4
#: seconds a port search skips the ports it found in use by other processes (a deploy of a thousand tasks on a
#: host where other programs hold thousands of ports looked at each of those for each task: 20 s for 500 tasks)
TAKEN_RECHECK = 1.0
#: seconds a program found by a launch is taken as there by the next ones (a thousand launches of one program looked
#: it up a thousand times, each a few system calls on a launch thread; one that went since fails in its gate: 127)
FOUND_RECHECK = 1.0
FOUND_KEPT = 256


@hookimpl
def ecs_register_backends(registry: BackendRegistry) -> None:
    registry.add_resource_manager(RESOURCE_MANAGER, open_local)


def open_local(settings: Mapping[str, Any], state_dir: Path) -> LocalResourceManager:
    """The ``local`` manager with the virtual nodes of the ``nodes`` setting and its ``ports`` range."""
    return LocalResourceManager(
        nodes_from_settings(settings.get("nodes")),
        state_dir,
        port_range=port_range_from_settings(settings.get("ports")),
    )


def port_range_from_settings(spec: Any) -> tuple[int, int] | None:
    """``ports: 20000-20999``: the inclusive range every port of this core's tasks comes from (None: the bases)."""
    if spec in (None, ""):
        return None
    lo, sep, hi = str(spec).partition("-")
    try:
        first, last = int(lo), int(hi)
    except ValueError:
        first = last = 0
    if not sep or not 0 < first <= last < 65536:
        raise UsageError(f"setting core.ports: expected a port range LO-HI within 1-65535, got '{spec}'")
    return first, last


def host_node() -> Node:
    """This machine's own node: named after the host; its ``machine_id`` also answers to localhost."""
    host = socket.gethostname()
    return Node(host, attributes=(("hostname", host), ("machine_id", ",".join([host, *LOCAL_NAMES]))))


def nodes_from_settings(spec: Any) -> list[Node]:
    """The host's node, then the virtual ones of ``nodes: [flp001, {name: flp002, attributes: {...}}]``."""
    nodes = [host_node()]
    if spec in (None, "", []):
        return nodes
    if isinstance(spec, str):
        spec = [s for s in (p.strip() for p in spec.split(",")) if s]
    if not isinstance(spec, list):
        raise UsageError("setting core.nodes: expected a list of node names or {name, attributes} maps")
    for i, item in enumerate(spec):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or not str(item.get("name", "")).strip():
            raise UsageError(f"setting core.nodes[{i}]: expected a node name or a map with 'name'")
        name = str(item["name"]).strip()
        attributes = item.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise UsageError(f"setting core.nodes[{i}].attributes: expected a map of attribute names to values")
        merged = {"machine_id": name, "hostname": name, **{str(k): str(v) for k, v in attributes.items()}}
        if any(n.name == name for n in nodes):
            raise UsageError(f"setting core.nodes: node '{name}' is listed twice (the host's own node is implicit)")
        nodes.append(Node(name, str(item.get("address") or "127.0.0.1"), tuple(sorted(merged.items()))))
    return nodes


class LocalProcess(ProcessHandle):
    """A process group led by ``pid``; its end is seen through a pidfd (children are also reaped)."""

    def __init__(self, pid: int, start_ticks: int | None, popen: subprocess.Popen | None = None, task_id: str = ""):
        self.pid = pid
        self.start_ticks = start_ticks
        self.task_id = task_id  # its mark: what it started carries it, wherever it went (escapes.py)
        self._popen = popen
        self._pidfd: int | None = None
        self._ended: asyncio.Future | None = None
        self._code: int | None = None
        self._done = False
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError as exc:  # gone already (its end is seen at once), or no pidfds here; not for want of one
            if exc.errno in NO_DESCRIPTOR:
                raise

    def alive(self) -> bool:
        if self._done:
            return False
        if self._popen is not None:
            if self._popen.returncode is not None:
                return False
            try:  # WNOWAIT: look without reaping, so the pidfd watcher still finds the exit code
                return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
            except ChildProcessError:
                return False
        return start_ticks(self.pid) == self.start_ticks

    def _finish(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._popen is not None:
            # the leader is a zombie until reaped, so its group id cannot have been reused: take the group along,
            # and what left the group (the leader's children were adopted when it ended)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            signal_escaped(0, self.task_id, signal.SIGKILL, group=self.pid)
            self._code = self._popen.wait()
            escapes.leaders.discard(self.pid)
        self._done = True
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(self._code)

    async def wait(self) -> int | None:
        if self._done:
            return self._code
        return await asyncio.shield(self.ended())

    def ended(self) -> asyncio.Future:
        """The future of the process's end (its exit code), watched from the first call on: for callbacks, which
        cost no task per process as a ``wait()`` does. Not to be cancelled (``wait`` shields it)."""
        if self._ended is None:
            loop = asyncio.get_running_loop()
            self._ended = loop.create_future()
            if self._pidfd is None or not self.alive():
                self._finish()
            else:
                loop.add_reader(self._pidfd, self._finish)
        return self._ended

    def signal(self, signum: int) -> None:
        if self._done and self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)
        signal_escaped(0 if self._done else self.pid, self.task_id, signum, group=self.pid)

    def record(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "task_id": self.task_id}

    def owns(self, pid: int) -> bool:
        try:
            return os.getpgid(pid) == self.pid  # the group it leads: a shell and what the shell started
        except ProcessLookupError:
            return False


class LocalResourceManager(ResourceManager):
    """Virtual nodes on this machine; processes started with ``subprocess`` in their own sessions."""

    name = RESOURCE_MANAGER
    launches_at_once = LAUNCHES_AT_ONCE

    def __init__(self, nodes: list[Node], state_dir: Path, *, port_range: tuple[int, int] | None = None):
        self._nodes = nodes
        self.state_dir = state_dir
        self.port_range = port_range
        #: without a range, each core searches from its own place above the bases (one per state directory),
        #: so two users' cores on one host rarely want the same port at once; binding decides anyway
        self._spread = zlib.crc32(str(state_dir.absolute()).encode()) % (PORT_SPREAD // 16) * 16
        self._reserved: set[int] = set()
        self._hints: dict[int, int] = {}  # search start -> every port from the start up to here is reserved
        #: search start -> (port, when): every port from the hint up to here was reserved or in use at that time
        self._seen: dict[int, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._load: dict[str, int] = {n.name: 0 for n in nodes}
        self._launches = asyncio.Semaphore(LAUNCHES_AT_ONCE)
        self._found: dict[tuple[str, str, Path], float] = {}  # (program, PATH, cwd) -> when a launch found it
        self._base_env = dict(os.environ)
        # tasks written as `python3 -m ...` find the core's own interpreter and packages first
        bindir = str(Path(sys.executable).parent)
        self._base_env["PATH"] = os.pathsep.join([bindir, self._base_env.get("PATH", os.defpath)])
        #: the same, encoded once: ``Popen`` encodes a str environment anew at each launch (80 calls, ~100 us)
        self._base_env_bytes = _encoded(self._base_env)
        tasks_limit = more_descriptors()
        #: a task starts with the descriptor limit this process started with, not the one it raised for itself
        self._gate = GATE if tasks_limit is None else f"{GATE}; ulimit -Sn {tasks_limit} 2>/dev/null"
        if not become_subreaper():
            log.info("not a child subreaper: a task's process that leaves its group and loses its parent is not found")

    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def load(self, node: Node) -> int:
        return self._load.get(node.name, 0)

    def allocate_port(self, node: Node, base: int) -> int:
        """The lowest free port from this core's start (wrapping to the range's first); without ``core.ports``,
        never one of the kernel's ephemeral ports, which outgoing connections (the core's own) take at any time.
        A port found held by another process is looked at again only after ``TAKEN_RECHECK`` s (or a release)."""
        first, last = self.port_range or (base, 65535)
        start = first if self.port_range else min(first + self._spread, last)
        avoid = None if self.port_range else _EPHEMERAL
        if avoid is not None and start in avoid:  # past the range, as far from its end as it was from its start
            start = min(avoid.stop + start - avoid.start, last)
        with self._lock:
            # ports below the hint are all reserved: thousands of tasks do not rescan them (O(1), not O(tasks))
            hint = _skip(max(start, self._hints.get(start, start)), avoid)
            while hint <= last and hint in self._reserved:
                hint = _skip(hint + 1, avoid)
            self._hints[start] = hint
            # nor, for TAKEN_RECHECK s, the ports other processes held beyond it (on a shared host, thousands)
            now = time.monotonic()
            begin, since = hint, now
            seen = self._seen.get(start)
            if seen is not None and seen[0] > hint and now - seen[1] < TAKEN_RECHECK:
                begin, since = seen
            for segment in (range(begin, last + 1), range(first, start)):
                for port in _outside(segment, avoid):
                    if port in self._reserved or not _free(port):
                        continue
                    self._reserved.add(port)
                    if segment.start == begin:
                        self._seen[start] = (port + 1, since)
                    return port
        raise HandledError(f"no free port in {first}-{last} on {node.name} (setting core.ports)")

    def release_ports(self, node: Node, ports: list[int] | tuple[int, ...]) -> None:
        with self._lock:
            self._reserved.difference_update(ports)
            for start, hint in self._hints.items():
                self._hints[start] = min([hint, *(p for p in ports if p >= start)])
            self._seen.clear()

    def reserve_ports(self, ports: list[int] | tuple[int, ...]) -> None:
        """Ports of re-attached tasks: in use, never handed out again while they live."""
        with self._lock:
            self._reserved.update(ports)

    def ipc_address(self) -> str:
        return f"ipc://@o2ipc-{new_id()}"

    def log_dir(self, environment_id: str) -> Path:
        return self.state_dir / "tasks" / (environment_id or "_unlocked")

    async def launch(self, node: Node, spec: LaunchSpec) -> ProcessHandle:
        async with self._launches:  # its files and pipe are opened only when its turn comes, too
            starting = asyncio.ensure_future(offload(self._start, spec))
            try:
                process = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # the start goes on in its thread: wait it out, so that the caller's cleanup finds (and ends)
                # the process it may have started and recorded
                with contextlib.suppress(Exception):
                    await starting
                raise
        self._count(node, process)
        return process

    def _start(self, spec: LaunchSpec) -> LocalProcess:
        """On a worker thread, the whole start: files, pipe, fork and exec, the record (``before_run``), "go".
        Nothing of it waits for a turn of the event loop, which a thousand starting tasks keep busy."""
        env = {**self._base_env_bytes, **_encoded({**spec.env, TASK_MARK: spec.task_id})}
        kwargs: dict[str, Any] = {}
        if spec.user and spec.user != _current_user():
            if os.geteuid() != 0:
                raise HandledError(
                    f"task {spec.task_id}: cannot run as user '{spec.user}': the core runs as '{_current_user()}' "
                    "and only root can start processes as another user"
                )
            try:
                pwd.getpwnam(spec.user)
            except KeyError:
                raise HandledError(
                    f"task {spec.task_id}: cannot run as user '{spec.user}': there is no such user on this machine",
                    hint="the task template's command.user names it; create the user or set the task's user",
                ) from None
            kwargs["user"] = spec.user
        cwd = spec.cwd or self.log_dir("")
        search = spec.env.get("PATH", self._base_env["PATH"])
        found = (spec.argv[0], search, cwd)
        if time.monotonic() - self._found.get(found, -FOUND_RECHECK) >= FOUND_RECHECK:
            missing = _missing_program(spec.argv[0], search, cwd)
            if missing:
                raise HandledError(f"task {spec.task_id}: cannot start {spec.argv[0]!r}: {missing}")
            if len(self._found) >= FOUND_KEPT:  # (one per program and environment: forget the old ones at times)
                self._found.clear()
            self._found[found] = time.monotonic()
        with contextlib.ExitStack() as opened:  # the process's output files and gate, closed here once it has them
            try:
                out = _open_output(spec.stdout_path, opened)
                same = spec.stderr_path is not None and spec.stderr_path == spec.stdout_path
                err = out if same else _open_output(spec.stderr_path, opened)
            except OSError as exc:
                raise _launch_error(exc, f"task {spec.task_id}: cannot open its output file {exc.filename}") from None
            gate, opener = os.pipe()
            opened.callback(os.close, gate)
            argv = gated(spec.argv, self._gate)
            escapes.launching[spec.task_id] = escapes.now_ticks()
            try:
                popen = _in_directory(
                    cwd,
                    lambda: subprocess.Popen(
                        argv, cwd=cwd, env=env, stdin=gate, stdout=out, stderr=err, start_new_session=True, **kwargs
                    ),
                )
            except OSError as exc:
                os.close(opener)
                raise _launch_error(exc, f"task {spec.task_id}: cannot start {spec.argv[0]!r}") from None
            else:
                escapes.leaders.add(popen.pid)
            finally:
                escapes.launching.pop(spec.task_id, None)  # after the add: escapes._new_leader
        try:
            process = LocalProcess(popen.pid, start_ticks(popen.pid), popen, spec.task_id)
        except OSError:  # no descriptor left to watch it: it never runs its command, and is reaped here
            os.close(opener)
            popen.wait()
            escapes.leaders.discard(popen.pid)
            raise
        try:
            if spec.before_run is not None:
                spec.before_run(process)  # the executor records it: before it can start anything
            with contextlib.suppress(BrokenPipeError):  # it ended before its "go" (its own script's first line
                os.write(opener, b"go\n")  # failed, a signal): its end is seen as any other's, with its output
        finally:
            os.close(opener)  # closed without a line (the core died, before_run failed): the process exits at once
        return process

    def _count(self, node: Node, process: LocalProcess) -> None:
        self._load[node.name] = self._load.get(node.name, 0) + 1

        def done(_: asyncio.Future) -> None:
            self._load[node.name] -= 1

        process.ended().add_done_callback(done)

    def attach(self, node: Node, record: Mapping[str, Any]) -> ProcessHandle | None:
        pid = int(record.get("pid") or 0)
        ticks = record.get("start_ticks")
        if pid <= 0 or start_ticks(pid) is None or start_ticks(pid) != ticks:
            return None
        process = LocalProcess(pid, ticks, task_id=str(record.get("task_id", "")))
        self._count(node, process)
        return process


def gate_shell(gate: str = GATE) -> list[str]:
    """The shell a task's command (its arguments follow) waits in behind ``gate``, then becomes."""
    return ["/bin/sh", "-c", f'{gate}; exec "$@" </dev/null', "ecs-task"]


def gated(argv: list[str], gate: str = GATE) -> list[str]:
    """``argv`` behind its ``gate`` (in ``gate_shell``). A command that is itself ``/bin/sh -c SCRIPT ...`` (a shell task, or
    a template's own) waits in its own shell, the gate put before its script on the same line: one exec less, 0.75 ms
    of this machine's CPU per task (a shell's start), the same process, arguments, stdin and line numbers."""
    if len(argv) >= 3 and argv[0] == "/bin/sh" and argv[1] == "-c":
        return [argv[0], "-c", f"{gate}; exec </dev/null; {argv[2]}", *argv[3:]]
    return [*gate_shell(gate), *argv]


@functools.cache
def more_descriptors() -> int | None:
    """Raise this process's soft limit of open descriptors to its hard limit (at most ``DESCRIPTORS_WANTED``),
    once; returns the soft limit it had, for its tasks to start with, or None if it was not raised. A core holds
    three to four descriptors per live task (its control connection, the pidfd its end is watched through, ...):
    with the usual soft limit of 1,024 a 1,000-task create failed (docs/scale-log.md, Open files)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = DESCRIPTORS_WANTED if hard == resource.RLIM_INFINITY else min(hard, DESCRIPTORS_WANTED)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:
        log.info("cannot raise the limit of open descriptors from %d to %d: %s", soft, wanted, exc)
        return None
    log.debug("limit of open descriptors raised from %d to %d (tasks start with %d)", soft, wanted, soft)
    return soft


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _missing_program(program: str, search: str, cwd: Path) -> str:
    """Why ``program`` cannot be started (not found, not executable), or "" (the gate's shell cannot tell as clearly)."""
    if "/" in program:
        path = cwd / program
        if not path.is_file():
            return "No such file or directory"
        return "" if os.access(path, os.X_OK) else "Permission denied"
    return "" if shutil.which(program, path=search) else "No such file or directory"


def _launch_error(exc: OSError, what: str) -> Exception:
    """What a step of a launch that failed with ``exc`` raises: ``exc`` itself when no descriptor was left (the
    deploy names the limit: the executor's ``out_of_descriptors``), otherwise ``what`` and the system's reason."""
    if exc.errno in NO_DESCRIPTOR:
        return exc
    return HandledError(f"{what}: {exc.strerror or exc}")


def _in_directory(directory: Path, work: Callable[[], T]) -> T:
    """``work()``, which needs ``directory``: made only when ``work`` finds something missing (the first launch of an
    environment, or after a cleanup), not looked at by every launch (a mkdir per launch cost ~30 us). Then ``work``
    is tried again, whatever was missing: another launch may have made the directory meanwhile."""
    try:
        return work()
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        return work()


def _open_output(path: Path | None, opened: contextlib.ExitStack) -> int:
    """A descriptor the process writes ``path`` through (appended; /dev/null for None), closed with ``opened``.
    A raw descriptor: a file object (``open``) cost 30-45 us more per file, in a buffer, a seek and a stat."""
    if path is None:
        return _devnull()
    fd = _in_directory(path.parent, lambda: os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666))
    opened.callback(os.close, fd)
    return fd


def _encoded(env: Mapping[str, str]) -> dict[bytes, bytes]:
    return {os.fsencode(key): os.fsencode(value) for key, value in env.items()}


@functools.cache
def _devnull() -> int:
    """/dev/null, opened once for the process (``subprocess.DEVNULL`` opens and closes it at each launch)."""
    return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)


def _ephemeral_range() -> range | None:
    """The kernel's ports for outgoing connections (``ip_local_port_range``), None if it cannot be read."""
    try:
        low, high = (int(word) for word in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    return range(low, high + 1)


_EPHEMERAL = _ephemeral_range()


def _outside(ports: range, avoid: range | None) -> Iterator[int]:
    """``ports`` in order, less those in ``avoid``."""
    if avoid is None:
        yield from ports
        return
    yield from range(ports.start, min(ports.stop, avoid.start))
    yield from range(max(ports.start, avoid.stop), ports.stop)


def _skip(port: int, avoid: range | None) -> int:
    return avoid.stop if avoid is not None and port in avoid else port


def _free(port: int) -> bool:
    """Whether a server could listen on ``port`` (on every address) right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
