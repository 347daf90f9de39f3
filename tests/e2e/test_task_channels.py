"""Acceptance: a task class whose own channel is written with the class's variables deploys as it plans."""

from __future__ import annotations

import re

import pytest

from tests.waiting import eventually

from .conftest import remember

pytestmark = pytest.mark.slow

PRODUCER = """\
name: producer
defaults:
  chan_type: push
control:
  mode: direct
bind:
  - name: out
    type: "{{ chan_type }}"
command:
  stdout: stdout
  value: python3
  arguments: ["-m", "ecs_engine.examples.producer"]
"""

CONSUMER = """\
name: consumer
control:
  mode: direct
command:
  stdout: stdout
  value: python3
  arguments: ["-m", "ecs_engine.examples.consumer"]
"""

WORKFLOW = """\
name: typed
roles:
  - name: producer
    task: {load: producer}
  - name: consumer
    connect: [{name: in, type: pull, target: "typed.producer:out"}]
    task: {load: consumer}
"""


def test_a_channel_typed_by_a_class_default_is_planned_and_deployed_alike(coconut, repo):
    repo.task("producer", PRODUCER)
    repo.task("consumer", CONSUMER)
    repo.workflow("typed", WORKFLOW)
    planned = coconut("template", "plan", "-w", "typed", "--repo", str(repo.root), "-o", "json").json()
    producer = next(t for t in planned["tasks"] if t["class"] == "producer")
    assert [(c["name"], c["type"]) for c in producer["bind"]] == [("out", "push")]

    created = coconut("env", "create", "-w", "typed", "--repo", str(repo.root), "-o", "json").json()["environment"]
    assert created["state"] == "CONFIGURED"
    coconut("env", "control", created["id"], "-e", "START")
    (consumer,) = [t for t in remember(coconut) if t["className"].split("/")[-1].startswith("consumer")]
    eventually(
        lambda: re.search(
            r"received [1-9]\d* messages", coconut("task", "logs", consumer["taskId"], "-s", "stdout").out
        ),
        what="data flowing over the channel",
    )
    coconut("env", "control", created["id"], "-e", "STOP")
    coconut("env", "destroy", created["id"])
