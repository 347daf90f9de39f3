"""Fixtures: the example OCC process and the FairMQ-like device, started for one test and stopped after it."""

from __future__ import annotations

import asyncio

import pytest

from ecs_engine.occ import launch
from tests.peanut.processes import DEVICE, DUMMY, started


@pytest.fixture(autouse=True)
def own_state_directory(tmp_path, monkeypatch):
    """``peanut exec`` without ``--log`` writes its log to the state directory: this test's, not the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def occ_process(tmp_path):
    """The example OCC process (direct mode); its configuration tree is dumped to ``child.dump``."""
    dump = tmp_path / "config.json"
    child = started([*DUMMY, "--config-dump", str(dump)], tmp_path / "occ.log")
    child.dump = dump
    yield child
    asyncio.run(launch.stop(child))


@pytest.fixture
def fmq_device(tmp_path):
    child = started(DEVICE, tmp_path / "device.log")
    yield child
    asyncio.run(launch.stop(child))
