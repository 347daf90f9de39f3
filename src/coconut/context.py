"""What a coconut command runs with: streams, directories, process environment, global flags, settings.

Injected (HTTPie style), so tests run the CLI in-process with their own streams and directories.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
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


class CliContext:
    """A plain class, not a dataclass: a dataclass's generated methods are compiled at import, ~3M instructions
    of each command's cold start (issue 19). Every argument is a keyword; the directories default to the
    user's (platformdirs), the streams and environment to the process's."""

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        config_dir: Path | None = None,
        data_dir: Path | None = None,
        state_dir: Path | None = None,
        cwd: Path | None = None,
        debug: bool = False,
        color: bool | None = None,
        spinner: bool = True,
        verbose: bool = False,
        settings_file: Path | None = None,
        options: dict[str, Any] | None = None,
    ):
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.stdin = sys.stdin if stdin is None else stdin
        self.environ = os.environ if environ is None else environ
        self.config_dir = _config_dir() if config_dir is None else config_dir
        self.data_dir = _data_dir() if data_dir is None else data_dir
        self.state_dir = _state_dir() if state_dir is None else state_dir
        self.cwd = Path.cwd() if cwd is None else cwd
        # Filled by the global options callback.
        self.debug = debug
        self.color = color
        self.spinner = spinner
        self.verbose = verbose
        self.settings_file = settings_file  # --config
        self.options: dict[str, Any] = {} if options is None else options  # settings given as flags (None: not given)

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
