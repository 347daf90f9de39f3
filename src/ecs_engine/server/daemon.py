"""Running the core in the background: start it detached, wait until it answers, stop it by its pid file.

Stopping signals the process the pid file names only while that pid is still the core (same start time), and
through a pidfd, so neither a pid reused after the core died nor one reused meanwhile gets the signal.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.errors import DeadlineError, HandledError, RefusedError, UnreachableError, UsageError

from .core import LOGFILE, read_pidfile

START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0  # the core kills its tasks first: up to ~15 s of escalation each, in parallel
#: how the core's ``main()`` reports the error it exits with, on a line of its log (its stderr)
ERROR_PREFIX = "core: error: "
#: the errors a core that exits while starting is reported as, by its exit status
STATUS_ERRORS = (UsageError, UnreachableError, DeadlineError, RefusedError)


@dataclass
class Started:
    pid: int
    endpoint: str
    log_path: Path


def log_tail(path: Path, lines: int = 15, *, since: int = 0) -> str:
    """The last ``lines`` lines of the log, of what was written past byte ``since``."""
    try:
        with open(path, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start_failure(code: int, log_path: Path, since: int = 0) -> HandledError:
    """Why the core exited while starting: the error it reported (``ERROR_PREFIX``; its log past byte ``since``), of
    the class of its exit status (a bad setting or store URL: a usage error, exit 2, as in any command), else the
    end of its log."""
    lines = log_tail(log_path, since=since).splitlines()
    said = [i for i, line in enumerate(lines) if line.startswith(ERROR_PREFIX)]
    if not said:
        tail = "\n".join(lines)
        return HandledError(
            f"the core exited with code {code} while starting" + (f"; its log ends with:\n{tail}" if tail else ""),
            hint=f"full log: {log_path}",
        )
    message, *rest = lines[said[-1] :]
    hints = [line.strip().removeprefix("hint: ") for line in rest if line.strip().startswith("hint: ")]
    body = [line for line in rest if not line.strip().startswith("hint: ")]
    cls = next((c for c in STATUS_ERRORS if c.exit_status == code), HandledError)
    return cls(
        "\n".join([f"the core could not start: {message.removeprefix(ERROR_PREFIX)}", *body]),
        hint="; ".join([*hints, f"full log: {log_path}"]),
    )


def start(
    *,
    endpoint: str,
    data_dir: Path,
    state_dir: Path,
    settings_path: Path | None,
    timeout: float = START_TIMEOUT,
    tls_ca: str = "",
    config_endpoint: str = "",
) -> Started:
    """Start ``python -m ecs_engine.server`` detached and wait until it answers at ``endpoint``.

    ``tls_ca``: the certificate to trust when the core listens with TLS (setting ``tls_ca``).
    ``config_endpoint``: the configuration store the core opens instead of its settings' (``--config-endpoint``).
    """
    from .client import CoreClient

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = state_dir / LOGFILE
    argv = [
        sys.executable,
        "-m",
        "ecs_engine.server",
        "--data-dir",
        str(data_dir),
        "--state-dir",
        str(state_dir),
        "--listen",
        endpoint,
    ]
    if settings_path is not None:
        argv += ["--settings", str(settings_path)]
    if config_endpoint:
        argv += ["--config-endpoint", config_endpoint]
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        since = log.seek(0, os.SEEK_END)  # what this start writes follows
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )
    deadline = time.monotonic() + timeout
    with CoreClient(endpoint, timeout=1.0, tls_ca=tls_ca) as client:
        while True:
            code = process.poll()
            if code is not None:
                raise start_failure(code, log_path, since)
            running = read_pidfile(state_dir)
            if running is not None and running.get("pid") == process.pid and client.answers(0.5):
                return Started(process.pid, endpoint, log_path)
            if time.monotonic() > deadline:
                process.terminate()
                raise DeadlineError(
                    f"the core did not answer at {endpoint} within {timeout:g} s of starting",
                    hint=f"see its log: {log_path}",
                )
            time.sleep(0.05)


def stop(state_dir: Path, *, timeout: float = STOP_TIMEOUT) -> dict | None:
    """SIGTERM the core of ``state_dir`` and wait until it is gone; its pid-file data, None if none ran."""
    running = read_pidfile(state_dir)
    if running is None:
        return None
    pid = int(running["pid"])
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return running
    try:
        if read_pidfile(state_dir) is None:  # gone before the pidfd was opened: the pidfd is another process's
            return running
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        ended, _, _ = select.select([pidfd], [], [], timeout)  # readable once the process has ended
    finally:
        os.close(pidfd)
    if not ended:
        raise DeadlineError(
            f"the core (pid {pid}) did not stop within {timeout:g} s of SIGTERM",
            hint=f"it may still be killing tasks; see {state_dir / LOGFILE}, or kill -9 {pid}",
        )
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # our own child (a core started by this process): reap it
    return running
