"""What a coconut command runs with: streams, directories, process environment, global flags, settings.

Injected (HTTPie style), so tests run the CLI in-process with their own streams and directories.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

APP_NAME = "coconut"


#: coconut's directories of each kind: the XDG variable naming their base, and its default under the home
_XDG = {
    "config": ("XDG_CONFIG_HOME", "~/.config"),
    "data": ("XDG_DATA_HOME", "~/.local/share"),
    "state": ("XDG_STATE_HOME", "~/.local/state"),
}


def user_dir(kind: str) -> Path:
    """coconut's ``config``, ``data`` or ``state`` directory, as platformdirs names it (and the core reads it).

    On Linux read from the environment as platformdirs does there (importing it was ~4 ms of every command's
    start, issue 19); elsewhere, or without an absolute home, platformdirs itself.
    """
    variable, default = _XDG[kind]
    base = os.environ.get(variable, "")
    if not os.path.isabs(base) and os.path.isabs(os.environ.get("HOME", "")):
        base = os.path.expanduser(default)
    if sys.platform != "linux" or not os.path.isabs(base):
        import platformdirs

        return Path(getattr(platformdirs, f"user_{kind}_path")(APP_NAME))
    return Path(base, APP_NAME)


@dataclass
class CliContext:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    config_dir: Path = field(default_factory=lambda: user_dir("config"))
    data_dir: Path = field(default_factory=lambda: user_dir("data"))
    state_dir: Path = field(default_factory=lambda: user_dir("state"))
    cwd: Path = field(default_factory=Path.cwd)
    # Filled by the global options callback.
    debug: bool = False
    color: bool | None = None
    spinner: bool = True
    verbose: bool = False
    settings_file: Path | None = None  # --config
    options: dict[str, Any] = field(default_factory=dict)  # settings given as flags (None: not given)

    @cached_property
    def console(self) -> Console:
        return self._console(self.stdout)

    @cached_property
    def err_console(self) -> Console:
        return self._console(self.stderr)

    def _console(self, file: TextIO) -> Console:
        from rich.console import Console

        return Console(file=file, no_color=self.color is False, highlight=False, soft_wrap=True)

    def echo(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self.stderr.write(text + "\n")

    @cached_property
    def settings(self) -> Settings:
        settings = Settings.load(
            self.config_dir, path=self.settings_file, cwd=self.cwd, environ=self.environ, options=self.options
        )
        for warning in settings.layers.warnings:
            self.error(f"coconut: warning: {warning}")
        return settings
