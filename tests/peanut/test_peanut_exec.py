"""peanut exec: launch a process on a control port, run a command script against it, stop it."""

from __future__ import annotations

import os
import signal
import socket
import sys

import pytest

from ecs_engine.errors import ExitStatus
from tests.peanut.processes import DEVICE, DUMMY, QUITTER, peanut, state_of

pytestmark = pytest.mark.slow


def script(tmp_path, text: str) -> str:
    path = tmp_path / "steps.peanut"
    path.write_text(text)
    return str(path)


def test_exec_runs_a_script_against_an_occ_process_and_stops_it(tmp_path):
    steps = script(
        tmp_path,
        "# a CI check\nget-state\ntransition STANDBY CONFIGURED detector=TPC\n"
        "transition CONFIGURED RUNNING runNumber=7\ndirect-step RUNNING STOP\nget-state\n",
    )
    log = tmp_path / "process.log"
    result = peanut("exec", "--script", steps, "--log", str(log), "--", *DUMMY)
    assert result.status == 0, result.err
    assert result.out.splitlines() == [
        "STANDBY",
        "ok  state=CONFIGURED trigger=EXECUTOR",
        "ok  state=RUNNING trigger=EXECUTOR",
        "ok  state=CONFIGURED trigger=EXECUTOR",
        "CONFIGURED",
    ]
    output = log.read_text()
    assert '"detector": "TPC"' in output and "run number 7" in output
    assert "executeExit" in output and "stopped the process (exit code 0)" in result.err
    assert "waiting for" not in result.err  # it answered at once


def test_a_process_the_script_took_to_done_exits_by_itself_unsignalled(tmp_path):
    steps = script(tmp_path, "get-state\ndirect-step STANDBY EXIT\n")
    result = peanut("exec", "--script", steps, "--", *DUMMY)
    assert result.status == 0, result.err
    assert result.out.splitlines() == ["STANDBY", "ok  state=DONE trigger=EXECUTOR"]
    assert "stopped the process (exit code 0)" in result.err  # it used to be SIGTERMed: exit code -15


def test_exec_logs_go_to_the_state_directory_and_the_oldest_are_removed(tmp_path, monkeypatch):
    from peanut import execute

    monkeypatch.setattr(execute, "LOGS_KEPT", 2)
    steps = script(tmp_path, "get-state\n")
    for _ in range(3):
        assert peanut("exec", "--script", steps, "--", *DUMMY).status == 0
    logs = sorted((tmp_path / "state" / "peanut" / "exec").glob("*.log"))
    assert len(logs) == 2
    assert not list(tmp_path.glob("peanut-*.log"))


def test_exec_finds_out_that_a_device_speaks_fmq(tmp_path):
    steps = script(tmp_path, "transition STANDBY CONFIGURED\nfmq-step READY RUN\nget-state\n")
    result = peanut("exec", "--script", steps, "--", *DEVICE)
    assert result.status == 0, result.err
    assert "answers (fmq)" in result.err
    assert result.out.splitlines()[-1] == "RUNNING"
    assert "stopped the process (exit code 0)" in result.err  # walked down from RUNNING to EXITING


def test_the_first_failing_script_line_stops_with_its_status_and_location(tmp_path):
    steps = script(tmp_path, "get-state\ndirect-step STANDBY START\nget-state\n")
    result = peanut("-mode", "direct", "exec", "--script", steps, "--", *DUMMY)
    assert result.status == ExitStatus.REFUSED
    assert f"{steps}:2: START from STANDBY" in result.err
    assert result.out.splitlines() == ["STANDBY", "refused  state=STANDBY trigger=DEVICE_INTENTIONAL"]


def test_a_transition_that_fails_ends_with_the_process_s_own_words_on_why(tmp_path):
    """peanut said only 'the process is in ERROR'; why was in a log file the user had to open."""
    steps = script(tmp_path, "transition STANDBY CONFIGURED\ntransition CONFIGURED RUNNING\n")
    result = peanut("exec", "--script", steps, "--", *DUMMY, "--fail-on", "START")
    assert result.status == ExitStatus.FAILED
    summary, *output = result.err.split("peanut: error: ")[1].splitlines()
    assert summary.endswith("the process is in ERROR (ok=false, trigger DEVICE_ERROR); its last output:")
    assert any("on_start failed in CONFIGURED: RuntimeError: START fails on purpose" in line for line in output)


def test_a_process_that_exits_during_a_step_is_reported_gone_with_its_last_words(tmp_path):
    """Its server cancelled the call as it stopped: 'failed: CANCELLED: CANCELLED' (exit 1), and its last words,
    written as it ended, came after peanut had read its output."""
    quitter = tmp_path / "quitter.py"
    quitter.write_text(QUITTER)
    result = peanut(
        "exec", "--script", script(tmp_path, "transition STANDBY CONFIGURED\n"), "--", sys.executable, str(quitter)
    )
    assert result.status == ExitStatus.UNREACHABLE
    assert "Transition STANDBY/CONFIGURE: the process at 127.0.0.1:" in result.err
    assert "went away during the call" in result.err and "cannot configure: no disk" in result.err


