"""peanut in CLI mode against real processes: every command, both transports, and the exit statuses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import textwrap
import threading

import pytest

from ecs_engine.errors import ExitStatus
from ecs_engine.occ import launch
from tests.peanut.processes import DEVICE, DUMMY, peanut, started, state_of
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def test_help_lists_commands_modes_and_exit_statuses():
    result = peanut("--help")
    assert result.status == 0
    for word in ("get-state", "transition", "direct-step", "fmq-step", "state-stream", "event-stream", "exec"):
        assert word in result.out
    assert "fmq-step" in result.out and "6 wrong mode" in result.out


def test_each_command_s_help_says_what_its_arguments_are():
    def words(*argv: str) -> str:  # argparse wraps to the terminal's width
        return " ".join(peanut(*argv).out.split())

    transition = words("transition", "--help")
    assert "FROM the OCC state the process is in (STANDBY, CONFIGURED, RUNNING, ERROR)" in transition
    assert "TO the OCC state to go to" in transition
    assert "quote two words" in words("fmq-step", "--help")
    assert "exec's wait for the process to answer" in words("--help")


def test_version():
    from ecs_engine import __version__

    result = peanut("--version")
    assert (result.status, result.out) == (0, f"peanut {__version__}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-addr", "nowhere", "get-state"], "-addr 'nowhere': expected host:port"),
        (["-addr", "localhost:99999", "get-state"], "-addr 'localhost:99999': the port must be 1-65535"),
        (["-timeout", "soon", "get-state"], "-timeout 'soon': expected a positive duration"),
        (["-mode", "magic", "get-state"], "argument -mode/--mode: invalid choice"),
        (["launch"], "invalid choice: 'launch'"),
        (["transition", "STANDBY"], "the following arguments are required: TO (see"),  # KEY=VALUE is optional
        (["fmq-step", "IDLE"], "the following arguments are required: EVENT (see"),
        (
            ["-addr", "localhost:1", "transition", "STANDBY", "CONFIGURED", "novalue"],
            "argument 'novalue': expected key=value",
        ),
        (["-config", "/no/such.yaml", "get-state"], "configuration file /no/such.yaml"),
        (["exec"], "exec: no command to run"),
        (
            ["fmq-step", "IDLE", "INIT", "DEVICE"],
            "FairMQ names of two words are one argument each: quote 'INIT DEVICE'",
        ),
        (["get-state", "-addr", "localhost:1"], "-addr after the command get-state: peanut's flags go before the"),
        (["transition", "A", "B", "k=v", "-config", "x.yaml"], "-config after the command transition: peanut's"),
        (["-mode", "fmq-step", "get-state", "-addr", "h:1"], "-addr after the command get-state: peanut's flags"),
        (["-mode", "direct", "transition", "A", "B", "-o", "json"], "-o after the command transition: peanut's"),
    ],
)
def test_bad_input_is_one_clear_usage_error(argv, message):
    result = peanut(*argv)
    assert result.status == ExitStatus.USAGE
    assert message in result.err and result.err.startswith("peanut: error:")
    assert "Traceback" not in result.err and result.out == ""


def test_a_file_that_is_not_utf8_text_is_a_usage_error_naming_its_line(tmp_path):
    """A binary or Latin-1 file given as -config or exec --script was an internal error (UnicodeDecodeError)."""
    config, script = tmp_path / "latin1.yaml", tmp_path / "steps.peanut"
    config.write_bytes("detector: TPC\nname: caf\u00e9\n".encode("latin-1"))
    script.write_bytes(b"get-state\n# caf\xe9\n")
    for argv, message in (
        (["-config", str(config), "get-state"], f"configuration file {config}:2: not UTF-8 text (byte 0xe9)"),
        (["exec", "--script", str(script), "--", "true"], f"exec --script {script}:2: not UTF-8 text (byte 0xe9)"),
    ):
        result = peanut(*argv)
        assert (result.status, result.err) == (ExitStatus.USAGE, f"peanut: error: {message}\n")


def test_direct_mode_get_state_transitions_and_arguments(occ_process):
    p = ["-addr", occ_process.address, "-mode", "direct"]
    assert peanut(*p, "get-state").out == "STANDBY\n"

    configured = peanut(*p, "transition", "STANDBY", "CONFIGURED", "key1=value1", "chans.x.0.address=tcp://h:1")
    assert (configured.status, configured.out) == (0, "ok  state=CONFIGURED trigger=EXECUTOR\n")
    assert json.loads(occ_process.dump.read_text()) == {
        "key1": "value1",
        "chans": {"x": {"0": {"address": "tcp://h:1"}}},
    }

    running = peanut(*p, "-o", "json", "transition", "configured", "running", "runNumber=4242")
    data = json.loads(running.out)
    assert (data["ok"], data["state"], data["trigger"], data["event"]) == (True, "RUNNING", "EXECUTOR", "START")
    assert "run number 4242" in occ_process.output()

    stopped = peanut(*p, "direct-step", "RUNNING", "STOP")
    assert stopped.out == "ok  state=CONFIGURED trigger=EXECUTOR\n"
    assert peanut(*p, "-o", "json", "get-state").out.strip() == json.dumps(
        {"state": "CONFIGURED", "occState": "CONFIGURED", "pid": occ_process.process.pid}
    )


def test_refused_transitions_exit_with_refused(occ_process):
    p = ["-addr", occ_process.address, "-mode", "direct"]
    mismatch = peanut(*p, "transition", "CONFIGURED", "RUNNING")
    assert mismatch.status == ExitStatus.REFUSED
    assert "state mismatch: source: CONFIGURED current: STANDBY" in mismatch.err

    illegal = peanut(*p, "direct-step", "STANDBY", "START")
    assert illegal.status == ExitStatus.REFUSED
    assert illegal.out == "refused  state=STANDBY trigger=DEVICE_INTENTIONAL\n"

    unknown = peanut(*p, "direct-step", "STANDBY", "PAUSE")
    assert unknown.status == ExitStatus.REFUSED and "unknown transition event 'PAUSE'" in unknown.err

    impossible = peanut(*p, "transition", "STANDBY", "RUNNING")
    assert impossible.status == ExitStatus.USAGE
    assert (
        "no OCC transition leads from STANDBY to RUNNING" in impossible.err
        and "CONFIGURED (CONFIGURE)" in impossible.err
    )
    assert state_of(occ_process) == "STANDBY"


def test_config_file_is_flattened_and_inline_arguments_win(occ_process, tmp_path):
    config = tmp_path / "args.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            chans:
              data:
                numSockets: 1
                0: {address: "ipc://@x", sndBufSize: 1000}
            detector: TPC
            """
        )
    )
    p = ["-addr", occ_process.address, "-mode", "direct", "-config", str(config)]
    assert peanut(*p, "transition", "STANDBY", "CONFIGURED", "detector=ITS").status == 0
    assert json.loads(occ_process.dump.read_text()) == {
        "chans": {"data": {"numSockets": "1", "0": {"address": "ipc://@x", "sndBufSize": "1000"}}},
        "detector": "ITS",
    }


