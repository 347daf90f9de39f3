"""What a create/destroy cycle of the core leaves behind: object counts by type and tracemalloc growth.

Runs the real core (``server/core.py``, real gRPC on loopback, fast OCC peer tasks) on an event loop in a thread
of this process, drives it from the main thread with ``CoreClient`` as coconut does, and after each cycle
collects and counts. Prints, per cycle: the reference cycles nothing else in the garbage refers to (the
roots: breaking them lets reference counting free the rest), by the types in them; the objects the collection
freed (kept until a full collection) by type; the live objects the collector tracks and the types whose count
grew since the first cycle; with --tracemalloc, the largest allocation growth by traceback.
With --pause-at, then the time a full collection takes with an environment of each size live. With --allocator,
per cycle Python's live memory blocks and the RSS before and after glibc's ``malloc_trim``, then the state of
Python's small-object allocator (its arenas and what they hold): whether RSS kept after a destroy is memory the
core still uses or memory the allocators keep (``--tasks 5000 --cycles 4 --allocator``).
Usage: python bench/cycle_memory.py [--cycles 6] [--tasks 100] [--show-cycle TYPE] [--referrers TYPE]
[--pause-at 1000,5000] [--allocator]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import gc
import json
import linecache
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from scale import free_ports, rss_mb, through_core  # bench/scale.py

from ecs_engine.occ.multipeer import host_names, hubs_for, running_hub, write_repo
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient
from ecs_engine.server.core import Core
from ecs_engine.server.settings import CoreSettings

PAUSE_REPEAT = 5


def name_of(o: object) -> str:
    return f"{type(o).__module__}.{type(o).__qualname__}"


def type_counts() -> collections.Counter[str]:
    """Live objects the collector tracks (what ``gc.freeze()`` froze at the core's start excluded), by type."""
    return collections.Counter(name_of(o) for o in gc.get_objects())


def cyclic_garbage(show: list[str]) -> collections.Counter[str]:
    """Collect, keeping what the collection found unreachable (objects only a collection frees), by type;
    print a shortest reference cycle through an object of each type named in ``show``."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = collections.Counter(name_of(o) for o in gc.garbage)
        for signature, n in root_cycles(gc.garbage).most_common(30):
            print(f"  {n:5d} root cycles of {signature}")
        for type_name in show:
            sample = next((o for o in gc.garbage if name_of(o) == type_name), None)
            if sample is not None:
                print(f"  a cycle through {type_name}: " + " ".join(shortest_cycle(sample, gc.garbage)))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()
    return found


def hop(source: object, target: object) -> str:
    """How ``source`` refers to ``target``: an attribute or key name, else the target's type."""
    fields = getattr(source, "__dict__", None)
    items = source.items() if isinstance(source, dict) else fields.items() if isinstance(fields, dict) else ()
    for key, value in items:
        if value is target:
            return f".{key}" if fields is not None else f"[{key!r}]"
    if fields is not None and fields is target:
        return ".__dict__"
    return f"->{name_of(target)}"


def shortest_cycle(start: object, among: list[object]) -> list[str]:
    """The shortest chain of references from ``start`` back to itself through the objects ``among``."""
    inside = {id(o) for o in among}
    parent: dict[int, tuple[object, object]] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for ref in gc.get_referents(node):
                if ref is start:
                    chain, at = [hop(node, ref)], node
                    while at is not start:
                        before, _ = parent[id(at)]
                        chain.append(hop(before, at))
                        at = before
                    return [name_of(start), *reversed(chain)]
                if id(ref) in inside and id(ref) not in parent:
                    parent[id(ref)] = (node, ref)
                    following.append(ref)
        frontier = following
    return []


def root_cycles(among: list[object]) -> collections.Counter[str]:
    """The reference cycles among ``among`` that nothing else among them refers to (breaking them frees the
    rest), counted by a signature: the types in the cycle, most frequent first."""
    index = {id(o): i for i, o in enumerate(among)}
    edges = [[index[id(r)] for r in gc.get_referents(o) if id(r) in index] for o in among]
    component = strongly_connected(edges)
    entered = {component[j] for i, out in enumerate(edges) for j in out if component[j] != component[i]}
    members: dict[int, list[int]] = collections.defaultdict(list)
    for i, c in enumerate(component):
        members[c].append(i)
    found: collections.Counter[str] = collections.Counter()
    for c, items in members.items():
        if c in entered or (len(items) == 1 and items[0] not in edges[items[0]]):
            continue
        kinds = collections.Counter(name_of(among[i]).rpartition(".")[2] for i in items)
        found[f"{len(items)} objects: " + ", ".join(f"{k}x{n}" for k, n in kinds.most_common(8))] += 1
    return found


def strongly_connected(edges: list[list[int]]) -> list[int]:
    """Tarjan's algorithm without recursion: the component number of each node."""
    count = len(edges)
    order, low, component = [-1] * count, [0] * count, [-1] * count
    stack: list[int] = []
    on_stack = [False] * count
    counter = components = 0
    for root in range(count):
        if order[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            node, at = work.pop()
            if at == 0:
                order[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            for k in range(at, len(edges[node])):
                nxt = edges[node][k]
                if order[nxt] < 0:
                    work.append((node, k + 1))
                    work.append((nxt, 0))
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], order[nxt])
            else:
                if low[node] == order[node]:
                    while True:
                        member = stack.pop()
                        on_stack[member] = False
                        component[member] = components
                        if member == node:
                            break
                    components += 1
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return component


def holders(type_name: str, depth: int = 4) -> None:
    """What refers to (a sample of) the live objects of ``type_name``, a few levels up."""
    objects = [o for o in gc.get_objects() if name_of(o) == type_name][:3]
    print(f"  {type_name}: holders of 3 samples")
    for sample in objects:
        level = [sample]
        for step in range(depth):
            refs = [r for o in level for r in gc.get_referrers(o) if r is not objects and r is not level]
            print(f"    {'  ' * step}<- " + ", ".join(sorted({name_of(r) for r in refs})[:8]))
            level = refs[:5]
    del objects


def snapshot() -> tracemalloc.Snapshot:
    """What Python has allocated, less this script's own reporting (tracemalloc's and linecache's)."""
    ours = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, linecache.__file__)]
    return tracemalloc.take_snapshot().filter_traces(ours)