def test_a_process_that_dies_at_start_is_reported(tmp_path):
    result = peanut(
        "exec", "--script", script(tmp_path, "get-state\n"), "--", sys.executable, "-c", "raise SystemExit(4)"
    )
    assert result.status == ExitStatus.FAILED
    assert "ended (exit code 4) before answering" in result.err


def test_detach_leaves_the_process_running(tmp_path):
    result = peanut("exec", "--detach", "--script", script(tmp_path, "get-state\n"), "--", *DUMMY)
    assert result.status == 0
    line = next(line for line in result.err.splitlines() if "left running" in line)
    pid = int(line.split("pid ")[1].split(",")[0])
    try:
        os.kill(pid, 0)  # still alive
    finally:
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("get-state\nfly away\n", "{steps}:2: argument COMMAND: invalid choice: 'fly'"),
        ("get-state\nexec -- true\n", "{steps}:2: expected a peanut command (get-state, transition, ...)"),
        ("-o json get-state\n", "{steps}:1: -o: flags go on peanut's command line before exec, not in a script"),
        ("-addr localhost:1 get-state\n", "{steps}:1: -addr: flags go on peanut's command line"),
        ("get-state -o json\n", "{steps}:1: -o: flags go on peanut's command line before exec, not in a script"),
        ("get-state --bogus\n", "{steps}:1: unrecognized arguments: --bogus"),
        ("fmq-step IDLE INIT DEVICE\n", "{steps}:1: fmq-step: FairMQ names of two words are one argument each"),
        (None, "exec --script {steps}: No such file or directory"),
    ],
)
def test_a_bad_script_is_a_usage_error_before_the_process_starts(tmp_path, lines, message):
    steps = script(tmp_path, lines) if lines is not None else str(tmp_path / "none.peanut")
    marker = tmp_path / "started"
    result = peanut("exec", "--script", steps, "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.status == ExitStatus.USAGE
    assert result.err.startswith("peanut: error: " + message.format(steps=steps)), result.err
    assert result.out == "" and "started" not in result.err and not marker.exists()


def test_an_unusable_log_file_is_a_usage_error_before_the_process_starts(tmp_path):
    marker = tmp_path / "started"
    log = tmp_path / "no" / "such" / "dir" / "x.log"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    result = peanut("exec", "--log", str(log), "--script", script(tmp_path, "get-state\n"), "--", *command)
    assert result.status == ExitStatus.USAGE
    assert result.err == f"peanut: error: exec --log {log}: No such file or directory\n"
    assert not marker.exists()


def test_exec_refuses_a_port_another_process_answers_and_leaves_that_process_alone(occ_process, tmp_path):
    """The port is found taken before CMD starts, and named by the flag the user gave (--port); CMD said 'give
    another port (--control-port, ...)', a flag peanut sets."""
    marker = tmp_path / "started"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    result = peanut(
        "exec", "--port", str(occ_process.port), "--script", script(tmp_path, "get-state\n"), "--", *command
    )
    assert result.status == ExitStatus.USAGE, result.err
    assert result.err == (
        f"peanut: error: exec --port {occ_process.port}: the port is in use by another process\n"
        "  hint: give another --port (or none: peanut picks a free one), or stop the process that has it\n"
    )
    assert not marker.exists() and result.out == ""
    assert occ_process.alive() and state_of(occ_process) == "STANDBY"


def test_a_port_taken_by_any_listener_is_named_by_exec_s_port_flag(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = peanut("exec", "--port", str(port), "--script", script(tmp_path, "get-state\n"), "--", *DUMMY)
    assert result.status == ExitStatus.USAGE, result.err
    assert f"exec --port {port}: the port is in use" in result.err and "--control-port" not in result.err


def test_a_process_that_never_answers_times_out_with_the_limit_as_given(tmp_path):
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    result = peanut("-timeout", "1s", "exec", "--script", script(tmp_path, "get-state\n"), "--", *silent)
    assert result.status == ExitStatus.TIMEOUT
    assert "within 1 s" in result.err  # not what was left of the deadline (0.99998 s)
    assert "stopped the process (exit code 143, SIGTERM)" in result.err  # the shell's form, not Popen's -15


def test_exec_says_what_it_waits_for_when_the_process_is_slow_to_answer(tmp_path, monkeypatch):
    from peanut import execute

    monkeypatch.setattr(execute, "WAITING_NOTE_AFTER", 0.2)
    command = [sys.executable, "-c", "import os, sys, time; time.sleep(1); os.execv(sys.argv[1], sys.argv[1:])", *DUMMY]
    result = peanut("exec", "--script", script(tmp_path, "get-state\n"), "--", *command)
    assert result.status == 0, result.err
    assert "peanut: waiting for python" in result.err and "to answer on port" in result.err
