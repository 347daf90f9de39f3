"""The stores offline commands work on, opened from the settings: the configuration store
(``config_endpoint``, default SQLite in the user data directory) and the template repositories kept there.
Stores are opened by the backends of the process-wide plugin manager (``ecs_engine.plugins``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .context import CliContext

if TYPE_CHECKING:
    from ecs_engine.config import Configuration
    from ecs_engine.repos import RepoManager


def default_config_url(cli: CliContext) -> str:
    """The store ``config_endpoint`` "" stands for (``open_store``'s default), for commands that show it."""
    return f"sqlite:///{cli.data_dir / 'config.sqlite'}"


def open_config(cli: CliContext, url: str | None = None) -> Configuration:
    """The store at ``url``, else the configured one; use it as a context manager (it closes the store)."""
    from ecs_engine.config import Configuration
    from ecs_engine.plugins import backends

    return Configuration.open(url or cli.settings.get("config_endpoint") or None, backends(), data_dir=cli.data_dir)


@contextlib.contextmanager
def open_repos(cli: CliContext) -> Iterator[RepoManager]:
    """The template repositories of the user data directory; their defaults live in the configuration store."""
    from ecs_engine.repos import RepoManager
    from ecs_engine.server.sources import EXAMPLES, installed_examples

    ssh_key = cli.settings.get("repos_ssh_key")
    with open_config(cli) as config:
        yield RepoManager(
            cli.data_dir,
            config,
            global_default_revision=cli.settings.get("global_default_revision") or "master",
            ssh_key=Path(ssh_key).expanduser() if ssh_key else None,
            builtin=EXAMPLES if installed_examples() is not None else "",  # 'coconut repo list' lists them last
        )
