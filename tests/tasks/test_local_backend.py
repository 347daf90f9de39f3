"""The ``local`` resource manager: nodes from settings, placement, free ports, process groups, output, re-attach."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ecs_backends.resources import escapes, local
from ecs_backends.resources.local import nodes_from_settings
from ecs_engine.errors import HandledError, UsageError
from ecs_engine.plugins import backends
from ecs_engine.processes import proc_stat
from ecs_engine.tasks.resources import CONTROL_PORT_BASE, DATA_PORT_BASE, LaunchSpec, Node, PlacementError
from tests.waiting import eventually_async

from ..ports import in_own_range, own_port_range


def test_local_is_registered_and_unknown_names_are_refused(tmp_path):
    assert "local" in backends().resource_manager_names
    assert backends().open_resource_manager("local", {}, state_dir=tmp_path).name == "local"
    with pytest.raises(UsageError, match=r"unknown resource manager 'slurm-x' \(setting core.resource_manager\)"):
        backends().open_resource_manager("slurm-x", {}, state_dir=tmp_path)


def test_without_settings_one_node_named_after_the_host_also_answers_to_localhost():
    (node,) = nodes_from_settings(None)
    assert node.name == socket.gethostname()
    assert node.matches([("machine_id", socket.gethostname())])
    assert node.matches([("machine_id", "localhost")])
    assert not node.matches([("machine_id", "flp001")])


def test_virtual_nodes_from_settings_come_after_the_hosts_own_node():
    host, *nodes = nodes_from_settings(["flp001", {"name": "flp002", "attributes": {"detector": "TST,ITS"}}])
    assert host.name == socket.gethostname() and host.matches([("machine_id", "localhost")])
    assert [n.name for n in nodes] == ["flp001", "flp002"]
    assert nodes[1].matches([("machine_id", "flp002"), ("detector", "ITS")])
    assert nodes[1].attribute("hostname") == "flp002" and nodes[1].address == "127.0.0.1"
    assert nodes_from_settings("flp001, flp002") == nodes_from_settings(["flp001", "flp002"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"nodes": 3}, r"setting core.nodes: expected a list"),
        ([{"attributes": {}}], r"setting core.nodes\[0\]: expected a node name or a map with 'name'"),
        ([{"name": "a", "attributes": ["x"]}], r"setting core.nodes\[0\].attributes: expected a map"),
        (["a", "a"], r"node 'a' is listed twice"),
        ([socket.gethostname()], r"is listed twice \(the host's own node is implicit\)"),
    ],
)
def test_bad_node_settings_are_one_clear_error(spec, message):
    with pytest.raises(UsageError, match=message):
        nodes_from_settings(spec["nodes"] if isinstance(spec, dict) else spec)


def test_placement_by_constraints_names_what_matched_nothing(resources):
    assert resources.place([("machine_id", "flp002")]).name == "flp002"
    assert resources.place([]).name in (socket.gethostname(), "flp001", "flp002")
    with pytest.raises(PlacementError) as caught:
        resources.place([("machine_id", "flp009")])
    text = caught.value.render()
    assert "no node has machine_id=flp009 (nodes: " in text
    assert "flp001: hostname=flp001, machine_id=flp001" in text and "core.nodes" in text


def test_placement_remembers_what_matched_only_while_the_nodes_stay_the_same(resources, monkeypatch):
    with pytest.raises(PlacementError):
        resources.place([("rack", "r1")])
    joined = Node(name="flp003", attributes=(("machine_id", "flp003"), ("rack", "r1")))
    monkeypatch.setattr(resources, "nodes", lambda: [*resources._nodes, joined])  # a node joins (as on Slurm)
    assert resources.place([("rack", "r1")]) == joined


def test_placement_looks_up_each_hosts_nodes_without_matching_every_node(resources, monkeypatch):
    """One constraint per host, as AliECS templates place an FLP's tasks, over 500 hosts: each node's attributes
    are read once, when the nodes are indexed, not once per host placed (that grew as hosts x hosts)."""
    nodes = [
        Node(f"flp{i:03d}", attributes=(("machine_id", f"flp{i:03d}"), ("detector", " TST , ITS" if i % 2 else "TPC")))
        for i in range(500)
    ]
    monkeypatch.setattr(resources, "nodes", lambda: nodes)
    read: collections.Counter[str] = collections.Counter()
    attribute = Node.attribute
    monkeypatch.setattr(Node, "attribute", lambda node, name: read.update([node.name]) or attribute(node, name))
    assert all(resources.place([("machine_id", node.name)]) is node for node in nodes)
    assert max(read.values()) == 3  # hostname, machine_id, detector
    monkeypatch.setattr(Node, "attribute", attribute)
    for constraints in (
        [],
        [("detector", "ITS ")],
        [("detector", "TPC"), ("hostname", "flp002")],
        [("detector", "ITS"), ("hostname", "flp002")],
        [("rack", "r1")],
        [("detector", "")],
    ):
        assert resources.matching(constraints) == [n for n in nodes if n.matches(constraints)], constraints


def test_ports_are_really_free_handed_out_once_and_from_the_core_ports_range(resources, monkeypatch):
    monkeypatch.setattr(local, "TAKEN_RECHECK", 0)  # a port another process let go is handed out at once
    node = resources.nodes()[0]
    first = resources.allocate_port(node, DATA_PORT_BASE)
    second = resources.allocate_port(node, CONTROL_PORT_BASE)
    assert in_own_range(first) and in_own_range(second) and first < second  # the range, not the bases
    resources.release_ports(node, [first])
    with socket.socket() as busy:  # taken by someone else meanwhile
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past connections may linger in TIME_WAIT
        busy.bind(("127.0.0.1", first))
        busy.listen()
        third = resources.allocate_port(node, DATA_PORT_BASE)
        assert third not in (first, second) and in_own_range(third)
    assert resources.allocate_port(node, DATA_PORT_BASE) == first  # free again, and the lowest
    assert resources.ipc_address().startswith("ipc://@o2ipc-")


def test_a_deploys_port_search_looks_once_at_the_ports_other_processes_hold(resources, monkeypatch):
    """On a shared host other programs hold thousands of ports: each allocation looked at every one of them
    again (a deploy of 500 tasks spent 20 s so, on the event loop)."""
    node = resources.nodes()[0]
    lo = int(own_port_range().partition("-")[0])
    looked: list[int] = []
    free = local._free
    monkeypatch.setattr(local, "_free", lambda port: looked.append(port) or free(port))
    held = [socket.socket() for _ in range(100)]
    try:
        for offset, sock in enumerate(held, start=1):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", lo + offset))
            sock.listen()
        ports = [resources.allocate_port(node, DATA_PORT_BASE) for _ in range(50)]
    finally:
        for sock in held:
            sock.close()
    assert ports == list(range(lo + 101, lo + 151))
    assert len(looked) <= 1 + 100 + 50  # the session's claim on its range, the held ports, the handed out ones


def test_without_a_ports_setting_thousands_of_control_ports_skip_the_kernels_ephemeral_range(tmp_path):
    """The core's own connections to its tasks take ephemeral ports at any time: one handed to a task would
    make the task fail to bind (issue 19: a 1,000-task environment failed so)."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    manager = backends().open_resource_manager("local", {}, state_dir=tmp_path)
    node = manager.nodes()[0]
    ports = [manager.allocate_port(node, CONTROL_PORT_BASE) for _ in range(low - CONTROL_PORT_BASE + 100)]
    assert len(set(ports)) == len(ports) and not [p for p in ports if low <= p <= high]
    assert max(ports) > high  # it went on above the range


