"""Fixtures: the same tests run against every configuration backend.

``make_config(tree)`` builds a Configuration holding ``tree`` (a nested map rooted at ``o2``) on the
backend of the test's parameter (memory, sqlite, file, etcd); ``writable_store`` is an empty writable
store per backend. etcd is a real server started once per session on loopback (not installed: skipped,
or a failure with CI=true; see tests/servers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml

from ecs_engine.config import Configuration, KeyValueStore, open_store
from ecs_engine.config.configuration import tree_root
from ecs_engine.config.tree import flatten
from ecs_engine.plugins import backends

from ..servers import need_program
from .etcd_server import EtcdServer, start_etcd

WRITABLE = ["memory", "sqlite", "etcd"]
READABLE = [*WRITABLE, "file"]


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory) -> Iterator[EtcdServer]:
    need_program("etcd", "etcd-server")
    server = start_etcd(tmp_path_factory.mktemp("etcd"))
    yield server
    server.stop()


def open_empty(backend: str, request: pytest.FixtureRequest, tmp_path) -> KeyValueStore:
    """An empty store of ``backend`` (etcd: the session's server, emptied; tests do not run in parallel)."""
    if backend == "memory":
        return open_store("memory://", backends())
    if backend == "sqlite":
        tmp_path.mkdir(parents=True, exist_ok=True)  # a store's directory must exist (it is not made for it)
        return open_store(f"sqlite:///{tmp_path / 'config.sqlite'}", backends())
    if backend == "etcd":
        store = open_store(f"etcd://{request.getfixturevalue('etcd_server').endpoint}", backends())
        for key in store.get_tree(""):
            store.delete(key)
        return store
    raise AssertionError(backend)


@pytest.fixture(params=WRITABLE)
def writable_store(request, tmp_path) -> Iterator[KeyValueStore]:
    store = open_empty(request.param, request, tmp_path)
    yield store
    store.close()


@pytest.fixture(params=READABLE)
def make_config(request, tmp_path) -> Iterator[Callable[[dict], Configuration]]:
    opened: list[Configuration] = []

    def make(tree: dict) -> Configuration:
        if request.param == "file":
            path = tmp_path / f"config{len(opened)}.yaml"
            path.write_text(yaml.safe_dump(tree))
            cfg = Configuration.open(f"file://{path}", backends())
        else:
            cfg = Configuration(open_empty(request.param, request, tmp_path / str(len(opened))))
            cfg.store.put_many(flatten(tree_root(tree, "test tree")))
        opened.append(cfg)
        return cfg

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for cfg in opened:
        cfg.close()
