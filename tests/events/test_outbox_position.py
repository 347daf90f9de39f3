"""The outbox's delivered position: written lazily while events flow (an fsync costs milliseconds on the
delivery path), exactly once delivery stops, never ahead of what the publisher took."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from ecs_engine.events import EventBus, model
from ecs_engine.events import outbox as outbox_module
from ecs_engine.events.journal import EventJournal, JournalEntry
from ecs_engine.events.outbox import Outbox
from tests.waiting import eventually


class Recording:
    """A publisher that takes every batch (a millisecond each) and remembers the sequence numbers."""

    name = "recording"
    endpoint = "memory"

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.batches = 0

    def prepare(self) -> None:
        pass

    def probe(self) -> None:
        pass

    def send(self, entries: Sequence[JournalEntry]) -> None:
        time.sleep(0.001)
        self.seqs.extend(e.seq for e in entries)
        self.batches += 1

    def close(self) -> None:
        pass


def test_the_position_is_written_at_most_twice_a_second_while_events_flow_and_exactly_when_idle(tmp_path, monkeypatch):
    position = tmp_path / "position.json"
    writes: list[int] = []
    replace = os.replace

    def counting(src, dst):
        if str(dst) == str(position):
            writes.append(json.loads(Path(src).read_text())["delivered_seq"])
        replace(src, dst)

    monkeypatch.setattr(outbox_module.os, "replace", counting)
    journal = EventJournal(tmp_path / "events.sqlite")
    bus = EventBus()
    bus.add_sink(journal)
    publisher = Recording()
    outbox = Outbox(journal, publisher, position)
    outbox.start(bus)
    try:
        started = time.monotonic()
        for burst in range(150):  # about 1.5 s of events, a delivery batch or more each
            for i in range(20):
                bus.publish(model.task_event("env", name="t", task_id=f"{burst}.{i}", state="RUNNING", status="ACTIVE"))
            bus.flush()
            time.sleep(0.01)
        flowing = time.monotonic() - started
        last = journal.last_seq()
        eventually(lambda: outbox.status().delivered_seq == last)
        eventually(lambda: writes and writes[-1] == last)  # idle: the file holds the last delivered event
        assert publisher.seqs == list(range(publisher.seqs[0], last + 1))
        assert publisher.batches > 50
        assert len(writes) <= flowing / outbox_module.SAVE_EVERY + 3, (len(writes), publisher.batches)
        assert writes == sorted(writes)  # never moves back
        assert json.loads(position.read_text())["delivered_seq"] == last
    finally:
        outbox.close()
        journal.close()
