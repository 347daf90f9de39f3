"""Entry point of the ``coconut`` command."""

import os
import sys


def main() -> None:
    # Plain help and usage errors: typer's rich formatting costs ~90 ms of start-up (target: --help < 250 ms).
    os.environ.setdefault("TYPER_USE_RICH", "0")
    from .cli import main as run

    sys.exit(run())


if __name__ == "__main__":
    main()