@pytest.mark.parametrize("spec", ["20000", "2-1", "0-10", "20000-70000", "a-b"])
def test_a_bad_ports_setting_is_one_clear_error(tmp_path, spec):
    with pytest.raises(
        UsageError, match=rf"setting core.ports: expected a port range LO-HI within 1-65535, got '{spec}'"
    ):
        backends().open_resource_manager("local", {"ports": spec}, state_dir=tmp_path)


async def test_launch_gives_a_process_group_environment_and_output_files(resources, tmp_path):
    node = resources.nodes()[0]
    spec = LaunchSpec(
        task_id="t1",
        argv=["/bin/sh", "-c", 'echo "$GREETING from $(pwd)"; echo oops >&2; sleep 30 & sleep 30 & wait'],
        env={"GREETING": "hello"},
        cwd=tmp_path / "work",
        stdout_path=tmp_path / "out.log",
        stderr_path=None,
    )
    process = await resources.launch(node, spec)
    assert os.getpgid(process.pid) == process.pid  # its own group
    await eventually_async(lambda: (tmp_path / "out.log").exists() and "hello" in (tmp_path / "out.log").read_text())
    assert (tmp_path / "out.log").read_text() == f"hello from {tmp_path / 'work'}\n"
    # The output comes before the shell forks the two sleeps: wait for them, then the group is the shell and both.
    await eventually_async(lambda: len(_members(process.pid)) == 3, what="the shell and its two sleeps in its group")
    process.signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 5) == -signal.SIGTERM
    await eventually_async(lambda: not _members(process.pid), what="the whole group gone")


