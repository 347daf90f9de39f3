"""``python -m ecs_engine.server``: run the core in the foreground (``coconut core start`` runs this detached)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ecs_engine.errors import HandledError

from .core import run
from .daemon import ERROR_PREFIX
from .settings import CoreSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecs_engine.server", description=__doc__)
    parser.add_argument(
        "--settings",
        type=Path,
        help="the user's settings file (default ~/.config/coconut/settings.yaml), between /etc/coconut/settings.yaml "
        "and ./coconut.yaml; COCONUT_* variables override them all",
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="environments, tasks, configuration store")
    parser.add_argument("--state-dir", type=Path, required=True, help="pid file, log, task output files")
    parser.add_argument("--listen", help="host:port to serve on (default: the settings' endpoint)")
    parser.add_argument("--config-endpoint", help="configuration store URL (default: the settings' config_endpoint)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = CoreSettings.load(
            args.settings, data_dir=args.data_dir, state_dir=args.state_dir, listen=args.listen
        )
        if args.config_endpoint:
            settings.config_endpoint = args.config_endpoint
        run(settings)
    except HandledError as exc:
        sys.stderr.write(f"{ERROR_PREFIX}{exc.render()}\n")
        return int(exc.exit_status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
