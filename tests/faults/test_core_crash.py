"""Acceptance: the core is SIGKILLed in each phase of an environment's life with real processes, then a new core
starts on the same directories. The state is consistent, run numbers only grow, and no process of the test is
orphaned (alive after destroy and ``core stop``) or duplicated (two processes for one task).

Processes are found by ancestry only: the descendants of this test's own core, each known by pid and start time
(so a reused pid is not mistaken for it); tasks are session leaders (each task is its own session).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.waiting import eventually

from ..e2e.conftest import Coconut, core_gone

pytestmark = pytest.mark.slow

DUMMY = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "occ_dummy_process.py"
PHASE_TIMEOUT = 30.0  # the longest wait for a phase to be reached or an operation to end


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, session, start ticks) of a live process, None if gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return None if fields[0] in "ZX" else (int(fields[1]), int(fields[3]), int(fields[19]))


def descendants(root: int) -> dict[int, tuple[int, int]]:
    """Every live descendant of ``root``: pid -> (session, start ticks)."""
    parents: dict[int, tuple[int, int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat
    found: dict[int, tuple[int, int]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, session, ticks) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = (session, ticks)
                frontier.append(pid)
    return found


def still_alive(seen: dict[int, tuple[int, int]]) -> list[int]:
    """The processes of ``seen`` that still run (the same processes: same start time)."""
    return [pid for pid, (_, ticks) in seen.items() if (stat := _stat(pid)) is not None and stat[2] == ticks]


def leaders(seen: dict[int, tuple[int, int]]) -> set[int]:
    """The task processes among ``seen``: session leaders."""
    return {pid for pid, (session, _) in seen.items() if pid == session}


class Crashes:
    """One test's core, environment and every process its cores ever started."""

    def __init__(self, coconut: Coconut, repo: Path):
        self.coconut = coconut
        self.repo = repo
        self.seen: dict[int, tuple[int, int]] = {}
        self.runs: list[int] = []

    def observe(self) -> dict[int, tuple[int, int]]:
        now = descendants(self.coconut.core_pid())
        self.seen.update(now)
        return now

    def create(self, *variables: str, wait: bool = True) -> str:
        args = ["env", "create", "-w", "faults", "--repo", str(self.repo)]
        for variable in variables:
            args += ["-e", variable]
        if wait:
            return self.coconut(*args, "-o", "json").json()["environment"]["id"]
        started = self.coconut(*args, "-y")
        return re.search(r"environment (\S+) is being created", started.out).group(1)

    def in_background(self, *args: str) -> threading.Thread:
        """A coconut command that the core's death will interrupt."""
        thread = threading.Thread(target=lambda: self.coconut(*args, check=False), daemon=True)
        thread.start()
        return thread

    def kill_core(self, *interrupted: threading.Thread) -> None:
        core = self.coconut.core_pid()
        self.observe()
        os.kill(core, signal.SIGKILL)
        eventually(lambda: core_gone(self.coconut, core), what="the core gone")
        for thread in interrupted:
            thread.join(PHASE_TIMEOUT)
            assert not thread.is_alive(), "a command still waits on a dead core"

    def restart(self) -> None:
        assert "started the local core" in self.coconut("env", "list").err

    def show(self, environment_id: str) -> dict:
        return self.coconut("env", "show", environment_id, "-o", "json").json()["environment"]

    def note_run(self, environment_id: str) -> None:
        """The environment's run number, if it has one, must be greater than every one seen before."""
        run = int(self.show(environment_id).get("currentRunNumber") or 0)
        if run and (not self.runs or run != self.runs[-1]):
            assert not self.runs or run > self.runs[-1], f"run {run} after runs {self.runs}"
            self.runs.append(run)

    def check_no_duplicate(self) -> None:
        """Every live task process (from any core of this test) is a task the core lists, once."""
        self.observe()
        listed = [int(t["pid"]) for t in self.coconut.tasks() if t.get("pid")]
        assert len(listed) == len(set(listed))
        running = leaders({pid: self.seen[pid] for pid in still_alive(self.seen)})
        assert running == set(listed), f"task processes {sorted(running)}, listed {sorted(listed)}"

    def log_of(self, environment_id: str, text: str) -> bool:
        logs = (self.coconut.state_dir / "tasks" / environment_id).glob("*.stdout.log")
        return any(text in path.read_text(errors="replace") for path in logs)

    def check_ended_by_the_restart(self, environment_id: str, run: int, event: str) -> dict:
        """The restarted core failed ``event`` of ``run``, cut short by the kill, and ended the run: the environment is
        in ERROR, saying why; the run has an end and outcome error with that reason in the journal (``runs show``)
        and an end in the runs table. Returns the run's record."""
        reason = f"the core stopped during {event} of run {run}"
        shown = self.show(environment_id)
        assert (shown["state"], shown["lastTransition"]) == ("ERROR", event)
        assert reason in shown["lastTransitionError"]
        assert not shown.get("currentRunNumber")
        record = self.coconut("runs", "show", str(run), "-o", "json").json()["run"]
        assert (record["environmentId"], record["outcome"]) == (environment_id, "error")
        assert reason in record["error"]
        assert 0 < record["startMs"] <= record["endMs"]
        self.check_run_ended_in_the_runs_table(run)
        return record

    def check_run_ended_in_the_runs_table(self, run: int, end_ms: float | None = None) -> None:
        """The runs table says the run ended (at ``end_ms`` at the latest, if given: the end stamped before the
        core stopped, not the restart's)."""
        with sqlite3.connect(f"file:{self.coconut.root / 'data' / 'environments.sqlite'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT start_ms, end_ms FROM runs WHERE run_number = ?", (run,)).fetchone()
        assert row is not None and row[1] is not None and row[0] <= row[1], f"run {run} in the runs table: {row}"
        assert end_ms is None or row[1] <= end_ms, f"run {run} ended at {row[1]} in the runs table, after {end_ms}"

    def destroy_and_stop(self, environment_id: str) -> None:
        listed = {e["id"] for e in self.coconut("env", "list", "-o", "json").json()["environments"]}
        if environment_id in listed:
            self.coconut("env", "destroy", environment_id, "--force")
        assert self.coconut.tasks() == []
        self.coconut("core", "stop")
        assert still_alive(self.seen) == [], "processes left behind"


