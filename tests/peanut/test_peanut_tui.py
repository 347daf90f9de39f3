"""peanut's TUI driven for real: keys through prompt_toolkit's pipe input, the screen read from the renderer,
and the controlled process checked over its own connection."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import sys

import pytest
from prompt_toolkit.application import Application, get_app_or_none
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from ecs_engine.errors import ExitStatus
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient
from peanut.cli import main
from peanut.execute import exec_async
from peanut.output import Output
from peanut.tui import PeanutTUI, TuiIO
from tests.peanut.processes import DEVICE, DUMMY, QUITTER
from tests.waiting import eventually_async

pytestmark = pytest.mark.slow
POLL = 0.2  # GetState polling period in these tests (2 s by default)


def screen(tui: PeanutTUI) -> str:
    return screen_of(tui.app)


def screen_of(app: Application) -> str:
    rendered = app.renderer.last_rendered_screen
    if rendered is None:
        return ""
    width = app.output.get_size().columns
    rows = (rendered.data_buffer[y] for y in range(rendered.height))
    return "\n".join("".join(row[x].char for x in range(width)).rstrip() for row in rows)


def style_of(tui: PeanutTUI, text: str) -> str:
    """The style of the first character of ``text`` on the screen."""
    rendered = tui.app.renderer.last_rendered_screen
    for y, line in enumerate(screen(tui).splitlines()):
        x = line.find(text)
        if x >= 0:
            return rendered.data_buffer[y][x].style
    raise AssertionError(f"{text!r} is not on the screen:\n{screen(tui)}")


async def shows(tui: PeanutTUI, text: str) -> None:
    await eventually_async(lambda: text in screen(tui), what=f"{text!r} on the screen")


async def shows_state(tui: PeanutTUI, state: str) -> None:
    """``state`` in the state panel (the event log lines start with a time, not a space)."""
    await eventually_async(lambda: f"│ {state} " in screen(tui) and not tui.busy, what=f"state {state} shown")


async def state_of(address: str, mode: str = "direct") -> str:
    async with OccClient(address, mode, timeout=5) as client:
        return (await client.get_state()).state


@contextlib.asynccontextmanager
async def tui_on(address: str, mode: str = "direct", timeout: float = 5.0, **kwargs):
    with create_pipe_input() as keys:
        tui = PeanutTUI(address, mode, timeout, io=TuiIO(keys, DummyOutput(), POLL), **kwargs)
        task = asyncio.create_task(tui.run())
        try:
            yield tui, keys
            keys.send_text("q")
            assert await asyncio.wait_for(task, 10) == ExitStatus.OK
        finally:
            task.cancel()


async def test_direct_mode_full_cycle_with_keys(tmp_path):
    async with launch.running(DUMMY, log_path=tmp_path / "out.log") as child, tui_on(child.address) as (tui, keys):
        await shows_state(tui, "STANDBY")
        assert "STABLE" in screen(tui) and f"pid {child.process.pid}" in screen(tui)
        assert "disabled" not in style_of(tui, "[c] CONFIGURE")
        assert "disabled" in style_of(tui, "[s] START")

        keys.send_text("s")  # not possible in STANDBY: nothing is sent
        await shows(tui, "START not possible: in STANDBY")
        assert await state_of(child.address) == "STANDBY"

        for key, state in (("c", "CONFIGURED"), ("s", "RUNNING"), ("t", "CONFIGURED"), ("r", "STANDBY")):
            keys.send_text(key)
            await shows_state(tui, state)
            assert await state_of(child.address) == state
        assert "StateStream: RUNNING (STATE_STABLE)" in screen(tui)
        assert "run number" in child.output() and "with run number 0" not in child.output()  # START sent one

        keys.send_text("x")
        await shows(tui, "process ended")
        assert await child.wait_exit(5) == 0


async def test_loaded_configuration_is_pushed_with_configure(tmp_path):
    config = tmp_path / "peanut-config.yaml"
    config.write_text("chans:\n  data:\n    0:\n      address: ipc://@example\n      sndBufSize: 1000\n")
    dump = tmp_path / "pushed.json"
    async with launch.running([*DUMMY, "--config-dump", str(dump)]) as child, tui_on(child.address) as (tui, keys):
        await shows_state(tui, "STANDBY")
        assert "runtime configuration (EMPTY)" in screen(tui)
        keys.send_text("l")
        await shows(tui, "file path for runtime configuration")
        keys.send_text(str(tmp_path / "peanut-con"))
        keys.send_text("\t")  # path completion
        await eventually_async(lambda: tui.path_input.text == str(config), what="the path completed")
        keys.send_text("\r")
        await shows(tui, "runtime configuration (NOT PUSHED)")
        assert "chans.data.0.address=ipc://@example" in screen(tui)
        keys.send_text("c")
        await shows(tui, "runtime configuration (PUSHED)")
        assert '"sndBufSize": "1000"' in dump.read_text()


async def test_the_load_prompt_starts_empty_and_enter_alone_reloads_the_last_file(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("a: 1\n")
    second.write_text("b: 2\n")
    async with launch.running(DUMMY) as child, tui_on(child.address) as (tui, keys):
        await shows_state(tui, "STANDBY")
        for path in (first, second):  # an absolute path typed in replaces the last one, it is not appended
            keys.send_text("l")
            await shows(tui, "file path for runtime configuration")
            keys.send_text(f"{path}\r")
            await eventually_async(lambda path=path: tui.config_path == str(path), what=f"{path} loaded")
        assert "b=2" in screen(tui) and "a=1" not in screen(tui)
        second.write_text("b: 3\n")
        keys.send_text("l")
        await shows(tui, "Enter alone reloads")
        assert tui.path_input.text == ""
        keys.send_text("\r")
        await shows(tui, "b=3")


async def test_a_bad_configuration_file_is_an_error_dialog(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    async with launch.running(DUMMY) as child, tui_on(child.address) as (tui, keys):
        await shows_state(tui, "STANDBY")
        keys.send_text("l")
        await shows(tui, "file path for runtime configuration")
        keys.send_text(str(broken) + "\r")
        await shows(tui, "Cannot load configuration file")
        assert "not valid YAML" in screen(tui)
        assert "[n] reconnect" not in screen(tui).split("events")[0]  # the dialog is about a file
        assert any("not valid YAML" in line for line in tui.log)  # the reason, not only the first line
        keys.send_text("c")  # keys do nothing while the dialog is open
        keys.send_text("\r")
        await eventually_async(lambda: "Cannot load" not in screen(tui).split("events")[0], what="the dialog closed")
        assert await state_of(child.address) == "STANDBY"


async def test_a_killed_process_shows_unreachable_and_n_reconnects_after_restart(tmp_path):
    child = launch.start(DUMMY, log_path=tmp_path / "first.log")
    await launch.wait_answering(child, 15)
    try:
        async with tui_on(child.address) as (tui, keys):
            await shows_state(tui, "STANDBY")
            keys.send_text("c")
            await shows_state(tui, "CONFIGURED")
            child.process.send_signal(signal.SIGKILL)
            await shows(tui, "UNREACHABLE")
            assert "is unreachable" in screen(tui)
            assert all("disabled" in style_of(tui, f"[{k}]") for k in "crstvx")

            restarted = launch.start(DUMMY, port=child.port, log_path=tmp_path / "second.log")
            try:
                await launch.wait_answering(restarted, 15)
                keys.send_text("n")
                await shows_state(tui, "STANDBY")  # the new process starts over
                keys.send_text("c")
                await shows_state(tui, "CONFIGURED")
                assert await state_of(restarted.address) == "CONFIGURED"
            finally:
                await launch.stop(restarted)
    finally:
        await launch.stop(child)


async def test_a_process_restarted_on_its_port_is_noticed_without_n(tmp_path):
    """Polling stopped at UNREACHABLE: the restarted process was not seen until n was pressed."""
    child = launch.start(DUMMY, log_path=tmp_path / "first.log")
    await launch.wait_answering(child, 15)
    try:
        async with tui_on(child.address) as (tui, keys):
            await shows_state(tui, "STANDBY")
            keys.send_text("c")
            await shows_state(tui, "CONFIGURED")
            child.process.send_signal(signal.SIGKILL)
            await shows(tui, "UNREACHABLE")
            keys.send_text("\r")  # the dialog is closed, and the failed polls do not open it again
            await eventually_async(lambda: tui.modal is None, what="the dialog closed")

            restarted = launch.start(DUMMY, port=child.port, log_path=tmp_path / "second.log")
            try:
                await shows(tui, f"{child.address} answers again (pid {restarted.pid})")
                await shows_state(tui, "STANDBY")  # the new process starts over
                assert tui.modal is None and sum("is unreachable" in line for line in tui.log) == 1
                keys.send_text("c")
                await shows_state(tui, "CONFIGURED")
                await shows(tui, "StateStream: CONFIGURED")  # its streams were opened anew
                assert sum("StateStream: CONFIGURED" in line for line in tui.log) == 2
            finally:
                await launch.stop(restarted)
    finally:
        await launch.stop(child)


async def test_a_transition_slower_than_the_time_limit_leaves_the_process_connected(tmp_path):
    """The process answers, only late: it was shown UNREACHABLE, keys disabled, polling stopped, until n."""
    command = [*DUMMY, "--hook-delay", "1"]
    async with (
        launch.running(command, log_path=tmp_path / "out.log") as child,
        tui_on(child.address, timeout=0.3) as (tui, keys),
    ):
        await shows_state(tui, "STANDBY")
        keys.send_text("c")
        await shows(tui, "CONFIGURE: no answer within 0.3 s (-timeout); it may still happen")
        await shows_state(tui, "CONFIGURED")  # it did happen, and the panel follows
        assert tui.modal is None and "unreachable" not in screen(tui)
        assert "disabled" not in style_of(tui, "[s] START")


async def test_wrong_mode_is_shown_with_the_mode_to_use():
    async with launch.running(DEVICE) as child, tui_on(child.address, "direct") as (tui, keys):
        await shows(tui, "WRONG MODE")
        assert "-mode fmq" in screen(tui)
        keys.send_text("\rc")  # close the dialog, then try CONFIGURE
        await shows(tui, "CONFIGURE not possible: not connected")
        assert await state_of(child.address, "fmq") == "IDLE"


async def test_fmq_mode_drives_sequences_and_shows_occ_states():
    async with launch.running(DEVICE) as child, tui_on(child.address, "fmq") as (tui, keys):
        await shows_state(tui, "STANDBY")
        assert "(IDLE)" in screen(tui)
        keys.send_text("c")
        await shows_state(tui, "CONFIGURED")
        assert await state_of(child.address, "fmq") == "READY"
        assert "INIT TASK: DEVICE READY -> READY" in screen(tui)
        keys.send_text("s")
        await shows_state(tui, "RUNNING")
        keys.send_text("t")
        await shows(tui, "STOP -> READY (ok)")
        keys.send_text("x")  # EXIT = RESET TASK, RESET DEVICE, END
        await shows(tui, "process ended")
        assert await child.wait_exit(5) == 0


async def test_fmq_step_mode_one_key_per_fairmq_step():
    async with launch.running(DEVICE) as child, tui_on(child.address, "fmq-step") as (tui, keys):
        await shows_state(tui, "IDLE")
        assert "INTERMEDIATE" not in screen(tui)
        assert "disabled" in style_of(tui, "[6] RUN")
        keys.send_text("1")
        await shows_state(tui, "INITIALIZING DEVICE")
        assert "INTERMEDIATE" in screen(tui)
        for key, state in (
            ("2", "INITIALIZED"),
            ("3", "BOUND"),
            ("4", "DEVICE READY"),
            ("5", "READY"),
            ("6", "RUNNING"),
        ):
            keys.send_text(key)
            await shows_state(tui, state)
        assert await state_of(child.address, "fmq") == "RUNNING"


async def test_quit_sends_no_transition():
    async with launch.running(DUMMY) as child:
        async with tui_on(child.address) as (tui, keys):
            await shows_state(tui, "STANDBY")
            keys.send_text("c")
            await shows_state(tui, "CONFIGURED")
        assert await state_of(child.address) == "CONFIGURED"  # q left it as it was


def test_without_a_command_peanut_opens_the_tui():
    with create_pipe_input() as keys:
        keys.send_text("q")
        status = main(
            ["-addr", f"127.0.0.1:{launch.free_port()}"], stdout=io.StringIO(), tui=TuiIO(keys, DummyOutput(), POLL)
        )
    assert status == ExitStatus.OK


async def test_exec_launches_the_process_opens_the_tui_and_stops_the_process(tmp_path):
    port = launch.free_port()
    log = tmp_path / "exec.log"
    notes = io.StringIO()
    with create_pipe_input() as keys:
        run = asyncio.create_task(
            exec_async(
                DUMMY,
                port=port,
                mode=None,
                timeout=15,
                script=None,
                detach=False,
                log=str(log),
                out=Output(io.StringIO(), notes),
                config={},
                tui=TuiIO(keys, DummyOutput(), POLL),
            )
        )
        address = f"127.0.0.1:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:  # press c until the TUI is connected and the process configured
            assert loop.time() < deadline and not run.done(), "the TUI never configured the process"
            keys.send_text("c")
            with contextlib.suppress(Exception):
                if await state_of(address) == "CONFIGURED":
                    break
            await asyncio.sleep(0.05)
        keys.send_text("q")
        assert await asyncio.wait_for(run, 20) == ExitStatus.OK
    assert "executeExit" in log.read_text()  # stopped with EXIT, not killed
    assert "stopped the process (exit code 0)" in notes.getvalue()


class WideOutput(DummyOutput):
    """Wide enough for a line of the process's own log in the event pane."""

    def get_size(self) -> Size:
        return Size(rows=50, columns=200)