def test_config_values_are_pushed_as_written(occ_process, tmp_path):
    """YAML 1.1 read them as numbers and booleans: 1.10 was pushed as 1.1, 0x1F as 31, 010 as 8, yes as true."""
    config = tmp_path / "args.yaml"
    config.write_text("version: 1.10\nmask: 0x1F\ncode: 010\nenabled: yes\nat: 12:30\nnone: null\nflag: true\n")
    p = ["-addr", occ_process.address, "-mode", "direct", "-config", str(config)]
    assert peanut(*p, "transition", "STANDBY", "CONFIGURED").status == 0
    assert json.loads(occ_process.dump.read_text()) == {
        "version": "1.10",
        "mask": "0x1F",
        "code": "010",
        "enabled": "yes",
        "at": "12:30",
        "none": "",
        "flag": "true",
    }


def test_fmq_mode_drives_the_fairmq_sequences(fmq_device):
    p = ["-addr", fmq_device.address]  # fmq is the CLI's default mode
    assert peanut(*p, "get-state").out == "IDLE\n"
    configured = peanut(*p, "transition", "STANDBY", "CONFIGURED", "chans.data.0.address=tcp://127.0.0.1:5000")
    assert (configured.status, configured.out) == (0, "ok  state=CONFIGURED\n")
    assert [line.split("--")[1].rstrip(">-") for line in configured.err.splitlines() if "fmq-step" in line] == [
        "INIT DEVICE",
        "COMPLETE INIT",
        "BIND",
        "CONNECT",
        "INIT TASK",
    ]
    assert '"chans.data.0.address": "tcp://127.0.0.1:5000"' in fmq_device.output()
    run = peanut(*p, "fmq-step", "READY", "RUN")
    assert run.out == "ok  fmq-state=RUNNING  occ-state=RUNNING\n"
    assert json.loads(peanut(*p, "-o", "json", "get-state").out)["state"] == "RUNNING"
    assert peanut(*p, "transition", "RUNNING", "CONFIGURED").out == "ok  state=CONFIGURED\n"
    assert peanut(*p, "-mode", "fmq-step", "transition", "CONFIGURED", "STANDBY").out == "ok  state=STANDBY\n"

    refused = peanut(*p, "fmq-step", "READY", "RUN")
    assert refused.status == ExitStatus.REFUSED and "refused by the FairMQ device" in refused.err
    assert state_of(fmq_device, "fmq") == "IDLE"


