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


def _config_dir() -> Path:
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def _data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def _state_dir() -> Path:
    import platformdirs

    return platformdirs.user_state_path(APP_NAME)


@dataclass
class CliContext:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    config_dir: Path = field(default_factory=_config_dir)
    data_dir: Path = field(default_factory=_data_dir)
    state_dir: Path = field(default_factory=_state_dir)
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
