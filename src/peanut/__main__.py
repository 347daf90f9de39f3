"""Entry point of the ``peanut`` command."""

import sys


def main() -> None:
    from coconut.run_main import flushed

    from .cli import main as run

    sys.exit(flushed(run()))


if __name__ == "__main__":
    main()