async def test_exec_s_tui_shows_why_a_transition_failed_in_the_process_s_own_words(tmp_path):
    """Script mode ended such an error with the process's last output; the TUI said only 'CONFIGURE -> ERROR'."""
    async with exec_tui([*DUMMY, "--fail-on", "CONFIGURE"], tmp_path) as (app, keys):
        await eventually_async(lambda: "│ STANDBY " in screen_of(app), what="STANDBY shown")
        keys.send_text("c")
        said = "CONFIGURE -> ERROR (not ok, trigger DEVICE_ERROR); its last output:"
        await eventually_async(lambda: said in screen_of(app), what="the failure and its reason in the event pane")
        assert "on_configure failed in STANDBY: RuntimeError: CONFIGURE fails on purpose" in screen_of(app)


async def test_exec_s_tui_shows_the_last_words_of_a_process_that_exits_during_a_step(tmp_path):
    quitter = tmp_path / "quitter.py"
    quitter.write_text(QUITTER)
    async with exec_tui([sys.executable, str(quitter)], tmp_path) as (app, keys):
        await eventually_async(lambda: "│ STANDBY " in screen_of(app), what="STANDBY shown")
        keys.send_text("c")
        said = "CONFIGURE did not complete; its last output:"
        await eventually_async(lambda: said in screen_of(app), what="its last words in the event pane")
        assert "cannot configure: no disk" in screen_of(app)