async def test_a_working_or_output_directory_removed_since_a_launch_is_made_again(resources, tmp_path):
    """Launches make their directories only when they find one missing: one that went since (a cleanup, an
    operator) must not fail the next launch."""
    node = resources.nodes()[0]

    async def run(task_id: str) -> None:
        spec = LaunchSpec(
            task_id, ["/bin/sh", "-c", "echo $ECS_TASK_ID"], cwd=tmp_path / "work", stdout_path=tmp_path / "logs/out"
        )
        assert await asyncio.wait_for((await resources.launch(node, spec)).wait(), 5) == 0

    await run("first")
    await run("appended")
    assert (tmp_path / "logs/out").read_text() == "first\nappended\n"
    for directory in ("work", "logs"):
        (tmp_path / directory / "out").unlink(missing_ok=True)
        (tmp_path / directory).rmdir()
    await run("again")
    assert (tmp_path / "logs/out").read_text() == "again\n"
    assert (tmp_path / "work").is_dir()


async def test_when_the_leader_ends_its_group_goes_with_it(resources):
    node = resources.nodes()[0]
    process = await resources.launch(node, LaunchSpec("t2", ["/bin/sh", "-c", "sleep 30 & exit 0"]))
    assert await asyncio.wait_for(process.wait(), 5) == 0
    await eventually_async(lambda: not _members(process.pid), what="the background sleep killed")


async def test_a_restarted_manager_attaches_by_pid_and_start_time(resources, tmp_path):
    node = resources.nodes()[0]
    process = await resources.launch(node, LaunchSpec("t3", ["sleep", "30"]))
    record = process.record()
    other = backends().open_resource_manager("local", {"nodes": ["flp001", "flp002"]}, state_dir=tmp_path / "other")
    attached = other.attach(node, record)
    assert attached is not None and attached.alive() and attached.pid == process.pid
    assert other.attach(node, {**record, "start_ticks": record["start_ticks"] - 1}) is None  # a reused pid
    attached.signal(signal.SIGKILL)
    assert await asyncio.wait_for(attached.wait(), 5) is None  # not our child: no exit code
    assert await process.wait() == -signal.SIGKILL
    assert other.attach(node, record) is None


async def test_a_launch_cancelled_while_its_process_starts_hands_the_process_to_its_caller(resources, monkeypatch):
    """The start runs on a worker thread and goes on when its caller is cancelled: the cancellation waits for it,
    so the caller's cleanup finds the process, recorded (``before_run``), and ends it."""
    from ecs_backends.resources import local

    popen, entered, release = local.subprocess.Popen, threading.Event(), threading.Event()

    def slow_popen(*args, **kwargs):
        entered.set()
        release.wait(10)
        return popen(*args, **kwargs)

    monkeypatch.setattr(local.subprocess, "Popen", slow_popen)
    recorded = []
    spec = LaunchSpec("t4", ["sleep", "30"], before_run=recorded.append)
    launching = asyncio.ensure_future(resources.launch(resources.nodes()[0], spec))
    await eventually_async(entered.is_set, what="the start in its thread")
    launching.cancel()
    await asyncio.sleep(0.05)
    assert not launching.done()  # waiting for the thread, not gone without the process
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await launching
    (process,) = recorded
    assert process.alive()
    process.signal(signal.SIGKILL)
    assert await asyncio.wait_for(process.wait(), 5) == -signal.SIGKILL


def _members(group: int) -> list[int]:
    """The live processes of process group ``group``."""
    return [pid for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()) if _pgid(pid) == group]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid) if _state(pid) not in ("Z", "X") else None
    except ProcessLookupError:
        return None


