"""``peanut exec -- CMD ARGS``: start a process on a control port, wait until it answers, control it, stop it.

The process gets ``OCC_CONTROL_PORT`` and ``--control-port``; its output goes to a log file (``--log``, else
one in peanut's state directory, which keeps the last ``LOGS_KEPT``). Then the TUI opens, or the commands of
``--script FILE`` run one per line (for CI). At the end the process is stopped:
walked down to DONE with OCC transitions, then SIGTERM, SIGINT, SIGKILL to its process group, unless
``--detach`` leaves it running.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecs_engine.errors import ExitStatus, HandledError, UnreachableError, UsageError
from ecs_engine.occ import launch
from ecs_engine.occ.client import OccClient
from ecs_engine.occ.errors import seconds
from ecs_engine.occ.options import DEFAULT_CONTROL_HOST as LOCALHOST
from ecs_engine.occ.serving import port_in_use

from .commands import check_quoted, run_command
from .control import ProcessControl, transport
from .inputs import read_text
from .output import Output
from .parser import build_parser, misplaced_flag

if TYPE_CHECKING:
    from .tui import TuiIO


def run_exec(
    options: argparse.Namespace, out: Output, config: Mapping[str, str], timeout: float, tui: TuiIO | None = None
) -> ExitStatus:
    command = list(options.process)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("exec: no command to run", hint="peanut exec [--port P] -- CMD ARGS...")
    return asyncio.run(
        exec_async(
            command,
            port=options.port,
            mode=options.mode,
            timeout=timeout,
            script=options.script,
            detach=options.detach,
            log=options.log,
            out=out,
            config=config,
            tui=tui,
        )
    )


async def exec_async(
    command: list[str],
    *,
    port: int | None,
    mode: str | None,
    timeout: float,
    script: str | None,
    detach: bool,
    log: str | None,
    out: Output,
    config: Mapping[str, str],
    tui: TuiIO | None = None,
) -> ExitStatus:
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"exec --port {port}: expected a port number from 1 to 65535")
    if port is not None and port_in_use(LOCALHOST, port):  # CMD would fail naming its own flag, which peanut sets
        raise UsageError(
            f"exec --port {port}: the port is in use by another process",
            hint="give another --port (or none: peanut picks a free one), or stop the process that has it",
        )
    lines = read_script(Path(script)) if script else None  # bad input is found before anything is started
    if lines is None:
        from .tui import require_terminal

        require_terminal(tui)
    port = port or launch.free_port()
    name = Path(command[0]).name or "process"
    log_path = Path(log) if log else default_log(f"{name}-{port}.log")
    try:
        log_path.open("ab").close()
    except OSError as exc:
        raise UsageError(f"exec --log {log}: {exc.strerror or exc}") from None
    child = launch.start(command, port=port, log_path=log_path)
    out.note(f"peanut: started {shlex.join(child.command)} (pid {child.process.pid}); output in {log_path}")
    ours = False  # only the started process may be walked down to DONE at the end
    try:
        waiting = asyncio.ensure_future(launch.wait_answering(child, timeout, transport(mode) if mode else None))
        if not (await asyncio.wait({waiting}, timeout=WAITING_NOTE_AFTER))[0]:
            out.note(f"peanut: waiting for {name} to answer on port {port} (up to {seconds(timeout)} s)")
        detected = await waiting
        await _check_answered_by(child, detected, timeout)
        ours = True
        mode = mode or detected
        out.note(f"peanut: {child.address} answers ({mode})")
        if lines is not None:
            try:
                return await run_script(lines, child.address, mode, timeout, out, config)
            except HandledError as exc:
                exc.message += await last_words(child, exc.exit_status)
                raise
        from .tui import PeanutTUI

        words = functools.partial(last_words, child)
        return await PeanutTUI(child.address, mode, timeout, config=dict(config), io=tui, last_words=words).run()
    finally:
        if detach and child.alive():
            child.close_log()
            out.note(f"peanut: left running: pid {child.process.pid}, control port {port}")
        else:
            code = await launch.stop(child, use_occ=ours)
            out.note(f"peanut: stopped the process ({launch.exit_text(code)})")


async def last_words(child: launch.Child, status: ExitStatus) -> str:
    """What ends the error of a step that failed (exit 1) or lost the process (exit 3), in a script or the TUI:
    the process's last output, which says why ("" otherwise)."""
    if status == ExitStatus.UNREACHABLE:  # its last words come as it ends, after its port
        await child.wait_exit(LAST_WORDS_WAIT)
    return child.last_output() if status in (ExitStatus.FAILED, ExitStatus.UNREACHABLE) else ""


