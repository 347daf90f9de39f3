"""The core as a systemd service: its unit file, where it goes, and the readiness notification the unit waits for.

The unit runs ``python -m ecs_engine.server`` as ``coconut core start`` does, as ``Type=notify``: the core sends
``READY=1`` on ``$NOTIFY_SOCKET`` once it answers (written here, a datagram: no new dependency), ``STOPPING=1``
when SIGTERM arrives; signals go to the core alone (``KillMode=process``): on a stop it kills its tasks in order
itself, and after a crash its live tasks stay for the core ``Restart=on-failure`` brings back to re-attach to
(``mixed`` or ``control-group`` would kill them before the restart). Logs go to journald.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "coconut-core.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
#: where a system service keeps its directories (systemd's StateDirectory=, created 0700 for its user)
SYSTEM_STATE_ROOT = Path("/var/lib")
SYSTEM_DIRECTORIES = ("coconut/data", "coconut/state")
STOP_TIMEOUT = "90s"  # the core kills its tasks first (daemon.STOP_TIMEOUT is 60 s)


def user_unit_dir() -> Path:
    """``~/.config/systemd/user`` (``$XDG_CONFIG_HOME``), where the user's systemd reads units."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


@dataclass(frozen=True)
class Unit:
    """What the unit runs: directories, settings and endpoint; ``system``: a system service run as ``user``."""

    data_dir: Path
    state_dir: Path
    system: bool = False
    user: str = ""  # system services only: the account the core runs as
    settings_file: Path | None = None
    listen: str = ""
    python: str = sys.executable

    def command(self) -> list[str]:
        argv = [self.python, "-m", "ecs_engine.server", "--data-dir", str(self.data_dir)]
        argv += ["--state-dir", str(self.state_dir)]
        if self.settings_file is not None:
            argv += ["--settings", str(self.settings_file)]
        if self.listen:
            argv += ["--listen", self.listen]
        return argv

    def render(self) -> str:
        service = [
            "Type=notify",
            "NotifyAccess=main",
            f"ExecStart={exec_line(self.command())}",
            "Restart=on-failure",
            "RestartSec=5s",
            "# process, not mixed: after a crash the tasks in this cgroup stay for the restarted core to re-attach to;",
            "# a stop is the core's own (on SIGTERM it kills every task, then exits)",
            "KillMode=process",
            f"TimeoutStopSec={STOP_TIMEOUT}",
            "UMask=0077",
            "Environment=PYTHONUNBUFFERED=1",
            "StandardOutput=journal",
            "StandardError=journal",
            "SyslogIdentifier=coconut-core",
        ]
        if self.system:
            service += [
                f"User={self.user}",
                f"StateDirectory={' '.join(SYSTEM_DIRECTORIES)}",
                "StateDirectoryMode=0700",
            ]
        unit = ["[Unit]", "Description=coconut core (experiment control system)"]
        if self.system:  # the user manager has no network-online.target
            unit += ["After=network-online.target", "Wants=network-online.target"]
        lines = [
            *unit,
            "",
            "[Service]",
            *service,
            "",
            "[Install]",
            f"WantedBy={'multi-user.target' if self.system else 'default.target'}",
        ]
        return "\n".join(lines) + "\n"


def system_directories() -> tuple[Path, Path]:
    """A system service's data and state directories (systemd creates them, its user's alone)."""
    data, state = SYSTEM_DIRECTORIES
    return SYSTEM_STATE_ROOT / data, SYSTEM_STATE_ROOT / state


def exec_line(argv: Sequence[str]) -> str:
    """``argv`` as an ExecStart= value: each word quoted if it must be, ``%`` (a specifier) doubled."""
    words = []
    for word in argv:
        word = word.replace("%", "%%")
        if not word or any(c.isspace() or c in "\"'\\;$" for c in word):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(word)
    return " ".join(words)


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (``READY=1``...) to the service manager at ``$NOTIFY_SOCKET``; False if there is none.

    One datagram that never waits (the core's event loop calls it); an abstract socket is named ``@...``.
    """
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True