def _state(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return text[text.rfind(")") + 2]


async def test_a_node_is_as_busy_as_its_live_processes(resources, tmp_path):
    """Placement prefers the least busy node: a process counts from its launch until its end (watched without a
    task of its own: a callback on the end's future)."""
    node = resources.nodes()[0]
    spec = LaunchSpec(task_id="t1", argv=["/bin/sh", "-c", "sleep 30"], env={}, cwd=tmp_path)
    process = await resources.launch(node, spec)
    assert resources.load(node) == 1
    process.signal(signal.SIGKILL)
    assert await asyncio.wait_for(process.wait(), 5) == -signal.SIGKILL
    await eventually_async(lambda: resources.load(node) == 0, what="the ended process no longer counted")


async def test_a_program_that_is_not_there_is_one_clear_error(resources, tmp_path):
    spec = LaunchSpec("t5", [str(tmp_path / "no-such-program")], cwd=tmp_path)
    with pytest.raises(HandledError, match=r"task t5: cannot start '.*no-such-program': No such file or directory"):
        await resources.launch(resources.nodes()[0], spec)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root starts processes as another user (CI runs as root)")
async def test_a_task_user_that_does_not_exist_here_is_one_clear_error(resources, tmp_path):
    spec = LaunchSpec("t6", ["/bin/true"], cwd=tmp_path, user="no-such-user-x9")  # AliECS templates say user: flp
    with pytest.raises(HandledError, match=r"task t6: cannot run as user 'no-such-user-x9': there is no such user"):
        await resources.launch(resources.nodes()[0], spec)


async def test_a_launch_that_fails_leaves_no_descriptor_open(resources, tmp_path, monkeypatch):
    """A launch opens the process's output files and gate before it starts it: whichever step fails, they are closed
    (a core that deploys thousands of tasks, some failing, must not run out of descriptors)."""
    (tmp_path / "file").write_text("")
    node, output = resources.nodes()[0], {"stdout_path": tmp_path / "out", "stderr_path": tmp_path / "err"}
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(HandledError, match=r"task t6: cannot open its output file .*/file/e: Not a directory"):
        await resources.launch(
            node, LaunchSpec("t6", ["true"], stdout_path=tmp_path / "out", stderr_path=tmp_path / "file/e")
        )
    assert not launch_descriptors_opened_since(before, tmp_path)

    def no_fork(*args, **kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(local.subprocess, "Popen", no_fork)
    with pytest.raises(HandledError, match="task t7: cannot start 'true': Resource temporarily unavailable"):
        await resources.launch(node, LaunchSpec("t7", ["true"], **output))  # its files and gate are open by then
    assert not launch_descriptors_opened_since(before, tmp_path)


def launch_descriptors_opened_since(before: set[str], tmp_path: Path) -> list[str]:
    """What a launch opens and is still open: its output files (under ``tmp_path``) and its gate (a pipe). Not every
    new descriptor: a thread of an earlier test may be reading a /proc file at that moment (CI saw one)."""
    opened = []
    for fd in set(os.listdir("/proc/self/fd")) - before:
        with contextlib.suppress(OSError):  # closed since it was listed
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(("pipe:", str(tmp_path))):
                opened.append(target)
    return opened


async def test_a_program_found_is_looked_up_again_only_after_found_recheck(resources, tmp_path, monkeypatch):
    """A thousand launches of one program looked it up a thousand times (system calls on a launch thread): a program
    found is taken as there for FOUND_RECHECK s; one not found is looked up at each launch."""
    lookups = []
    look = local._missing_program
    monkeypatch.setattr(local, "_missing_program", lambda *args: lookups.append(args[0]) or look(*args))
    node = resources.nodes()[0]
    for task_id in ("t6", "t7"):
        process = await resources.launch(node, LaunchSpec(task_id, ["sleep", "30"], cwd=tmp_path))
        process.signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 5)
    assert lookups == ["sleep"]
    monkeypatch.setattr(local, "FOUND_RECHECK", 0.0)
    process = await resources.launch(node, LaunchSpec("t8", ["sleep", "30"], cwd=tmp_path))
    process.signal(signal.SIGKILL)
    await asyncio.wait_for(process.wait(), 5)
    assert lookups == ["sleep", "sleep"]


async def test_a_shell_task_whose_script_fails_before_its_go_is_launched_and_ends_with_its_error(resources, tmp_path):
    """A ``/bin/sh -c`` script waits for "go" in its own shell; one whose first line does not parse ends before the
    core, busy recording it, says "go": the launch returns it all the same, and it ends with the shell's error."""

    def slow_record(process):
        time.sleep(0.3)  # the record's commit; the shell has found its syntax error meanwhile

    argv = ["/bin/sh", "-c", "if then ("]
    process = await resources.launch(resources.nodes()[0], LaunchSpec("t9", argv, cwd=tmp_path, before_run=slow_record))
    assert await asyncio.wait_for(process.wait(), 5) == 2  # the shell's code for a syntax error


@pytest.mark.parametrize("shell", [False, True], ids=["command", "shell-script"])
async def test_a_process_the_core_could_not_record_never_runs_its_command(resources, tmp_path, shell):
    """Every task waits behind its gate for the core's "go", sent once its record is written; a ``/bin/sh -c`` script
    waits in its own shell (one exec less), a command in the gate's shell."""
    marker = tmp_path / "ran"
    argv = ["/bin/sh", "-c", f"touch {marker}"] if shell else ["touch", str(marker)]
    started = []

    def unrecorded(process):
        started.append(process)
        raise RuntimeError("the record could not be written")

    with pytest.raises(RuntimeError, match="could not be written"):
        await resources.launch(resources.nodes()[0], LaunchSpec("t9", argv, cwd=tmp_path, before_run=unrecorded))
    (process,) = started
    assert await asyncio.wait_for(process.wait(), 5) == 111
    assert not marker.exists()
    assert len(local.gated(argv)) == len(argv) + (0 if shell else len(local.gate_shell()))


async def test_a_process_the_core_has_no_descriptor_to_watch_never_runs_and_is_reaped(resources, tmp_path, monkeypatch):
    """Out of descriptors for the pidfd that would watch a started process: the launch fails with the error (for
    the deploy to name the limit), the process never runs its command and is reaped, and is no leader."""
    marker = tmp_path / "ran"
    started: list[int] = []

    def no_descriptor(pid: int) -> int:
        started.append(pid)
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(local.os, "pidfd_open", no_descriptor)
    with pytest.raises(OSError) as raised:
        await resources.launch(resources.nodes()[0], LaunchSpec("t8", ["touch", str(marker)], cwd=tmp_path))
    monkeypatch.undo()
    (pid,) = started
    assert raised.value.errno == errno.EMFILE
    assert pid not in escapes.leaders and not marker.exists()
    assert proc_stat(pid) is None  # reaped (not a zombie child)


@pytest.mark.parametrize("shell", [True, False])
def test_the_manager_raises_its_limit_of_open_files_and_its_tasks_start_with_the_one_it_had(tmp_path, shell):
    """A core holds a few descriptors per live task: with the common soft limit of 1,024 a 1,000-task environment
    failed. The manager raises its process's soft limit to the hard one; a task (a shell script or not) still
    starts with the soft limit the core was given, as from the user's shell."""
    argv = ["/bin/sh", "-c", "ulimit -Sn"] if shell else ["sh", "-c", "ulimit -Sn"]
    script = textwrap.dedent(
        f"""
        import asyncio, resource
        from pathlib import Path
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        from ecs_engine.plugins import backends
        from ecs_engine.tasks.resources import LaunchSpec
        manager = backends().open_resource_manager("local", {{}}, state_dir=Path({str(tmp_path)!r}))
        print(resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(hard, 1 << 20))
        async def main():
            spec = LaunchSpec("t1", {argv!r}, stdout_path=Path({str(tmp_path / "out")!r}))
            process = await manager.launch(manager.nodes()[0], spec)
            print(await process.wait())
        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "0"], done.stderr
    assert (tmp_path / "out").read_text().strip() == "256"


def test_a_deploy_past_the_limit_of_open_files_names_it_and_leaves_no_process(tmp_path):
    """A core at its hard limit of open files: the tasks it cannot start are undeployable with one clear
    message naming the limit (not an internal error), and nothing is left running."""
    script = textwrap.dedent(
        f"""
        import asyncio, resource, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        from pathlib import Path
        from ecs_engine.plugins import backends
        from ecs_engine.tasks.executor import Executor, Timeouts
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tests.tasks.conftest import request, leftovers
        manager = backends().open_resource_manager("local", {{"ports": {own_port_range()!r}}}, state_dir=Path({str(tmp_path)!r}))
        launched = []
        launch = manager.launch
        async def recorded(node, spec):
            process = await launch(node, spec)
            launched.append(process.pid)
            return process
        manager.launch = recorded
        async def main():
            executor = Executor(manager, timeouts=Timeouts(startup=1.0))
            deployment = await executor.deploy([request(f"demo.t{{i}}", ["sleep", "30"]) for i in range(80)])
            limited = [m for m in deployment.undeployable.values() if "no descriptor left" in m]
            print(limited[0] if limited else "none limited", len(deployment.tasks) + len(deployment.undeployable))
            print("left", len(leftovers(launched)))
        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "no descriptor left to start the task (its limit is 64 open files, about 4 per live task): raise" in (
        done.stdout
    ), done.stdout + done.stderr
    assert " 80\nleft" in done.stdout, done.stdout  # every task accounted for: deployed or undeployable
    assert done.stdout.strip().endswith("left 0"), done.stdout + done.stderr