async def _check_answered_by(child: launch.Child, mode: str, timeout: float) -> None:
    """Refuse a port answered by another process (one that listened there first): peanut would drive it."""
    async with OccClient(child.address, mode, timeout=timeout) as client:
        pid = (await client.get_state()).pid
    if pid and not _descends_from(pid, child.pid):
        raise UnreachableError(
            f"port {child.port} is answered by pid {pid}, not the started process (pid {child.pid}): "
            "is another process on that port?"
        )


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``pid`` is ``ancestor`` or one of its descendants (it started in the session peanut made)."""
    try:
        return pid == ancestor or os.getsid(pid) == ancestor
    except OSError:  # no such process here (another host, another pid namespace)
        return False


FLAG_IN_SCRIPT = "{flag}: flags go on peanut's command line before exec, not in a script"
LOGS_KEPT = 20
LAST_WORDS_WAIT = 2.0  # seconds a process that went away during a step is given to end (and say why) first
WAITING_NOTE_AFTER = 2.0  # seconds of silence before exec says what it waits for


def default_log(name: str) -> Path:
    """A log in peanut's state directory (not /tmp); the oldest go once more than ``LOGS_KEPT`` are there."""
    import platformdirs

    directory = platformdirs.user_state_path("peanut") / "exec"
    directory.mkdir(parents=True, exist_ok=True)
    logs = sorted(directory.glob("*.log"), key=lambda path: path.stat().st_mtime)
    for old in logs[: max(len(logs) - LOGS_KEPT + 1, 0)]:
        old.unlink(missing_ok=True)
    return directory / name


@dataclass(frozen=True)
class ScriptLine:
    where: str  # file:line, for messages
    text: str
    options: argparse.Namespace


def read_script(path: Path) -> list[ScriptLine]:
    """The commands of a script, one per line (``#`` comments); any bad line is a usage error naming file:line."""
    lines = read_text(path, f"exec --script {path}").splitlines()
    parser = build_parser()
    commands = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            words = shlex.split(text)
            if words[0].startswith("-"):  # they would be parsed and then ignored: the script's flags are exec's
                raise UsageError(FLAG_IN_SCRIPT.format(flag=words[0]))
            try:
                options = parser.parse_args(words)
            except UsageError:
                misplaced = misplaced_flag(parser, words)
                if misplaced is None:
                    raise
                raise UsageError(FLAG_IN_SCRIPT.format(flag=misplaced[0])) from None
            if options.command == "exec":
                raise UsageError(f"expected a peanut command (get-state, transition, ...), got {text!r}")
            if options.command == "fmq-step":
                check_quoted([options.first, options.second, *options.assignments])
        except ValueError as exc:  # shlex
            raise UsageError(f"{where}: {exc}") from None
        except HandledError as exc:
            exc.message = f"{where}: {exc.message}"
            raise
        commands.append(ScriptLine(where, text, options))
    return commands


async def run_script(
    lines: list[ScriptLine], address: str, mode: str, timeout: float, out: Output, config: Mapping[str, str]
) -> ExitStatus:
    """Run the script's commands in order; the first failure stops the script with its status."""
    for line in lines:
        out.note(f"peanut: {line.where}: {line.text}")
        try:
            await run_command(ProcessControl(address, mode, timeout=timeout), line.options, out, config)
        except HandledError as exc:
            exc.message = f"{line.where}: {exc.message}"
            raise
    return ExitStatus.OK