def test_wrong_mode_is_reported_with_the_mode_to_use(occ_process, fmq_device):
    direct_process = peanut("-addr", occ_process.address, "get-state")  # fmq by default
    assert direct_process.status == ExitStatus.WRONG_MODE and "try -mode direct" in direct_process.err
    device = peanut("-addr", fmq_device.address, "-mode", "direct", "transition", "STANDBY", "CONFIGURED")
    assert device.status == ExitStatus.WRONG_MODE and "try -mode fmq" in device.err
    step_mode = peanut("-addr", occ_process.address, "-mode", "fmq-step", "get-state")
    assert step_mode.status == ExitStatus.WRONG_MODE and "(-mode fmq-step)" in step_mode.err
    assert "try -mode direct" in step_mode.err and "(-mode fmq)" not in step_mode.err
    step = peanut("-addr", occ_process.address, "-mode", "direct", "fmq-step", "STANDBY", "CONFIGURE")
    assert step.status == ExitStatus.WRONG_MODE and "(fmq-step)" in step.err and "use direct-step" in step.err
    no_streams = peanut("-addr", fmq_device.address, "state-stream")
    assert no_streams.status == ExitStatus.USAGE and "no StateStream" in no_streams.err


def test_unreachable_and_timeout(tmp_path):
    nobody = peanut("-addr", f"127.0.0.1:{launch.free_port()}", "-mode", "direct", "get-state")
    assert nobody.status == ExitStatus.UNREACHABLE and "nothing answers" in nobody.err
    unknown_host = peanut("-addr", "nosuchhost.invalid:47100", "-mode", "direct", "-timeout", "10s", "get-state")
    assert unknown_host.status == ExitStatus.UNREACHABLE
    assert "cannot resolve the host name 'nosuchhost.invalid'" in unknown_host.err
    assert "is the process running" not in unknown_host.err

    child = started([*DUMMY, "--hook-delay", "3"], tmp_path / "slow.log")
    try:
        slow = peanut(
            "-addr", child.address, "-mode", "direct", "-timeout", "300ms", "transition", "STANDBY", "CONFIGURED"
        )
        assert slow.status == ExitStatus.TIMEOUT
        assert "within 0.3 s" in slow.err and "-timeout" in slow.err
        assert "the transition may still have happened (check with get-state)" in slow.err
    finally:
        asyncio.run(launch.stop(child, use_occ=False))


