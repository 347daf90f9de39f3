"""The built-in example templates and tasks (``examples/`` of the source tree).

A wheel carries a copy of ``examples/`` as the package data ``data/`` (setup.py puts it there); a source checkout
or an editable install has none and reads ``examples/`` of the checkout.
"""

from __future__ import annotations

from pathlib import Path

from ecs_engine.errors import NotFoundError

_PACKAGED = Path(__file__).resolve().parent / "data"
_CHECKOUT = Path(__file__).resolve().parents[3] / "examples"


def examples_dir() -> Path:
    """The examples repository: ``workflows/`` and ``tasks/`` that run on one machine."""
    for candidate in (_PACKAGED, _CHECKOUT):
        if (candidate / "workflows").is_dir():
            return candidate
    raise NotFoundError("the built-in examples are not installed; pass --repo DIR")


def site_file() -> Path:
    """The documented site file: the defaults, inventory and payloads the real AliECS templates read
    (``coconut config init`` writes it into the configuration store)."""
    return examples_dir() / "site.yaml"
