"""Fixtures: the same tests run against every configuration backend.

``make_config(tree)`` builds a Configuration holding ``tree`` (a nested map rooted at ``o2``) on the
backend of the test's parameter; ``writable_store`` is an empty writable store per backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from ecs_engine.config import Configuration, KeyValueStore, open_store
from ecs_engine.config.configuration import tree_root
from ecs_engine.config.tree import flatten

WRITABLE = ["memory"]
READABLE = [*WRITABLE, "file"]


def _open(backend: str, tmp_path: Path) -> KeyValueStore:
    if backend == "memory":
        return open_store("memory://")
    raise AssertionError(backend)


@pytest.fixture(params=WRITABLE)
def writable_store(request, tmp_path) -> Iterator[KeyValueStore]:
    store = _open(request.param, tmp_path)
    yield store
    store.close()


@pytest.fixture(params=READABLE)
def make_config(request, tmp_path) -> Iterator[Callable[[dict], Configuration]]:
    opened: list[Configuration] = []

    def make(tree: dict) -> Configuration:
        if request.param == "file":
            path = tmp_path / f"config{len(opened)}.yaml"
            path.write_text(yaml.safe_dump(tree))
            cfg = Configuration.open(f"file://{path}")
        else:
            store = _open(request.param, tmp_path)
            store.put_many(flatten(tree_root(tree, "test tree")))
            cfg = Configuration(store)
        opened.append(cfg)
        return cfg

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for cfg in opened:
        cfg.close()