def test_a_port_that_is_not_a_control_port_is_named_as_such():
    """A web server or a data port at -addr: 'nothing answers ... is the process running?' sent the user looking
    for a process that was running."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_as_a_web_server() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                connection.close()

    threading.Thread(target=answer_as_a_web_server, daemon=True).start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        result = peanut("-addr", address, "-mode", "direct", "get-state")
    finally:
        listener.close()
    assert result.status == ExitStatus.UNREACHABLE
    assert f"GetState: something at {address} accepts connections but does not speak gRPC" in result.err
    assert "is that the process's control port" in result.err and "nothing answers" not in result.err


def test_a_process_that_dies_during_a_transition_went_away_it_was_not_that_nothing_answered(tmp_path):
    child = started([*DUMMY, "--hook-delay", "30"], tmp_path / "slow.log")

    def kill_in_the_hook() -> None:
        eventually(lambda: "BEGIN function executeConfigure" in child.output(), what="CONFIGURE's hook running")
        child.process.kill()

    killer = threading.Thread(target=kill_in_the_hook)
    killer.start()
    try:
        died = peanut("-addr", child.address, "-mode", "direct", "transition", "STANDBY", "CONFIGURED")
    finally:
        killer.join()
        asyncio.run(launch.stop(child, use_occ=False))
    assert died.status == ExitStatus.UNREACHABLE
    assert f"Transition STANDBY/CONFIGURE: the process at {child.address} went away during the call (" in died.err
    assert "nothing answers" not in died.err and "is the process running" not in died.err


def test_a_transition_refused_in_another_state_says_where_the_process_can_go(tmp_path):
    child = started([*DUMMY, "--fail-on", "START"], tmp_path / "failing.log")
    p = ["-addr", child.address, "-mode", "direct"]
    try:
        assert peanut(*p, "transition", "STANDBY", "CONFIGURED").status == 0
        assert peanut(*p, "transition", "CONFIGURED", "RUNNING").status == ExitStatus.FAILED
        again = peanut(*p, "transition", "CONFIGURED", "RUNNING")  # as if nothing had happened
    finally:
        asyncio.run(launch.stop(child))
    assert again.status == ExitStatus.REFUSED
    assert "the process is in ERROR\n  hint: from ERROR peanut can go to STANDBY (RECOVER), DONE (EXIT)\n" in again.err


def test_a_killed_process_is_unreachable_until_restarted(occ_process, tmp_path):
    p = ["-addr", occ_process.address, "-mode", "direct"]
    assert peanut(*p, "get-state").status == 0
    occ_process.process.kill()
    occ_process.process.wait()
    assert peanut(*p, "get-state").status == ExitStatus.UNREACHABLE

    again = started(DUMMY, tmp_path / "again.log", port=occ_process.port)
    try:
        assert peanut(*p, "get-state").out == "STANDBY\n"
    finally:
        asyncio.run(launch.stop(again))


def test_a_refused_first_fmq_step_is_not_rolled_back_and_says_where_the_device_is(fmq_device):
    p = ["-addr", fmq_device.address]
    for source, event in (("IDLE", "INIT DEVICE"), ("INITIALIZING DEVICE", "COMPLETE INIT"), ("INITIALIZED", "BIND")):
        assert peanut(*p, "fmq-step", source, event).status == 0
    refused = peanut(*p, "transition", "STANDBY", "CONFIGURED")
    assert (refused.status, refused.out) == (ExitStatus.REFUSED, "refused  state=STANDBY\n")
    assert "the device is in BOUND (STANDBY)" in refused.err and "RESET DEVICE" not in refused.err
    assert state_of(fmq_device, "fmq") == "BOUND"  # nothing had started: nothing is undone


def test_an_fmq_refusal_names_the_state_the_device_is_in(fmq_device):
    p = ["-addr", fmq_device.address]
    assert peanut(*p, "transition", "STANDBY", "CONFIGURED").status == 0
    refused = peanut(*p, "transition", "RUNNING", "CONFIGURED")
    assert refused.status == ExitStatus.REFUSED
    assert "Transition RUNNING/STOP refused by the FairMQ device" in refused.err
    assert "the device is in READY (CONFIGURED)" in refused.err


def test_a_refused_call_has_a_result_line_in_text_and_json(occ_process):
    p = ["-addr", occ_process.address, "-mode", "direct"]
    assert peanut(*p, "transition", "CONFIGURED", "RUNNING").out == "refused  state=STANDBY\n"
    refused = peanut(*p, "-o", "json", "transition", "CONFIGURED", "RUNNING")
    assert refused.status == ExitStatus.REFUSED
    data = json.loads(refused.out)
    assert (data["result"], data["ok"], data["state"], data["event"]) == ("refused", False, "STANDBY", "START")
    assert "state mismatch" in data["error"]
    unknown = json.loads(peanut(*p, "-o", "json", "direct-step", "STANDBY", "PAUSE").out)
    assert (unknown["result"], unknown["state"]) == ("refused", "STANDBY")
    illegal = json.loads(peanut(*p, "-o", "json", "direct-step", "STANDBY", "START").out)
    assert (illegal["result"], illegal["trigger"]) == ("refused", "DEVICE_INTENTIONAL")


def test_a_transition_that_was_tried_and_failed_exits_failed_not_refused(tmp_path):
    direct = started([*DUMMY, "--fail-on", "CONFIGURE"], tmp_path / "occ.log")
    device = started([*DEVICE, "--fail-in", "init_task"], tmp_path / "device.log")
    try:
        p = ["-addr", direct.address, "-mode", "direct"]
        failed = peanut(*p, "transition", "STANDBY", "CONFIGURED")
        assert (failed.status, failed.out) == (ExitStatus.FAILED, "failed  state=ERROR trigger=DEVICE_ERROR\n")
        in_error = peanut(*p, "direct-step", "ERROR", "RESET")  # OCClib says DEVICE_ERROR, but nothing was tried
        assert in_error.status == ExitStatus.REFUSED and in_error.out.startswith("refused  state=ERROR")
        fmq = peanut("-addr", device.address, "-o", "json", "transition", "STANDBY", "CONFIGURED")
        assert fmq.status == ExitStatus.FAILED
        assert (json.loads(fmq.out)["result"], json.loads(fmq.out)["state"]) == ("failed", "ERROR")
    finally:
        for child in (direct, device):
            asyncio.run(launch.stop(child, use_occ=False))