@pytest.fixture
def crashes(coconut, tmp_path):
    repo = tmp_path / "faults-repo"
    (repo / "workflows").mkdir(parents=True)
    (repo / "tasks").mkdir()
    (repo / "tasks" / "occ.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: occ
            control: {{mode: direct}}
            command:
              shell: true
              stdout: stdout
              stderr: all
              value: "sleep {{{{ startup_delay }}}}; exec {sys.executable} {DUMMY} --hook-delay {{{{ hook_delay }}}}"
            """
        )
    )
    (repo / "tasks" / "basic.yaml").write_text(
        "name: basic\ncontrol: {mode: basic}\ncommand:\n  shell: true\n  value: '{{ basic_command }}'\n"
    )
    (repo / "tasks" / "hook.yaml").write_text(
        "name: hook\ncontrol: {mode: basic}\ncommand:\n  shell: true\n  value: '{{ hook_command }}'\n"
    )
    (repo / "tasks" / "late_hook.yaml").write_text(
        "name: late_hook\ncontrol: {mode: basic}\ncommand:\n  shell: true\n  value: '{{ late_hook_command }}'\n"
    )
    (repo / "workflows" / "faults.yaml").write_text(
        textwrap.dedent(
            """\
            name: faults
            defaults:
              startup_delay: "0"
              hook_delay: "0"
              hook_command: "true"
              late_hook_trigger: after_STOP_ACTIVITY
              late_hook_command: "true"
              basic_command: "sleep 300"
            roles:
              - name: occ
                task: {load: occ}
              - name: basic
                task: {load: basic}
              - name: hook
                task: {load: hook, trigger: after_START_ACTIVITY, timeout: 300s}
              - name: late_hook
                task: {load: late_hook, trigger: "{{ late_hook_trigger }}", timeout: 300s}
            """
        )
    )
    return Crashes(coconut, repo)


def test_a_core_killed_during_deploy_leaves_no_process_behind(crashes):
    environment_id = crashes.create("startup_delay=300", wait=False)
    eventually(lambda: leaders(crashes.observe()), PHASE_TIMEOUT, "a task process started")
    crashes.kill_core()
    crashes.restart()
    crashes.check_no_duplicate()  # the starting task is killed or listed, never left running unknown
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_during_configure_restarts_consistent(crashes):
    environment_id = crashes.create("hook_delay=3", wait=False)
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeConfigure"), PHASE_TIMEOUT, "CONFIGURE")
    crashes.kill_core()
    crashes.restart()
    assert crashes.show(environment_id)["state"] in ("DEPLOYED", "CONFIGURED", "ERROR")
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_while_a_basic_task_and_a_hook_run_starts_neither_twice(crashes, tmp_path):
    flag, hook_started = tmp_path / "hook-may-end", tmp_path / "hook-started"
    environment_id = crashes.create(f"hook_command=touch {hook_started}; test -e {flag} || sleep 300")
    start = crashes.in_background("env", "control", environment_id, "-e", "START")
    eventually(hook_started.exists, PHASE_TIMEOUT, "the hook running")
    crashes.note_run(environment_id)
    crashes.kill_core(start)
    flag.touch()
    crashes.restart()
    crashes.note_run(environment_id)
    assert crashes.show(environment_id)["state"] == "ERROR"  # that START was cut short: the restart failed it
    for event in ("RECOVER", "CONFIGURE", "START"):
        crashes.coconut("env", "control", environment_id, "-e", event)
    assert crashes.show(environment_id)["state"] == "RUNNING"
    crashes.note_run(environment_id)
    assert len(crashes.runs) >= 2
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_while_the_tasks_start_a_run_leaves_that_run_on_record_as_interrupted(crashes):
    environment_id = crashes.create("hook_delay=2")
    start = crashes.in_background("env", "control", environment_id, "-e", "START")
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeStart"), PHASE_TIMEOUT, "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    crashes.kill_core(start)
    crashes.restart()
    crashes.check_ended_by_the_restart(environment_id, run, "START_ACTIVITY")
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_while_the_after_start_hooks_run_fails_that_start_and_ends_its_run(crashes, tmp_path):
    hook_started = tmp_path / "start-hook-started"
    environment_id = crashes.create(f"hook_command=touch {hook_started}; exec sleep 300")
    start = crashes.in_background("env", "control", environment_id, "-e", "START")
    eventually(hook_started.exists, PHASE_TIMEOUT, "the after_START_ACTIVITY hook running")  # the tasks are RUNNING
    run = int(crashes.show(environment_id)["currentRunNumber"])
    crashes.kill_core(start)
    crashes.restart()
    # the START did not complete (its after hooks, the trigger's start among them at a site, were cut short): it
    # failed, and its run ended, as a START cut short earlier does; not a run on record as going on
    crashes.check_ended_by_the_restart(environment_id, run, "START_ACTIVITY")
    eventually(lambda: all(t["state"] != "RUNNING" for t in crashes.coconut.tasks()), PHASE_TIMEOUT, "no task RUNNING")
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_while_the_after_stop_hooks_run_ends_the_stopped_run_on_record(crashes, tmp_path):
    hook_started = tmp_path / "stop-hook-started"
    environment_id = crashes.create(f"late_hook_command=touch {hook_started}; exec sleep 300")
    crashes.coconut("env", "control", environment_id, "-e", "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    stop = crashes.in_background("env", "control", environment_id, "-e", "STOP")
    eventually(hook_started.exists, PHASE_TIMEOUT, "the after_STOP_ACTIVITY hook running")  # the tasks have stopped
    killed_ms = time.time() * 1000
    crashes.kill_core(stop)
    crashes.restart()
    record = crashes.check_ended_by_the_restart(environment_id, run, "STOP_ACTIVITY")
    assert record["endMs"] <= killed_ms  # the run ended when its STOP began (stamped then), not at the restart
    assert all(t["state"] != "RUNNING" for t in crashes.coconut.tasks())
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_while_the_tasks_stop_a_run_ends_it_on_record_and_leaves_no_task_running(crashes):
    environment_id = crashes.create("hook_delay=2")
    crashes.coconut("env", "control", environment_id, "-e", "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    stop = crashes.in_background("env", "control", environment_id, "-e", "STOP")
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeStop"), PHASE_TIMEOUT, "STOP")
    killed_ms = time.time() * 1000
    crashes.kill_core(stop)
    crashes.restart()
    record = crashes.check_ended_by_the_restart(environment_id, run, "STOP_ACTIVITY")
    assert record["endMs"] <= killed_ms  # the run ended when its STOP began (stamped then), not at the restart
    # the tasks were told to stop: none runs on as if the run went on (the environment says ERROR, not RUNNING)
    eventually(lambda: all(t["state"] != "RUNNING" for t in crashes.coconut.tasks()), PHASE_TIMEOUT, "no task RUNNING")
    crashes.check_no_duplicate()
    for event in ("RECOVER", "CONFIGURE", "START"):  # it runs again, with a new run number
        crashes.coconut("env", "control", environment_id, "-e", event)
    assert int(crashes.show(environment_id)["currentRunNumber"]) > run
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_in_a_forced_destroy_after_it_ended_the_run_leaves_it_ended_and_the_tasks_stopped(
    crashes, tmp_path
):
    flag, hook_started = tmp_path / "hook-may-end", tmp_path / "destroy-hook-started"
    environment_id = crashes.create(
        "late_hook_trigger=DESTROY", f"late_hook_command=touch {hook_started}; test -e {flag} || exec sleep 300"
    )
    crashes.coconut("env", "control", environment_id, "-e", "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    destroy = crashes.in_background("env", "destroy", environment_id, "--force")
    eventually(hook_started.exists, PHASE_TIMEOUT, "the DESTROY hook running")  # after the run's end, before the kill
    killed_ms = time.time() * 1000
    crashes.kill_core(destroy)
    flag.touch()  # (the hook runs again at the last destroy)
    crashes.restart()
    shown = crashes.show(environment_id)
    assert (shown["state"], shown["lastTransition"]) == ("ERROR", "DESTROY")
    assert f"the core stopped during DESTROY of run {run}" in shown["lastTransitionError"]
    assert not shown.get("currentRunNumber")
    record = crashes.coconut("runs", "show", str(run), "-o", "json").json()["run"]
    assert (record["environmentId"], record["outcome"]) == (environment_id, "ok")  # ended by the destroy, as asked
    assert 0 < record["startMs"] <= record["endMs"] <= killed_ms
    crashes.check_run_ended_in_the_runs_table(run, killed_ms)
    eventually(lambda: all(t["state"] != "RUNNING" for t in crashes.coconut.tasks()), PHASE_TIMEOUT, "no task RUNNING")
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_a_core_stopped_during_a_run_ends_it_on_record_when_it_stopped_not_at_the_restart(crashes):
    environment_id = crashes.create()
    crashes.coconut("env", "control", environment_id, "-e", "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    core = crashes.coconut.core_pid()
    crashes.observe()
    crashes.coconut("core", "stop", "-f")  # graceful: kills the tasks, keeps the environment
    stopped_ms = time.time() * 1000
    eventually(lambda: core_gone(crashes.coconut, core), PHASE_TIMEOUT, "the core gone")
    assert still_alive(crashes.seen) == [], "the stop left a task running"
    eventually(lambda: time.time() * 1000 > stopped_ms + 1000, PHASE_TIMEOUT, "the restart a second after the stop")
    crashes.restart()
    reason = f"the core stopped during run {run}"
    shown = crashes.show(environment_id)
    assert (shown["state"], shown["lastTransition"]) == ("ERROR", "CORE_STOP")
    assert reason in shown["lastTransitionError"]
    assert not shown.get("currentRunNumber")
    record = crashes.coconut("runs", "show", str(run), "-o", "json").json()["run"]
    assert (record["environmentId"], record["outcome"]) == (environment_id, "error")
    assert reason in record["error"]
    assert 0 < record["startMs"] <= record["endMs"] <= stopped_ms  # when the tasks were killed, not the restart
    crashes.check_run_ended_in_the_runs_table(run, stopped_ms)
    crashes.destroy_and_stop(environment_id)


def test_a_core_killed_during_destroy_leaves_no_process_behind(crashes):
    environment_id = crashes.create("hook_delay=2")
    destroy = crashes.in_background("env", "destroy", environment_id)
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeReset"), PHASE_TIMEOUT, "RESET")
    crashes.kill_core(destroy)
    crashes.restart()
    crashes.check_no_duplicate()
    crashes.destroy_and_stop(environment_id)


def test_what_a_basic_task_started_outside_its_group_dies_with_it(crashes, tmp_path):
    escaped = tmp_path / "escaped.pid"
    environment_id = crashes.create(f"basic_command=(setsid sleep 300 & echo $! > {escaped}); exec sleep 300")
    crashes.coconut("env", "control", environment_id, "-e", "START")
    eventually(lambda: escaped.exists() and escaped.read_text().strip(), PHASE_TIMEOUT, "the escape")
    orphan = int(escaped.read_text())
    assert orphan in crashes.observe()  # the core adopted it: its parent is gone
    crashes.coconut("env", "control", environment_id, "-e", "STOP")
    eventually(lambda: orphan not in still_alive(crashes.seen), PHASE_TIMEOUT, "the orphan killed at STOP")
    crashes.destroy_and_stop(environment_id)


def test_a_core_stopped_while_the_tasks_start_a_run_ends_it_on_record_when_it_stopped(crashes):
    environment_id = crashes.create("hook_delay=8")  # longer than the stop waits for the calls in progress (2 s)
    told = []
    start = threading.Thread(
        target=lambda: told.append(crashes.coconut("env", "control", environment_id, "-e", "START", check=False))
    )
    start.start()
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeStart"), PHASE_TIMEOUT, "START")
    run = int(crashes.show(environment_id)["currentRunNumber"])
    core = crashes.coconut.core_pid()
    crashes.observe()
    crashes.coconut("core", "stop", "-f")  # graceful, with the START in progress
    stopped_ms = time.time() * 1000
    eventually(lambda: core_gone(crashes.coconut, core), PHASE_TIMEOUT, "the core gone")
    start.join(PHASE_TIMEOUT)
    # the START's caller is told the core went away during its call, not that no core answers (start one)
    assert (
        f"ControlEnvironment: the core at 127.0.0.1:{crashes.coconut.port} went away during the call" in told[0].err
    ), told
    assert still_alive(crashes.seen) == [], "the stop left a task running"
    eventually(lambda: time.time() * 1000 > stopped_ms + 1000, PHASE_TIMEOUT, "the restart a second after the stop")
    crashes.restart()
    record = crashes.check_ended_by_the_restart(environment_id, run, "START_ACTIVITY")
    assert record["endMs"] <= stopped_ms  # when the tasks were killed, not at the restart
    crashes.check_run_ended_in_the_runs_table(run, stopped_ms)
    crashes.destroy_and_stop(environment_id)


def test_a_core_stopped_during_a_reset_ends_it_cancelled_in_the_journal(crashes):
    environment_id = crashes.create("hook_delay=6")  # longer than the stop waits for the calls in progress (2 s)
    reset = crashes.in_background("env", "control", environment_id, "-e", "RESET")
    eventually(lambda: crashes.log_of(environment_id, "BEGIN function executeReset"), PHASE_TIMEOUT, "RESET")
    core = crashes.coconut.core_pid()
    crashes.observe()
    crashes.coconut("core", "stop", "-f")
    eventually(lambda: core_gone(crashes.coconut, core), PHASE_TIMEOUT, "the core gone")
    reset.join(PHASE_TIMEOUT)
    crashes.restart()  # (its tasks were killed: the next core sends it to ERROR, its last transition GO_ERROR then)
    events = crashes.coconut("events", "query", "--env", environment_id, "-o", "json").json()
    ends = [
        e["event"]["environmentEvent"].get("error")
        for e in events
        if e["kind"] == "environmentEvent"
        and (e["event"]["environmentEvent"].get("transition"), e["event"]["environmentEvent"].get("transitionStatus"))
        == ("RESET", "DONE_ERROR")
    ]
    assert ends == ["cancelled: the core stops"]  # the RESET a consumer saw start has its end, saying why
    crashes.destroy_and_stop(environment_id)