@contextlib.asynccontextmanager
async def exec_tui(command: list[str], tmp_path):
    """``peanut exec`` of ``command`` with its TUI (exec makes the TUI itself: the running application is read)."""
    with create_pipe_input() as keys:
        run = asyncio.create_task(
            exec_async(
                command,
                port=launch.free_port(),
                mode=None,
                timeout=15,
                script=None,
                detach=False,
                log=str(tmp_path / "exec.log"),
                out=Output(io.StringIO(), io.StringIO()),
                config={},
                tui=TuiIO(keys, WideOutput(), POLL),
            )
        )
        try:
            yield await eventually_async(get_app_or_none, what="exec's TUI running"), keys
            keys.send_text("q")
            assert await asyncio.wait_for(run, 20) == ExitStatus.OK
        finally:
            run.cancel()


@pytest.mark.parametrize("command", [[], ["exec", "--"]])
def test_without_a_terminal_the_tui_is_a_usage_error(tmp_path, command):
    marker = tmp_path / "started"
    argv = [*command, sys.executable, "-c", f"open({str(marker)!r}, 'w')"] if command else []
    result = subprocess.run(
        [sys.executable, "-m", "peanut", "-addr", f"127.0.0.1:{launch.free_port()}", "-mode", "direct", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == ExitStatus.USAGE
    assert result.stderr == "peanut: error: the TUI needs a terminal; give a command (see peanut --help)\n"
    assert not marker.exists()
