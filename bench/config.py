"""Configuration store rates: get, resolve, rendered get and run-number CAS on memory, SQLite and a real etcd.

For each backend: plain ``get`` of a payload; ``resolve`` that falls through all four candidates to
ANY/any; ``get_component(process=True)`` (read + cached template render); ``next_run_number``
by one writer, and by 8 threads at once (compare-and-set with retries). The in-memory store is the floor:
each rate is printed with its ratio to the same operation on memory. etcd is started on loopback (Debian
``etcd-server``); it is skipped with a message if the binary is missing. For etcd, the store's get is also
compared with a bare aetcd client awaiting gets in its own event loop (the cost of the sync bridge).

Run: .venv/bin/python bench/config.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the test helper that starts etcd

from ecs_engine.config import Configuration, open_store  # noqa: E402
from ecs_engine.plugins import backends  # noqa: E402

HOSTS = 200
WRITERS = 8
#: the backends of the one plugin manager of the benchmark: every store is opened with them
BACKENDS = backends()


def seed(cfg: Configuration) -> None:
    """A site-sized tree: 200 FLPs in 4 detectors, their readout payloads, defaults and a few templates."""
    items = {f"hardware/detectors/D{h % 4}/flps/flp{h:03d}/": "" for h in range(HOSTS)}
    items.update(
        {f"components/readout/ANY/any/readout-stfb-flp{h:03d}": "[readout]\nrate=10\n" * 20 for h in range(HOSTS)}
    )
    items.update({f"runtime/aliecs/defaults/var{i}": str(i) for i in range(50)})
    items["components/qc/ANY/any/main"] = (
        "{% for i in range(10) %}task{{ i }}={{ host }}\n{% endfor %}{% include 'x' %}"
    )
    items["components/qc/ANY/any/x"] = "common={{ det|default:'TST' }}\n"
    cfg.store.put_many(items)


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second over about ``seconds`` (after one warm-up call)."""
    operation()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            operation()
        count += 20
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def contended_cas(cfg: Configuration, seconds: float) -> float:
    """Run numbers per second handed out to 8 threads allocating at once."""
    done = [0] * WRITERS
    stop = threading.Event()

    def allocate(slot: int) -> None:
        while not stop.is_set():
            cfg.next_run_number()
            done[slot] += 1

    threads = [threading.Thread(target=allocate, args=(n,)) for n in range(WRITERS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)  # the measuring window itself, not a wait for a condition
    stop.set()
    for thread in threads:
        thread.join(60)
    return sum(done) / (time.perf_counter() - start)


def raw_etcd_get_rate(port: int, seconds: float) -> float:
    """The floor for etcd: gets awaited one after the other by a bare aetcd client in its own loop."""
    import asyncio

    import aetcd

    async def run() -> float:
        async with aetcd.Client(host="127.0.0.1", port=port) as client:
            key = b"o2/components/readout/ANY/any/readout-stfb-flp100"
            await client.get(key)
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                await client.get(key)
                count += 1
            return count / (time.perf_counter() - start)

    return asyncio.run(run())


def measure(cfg: Configuration, seconds: float) -> dict[str, float]:
    seed(cfg)
    return {
        "get": rate(lambda: cfg.store.get("components/readout/ANY/any/readout-stfb-flp100"), seconds),
        "resolve (4 candidates)": rate(
            lambda: cfg.resolve("readout", "PHYSICS", "flp100", "readout-stfb-flp100"), seconds
        ),
        "get + render": rate(
            lambda: cfg.get_component("qc/ANY/any/main", process=True, varstack={"host": "flp001"}), seconds
        ),
        "inventory lookup": rate(lambda: cfg.detector_for_host("flp199"), seconds),
        "run number (1 writer)": rate(cfg.next_run_number, seconds),
        f"run number ({WRITERS} writers)": contended_cas(cfg, seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-config-"))
    results: dict[str, dict[str, float]] = {}
    with Configuration.open("memory://", BACKENDS) as cfg:
        results["memory"] = measure(cfg, args.seconds)
    with Configuration.open(f"sqlite:///{work / 'config.sqlite'}", BACKENDS) as cfg:
        results["sqlite"] = measure(cfg, args.seconds)
    server = None
    if shutil.which("etcd"):
        from tests.config.etcd_server import start_etcd

        server = start_etcd(work)
        try:
            with Configuration(open_store(f"etcd://{server.endpoint}", BACKENDS)) as cfg:
                results["etcd"] = measure(cfg, args.seconds)
            raw_get = raw_etcd_get_rate(server.client_port, args.seconds)
        finally:
            server.stop()
    else:
        print("etcd not installed (apt-get install etcd-server): etcd figures skipped\n")
    shutil.rmtree(work, ignore_errors=True)

    names = list(results["memory"])
    print(f"{'operation':<24}" + "".join(f"{backend:>22}" for backend in results))
    for name in names:
        row = f"{name:<24}"
        for backend, figures in results.items():
            ratio = results["memory"][name] / figures[name]
            cell = f"{figures[name]:,.0f}/s" + ("" if backend == "memory" else f" (x{ratio:,.1f})")
            row += f"{cell:>22}"
        print(row)
    print("\n(xN = N times slower than the in-memory store, the floor)")
    if "etcd" in results:
        ratio = raw_get / results["etcd"]["get"]
        print(
            f"etcd get through the store: {results['etcd']['get']:,.0f}/s; bare aetcd client: {raw_get:,.0f}/s (x{ratio:.2f})"
        )


if __name__ == "__main__":
    main()
