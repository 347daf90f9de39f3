"""Run numbers: compare-and-set under 8 concurrent writers never hands out a number twice or skips one."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from ecs_engine.config import Configuration, open_store
from ecs_engine.errors import ConfigurationError
from ecs_engine.plugins import backends

WRITERS = 8
EACH = 25


def test_first_run_number_is_one_and_counter_persists(writable_store):
    cfg = Configuration(writable_store)
    assert [cfg.next_run_number() for _ in range(3)] == [1, 2, 3]
    assert writable_store.get("runtime/run_number") == "3"


def test_eight_threads_get_distinct_consecutive_numbers(writable_store):
    cfg = Configuration(writable_store)
    writable_store.put("runtime/run_number", "100")
    results: list[list[int]] = [[] for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def allocate(slot: int) -> None:
        start.wait(10)
        results[slot] = [cfg.next_run_number() for _ in range(EACH)]

    threads = [threading.Thread(target=allocate, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    numbers = [n for chunk in results for n in chunk]
    assert sorted(numbers) == list(range(101, 101 + WRITERS * EACH))
    for chunk in results:
        assert chunk == sorted(chunk)  # each writer sees its numbers strictly increase


ALLOCATE = """
import sys
from ecs_engine.config import Configuration
from ecs_engine.plugins import backends
cfg = Configuration.open(sys.argv[1], backends())
print("ready", flush=True)
sys.stdin.readline()  # start together
print(" ".join(str(cfg.next_run_number()) for _ in range(int(sys.argv[2]))), flush=True)
cfg.close()
"""


@pytest.mark.parametrize("backend", ["sqlite", "etcd"])
def test_eight_processes_get_distinct_consecutive_numbers(backend, request, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    else:
        url = f"etcd://{request.getfixturevalue('etcd_server').endpoint}/run-numbers-{tmp_path.name}/"
    with open_store(url, backends()) as store:  # create the database (its first write) / check the server first
        assert store.get("runtime/run_number") is None
        store.put("runtime/aliecs/defaults/race", "")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", ALLOCATE, url, str(EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WRITERS)
    ]
    for process in processes:  # every writer has imported and connected...
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    for process in processes:  # ...then all start at once
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    numbers = [int(n) for out, _ in outputs for n in out.split()]
    assert sorted(numbers) == list(range(1, WRITERS * EACH + 1))
    with open_store(url, backends()) as store:
        assert store.get("runtime/run_number") == str(WRITERS * EACH)


def test_a_corrupt_counter_is_reported_not_reset(writable_store):
    writable_store.put("runtime/run_number", "twelve")
    with pytest.raises(ConfigurationError, match="runtime/run_number' holds 'twelve', expected a run number"):
        Configuration(writable_store).next_run_number()
    assert writable_store.get("runtime/run_number") == "twelve"


def test_read_only_store_refuses_run_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("o2: {runtime: {run_number: '5'}}\n")
    with pytest.raises(ConfigurationError, match="is read-only"):
        Configuration.open(f"file://{path}", backends()).next_run_number()