def allocators(cycle: int, pid: int) -> None:
    """Python's live blocks, and the RSS before and after glibc gives back the free memory it can."""
    rss = rss_mb(pid)
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(
        f"cycle {cycle}: {sys.getallocatedblocks()} Python blocks live; RSS {rss:.1f} MB,"
        f" {rss_mb(pid):.1f} MB after malloc_trim"
    )


def small_object_arenas() -> None:
    """The summary lines of ``sys._debugmallocstats()`` (written to the C stderr, so taken through a file)."""
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        wanted = ("# arenas allocated current", "bytes/arena", "# bytes in allocated blocks", "unused pools")
        lines = [line.rstrip() for line in out if any(w in line for w in wanted)]
    print("Python's small-object allocator:")
    print("\n".join(f"  {line}" for line in lines))


def collection_pauses(client: CoreClient, repo: Path, sizes: list[int]) -> None:
    """How long a full collection holds the core's loop with an environment of N tasks live."""
    for n in sizes:
        request = pb.NewEnvironmentRequest(
            workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": json.dumps(host_names(n))}
        )
        reply = client.call("NewEnvironment", request)
        assert reply.environment.numberOfTasks == n, client.last_error
        pauses = []
        for _ in range(PAUSE_REPEAT):
            started = time.perf_counter()
            gc.collect()
            pauses.append((time.perf_counter() - started) * 1000)
        tracked = len(gc.get_objects())
        client.call("DestroyEnvironment", pb.DestroyEnvironmentRequest(id=reply.environment.id))
        print(
            f"{n} tasks live ({tracked} objects tracked): full collection {statistics.median(pauses):.0f} ms"
            f" median of {PAUSE_REPEAT} ({min(pauses):.0f}-{max(pauses):.0f}), load {os.getloadavg()[0]:.1f}"
        )


class CoreThread:
    """The core on its own event loop in a thread; ``stop()`` stops it and joins."""

    def __init__(self, settings: CoreSettings):
        self.core = Core(settings)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="core", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.core.start(), self.loop).result()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.core.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--top", type=int, default=15, help="lines of each listing")
    parser.add_argument("--tracemalloc", action="store_true", help="also the largest allocation growth by line")
    parser.add_argument("--show-cycle", action="append", default=[], help="a type name: print a cycle through it")
    parser.add_argument("--pause-at", default="", help="sizes (1000,5000): time a full collection with N tasks live")
    parser.add_argument("--referrers", default="", help="print what holds the live objects of this type name")
    parser.add_argument("--allocator", action="store_true", help="also live blocks, RSS after malloc_trim, arenas")
    args = parser.parse_args()
    pause_sizes = [int(n) for n in args.pause_at.split(",") if n]
    largest = max([args.tasks, *pause_sizes])
    hubs = hubs_for(largest)
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp) / "hub.fifo", hubs=hubs) as fifo:
        root = Path(tmp)
        write_repo(root / "repo", fifo, hubs)
        # a 5,000-task create may take longer than the default deploy_timeout (90 s) on a loaded machine
        values = {"core": {"nodes": host_names(largest), "deploy_timeout": "600s"}}
        settings = CoreSettings.from_values(
            values, data_dir=root / "data", state_dir=root / "state", listen=f"127.0.0.1:{free_ports(1)[0]}"
        )
        core = CoreThread(settings)
        pid = os.getpid()
        try:
            with CoreClient(settings.listen, timeout=600, token=read_token(root / "state")) as client:
                through_core(client, root / "repo", args.tasks, pid)  # warm-up: imports and caches
                gc.collect()
                if args.tracemalloc:
                    tracemalloc.start(12)
                    base = snapshot()
                first = type_counts()
                for cycle in range(1, args.cycles + 1):
                    through_core(client, root / "repo", args.tasks, pid)
                    garbage = cyclic_garbage(args.show_cycle)
                    if args.allocator:
                        allocators(cycle, pid)
                    counts = type_counts()
                    grown = sorted(((n - first[k], k) for k, n in counts.items() if n > first[k]), reverse=True)
                    print(
                        f"cycle {cycle}: RSS {rss_mb(pid):.1f} MB, {counts.total()} objects"
                        f" ({counts.total() - first.total():+d}), {garbage.total()} freed by a collection;"
                        " live growth by type:"
                    )
                    for n, name in grown[: args.top]:
                        print(f"    {n:+7d} {name}")
                    print("  cyclic garbage by type:")
                    for name, n in garbage.most_common(args.top):
                        print(f"    {n:7d} {name}")
                    if args.tracemalloc:
                        print(f"  traced by tracemalloc: {tracemalloc.get_traced_memory()[0] / 1e6:.2f} MB")
                        for stat in snapshot().compare_to(base, "traceback")[: args.top // 3]:
                            print(f"    {stat.size_diff / 1024:+8.0f} KB {stat.count_diff:+6d} objects")
                            print("\n".join("        " + line for line in stat.traceback.format()[-8:]))
                if args.allocator:
                    small_object_arenas()
                if args.referrers:
                    holders(args.referrers)
                collection_pauses(client, root / "repo", pause_sizes)
        finally:
            core.stop()


if __name__ == "__main__":
    main()
