"""Template repositories at scale: a git repository with 1,000 commits and 300 branches.

Generates the repository with ``git fast-import`` in a temporary directory (the real ControlWorkflows
v1.45.0 files; readout-dataflow changes in every commit, as in the real history), adds it to a
RepoManager, then measures:

- listing the public templates at the default revision, and at all 300 branches (cold: every distinct
  workflow blob inspected once; warm: the running core's case);
- reading readout-dataflow at a branch (resolve + read from git objects), against the floor of reading
  the same file from a plain directory;
- expanding readout-dataflow (2 hosts) at a branch, against expanding it from a plain directory.

Run: .venv/bin/python bench/repos.py
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ecs_engine.config import Configuration
from ecs_engine.plugins import plugin_manager
from ecs_engine.repos import RepoManager
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource

CORPUS = Path(__file__).resolve().parents[1] / "../shared/corpus/controlworkflows-v1.45.0"
COMMITS = 1000
BRANCHES = 300
TREE = {
    "o2": {
        "hardware": {"detectors": {"TST": {"flps": {"flp001": {}, "flp002": {}}}}},
        "runtime": {
            "aliecs": {
                "defaults": {"consul_endpoint": "localhost:8500", "modulepath": "", "infologger_mode": "infoLogger"}
            }
        },
    }
}
HOSTS = '["flp001","flp002"]'
#: the one plugin manager of the benchmark, passed to every expansion
PLUGINS = plugin_manager()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def generate(path: Path) -> None:
    """1,000 commits on master (readout-dataflow edited in each), 300 branches, a third of them diverged."""
    files = {
        f"{kind}/{p.name}": p.read_bytes()
        for kind in ("workflows", "tasks", "jit")
        for p in sorted((CORPUS / kind).iterdir())
    }
    dataflow = files["workflows/readout-dataflow.yaml"]
    out = bytearray()

    def commit(ref: str, mark: int, parent: int | None, changes: dict[str, bytes], when: int) -> None:
        out.extend(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
        out.extend(b"committer Bench <bench@example.org> %d +0000\n" % when)
        out.extend(_data(b"commit %d" % mark))
        if parent is not None:
            out.extend(b"from :%d\n" % parent)
        for name, payload in changes.items():
            out.extend(b"M 100644 inline %s\n" % name.encode() + _data(payload))

    commit("refs/heads/master", 1, None, files, 1_600_000_000)
    for i in range(2, COMMITS + 1):
        changes = {"workflows/readout-dataflow.yaml": dataflow + b"# revision %d\n" % i}
        if i % 50 == 0:
            changes[f"workflows/extra-{i}.yaml"] = b"name: !public extra-%d\nroles: []\n" % i
        commit("refs/heads/master", i, i - 1, changes, 1_600_000_000 + i * 60)
    mark = COMMITS
    for b in range(BRANCHES):
        at = 1 + b * (COMMITS - 1) // BRANCHES
        ref = f"refs/heads/flp-suite-v0.{b}.0"
        if b % 3 == 0:
            mark += 1
            payload = dataflow + b"# branch %d\n" % b
            commit(ref, mark, at, {"workflows/readout-dataflow.yaml": payload}, 1_700_000_000 + b)
        else:
            out.extend(b"reset %s\nfrom :%d\n\n" % (ref.encode(), at))
    out.extend(b"done\n")
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "master", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=path, input=bytes(out), check=True)


def best(function, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-repos-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        generate(root / "upstream" / "ControlWorkflows")
        print(f"generated {COMMITS} commits, {BRANCHES} branches in {time.perf_counter() - start:.2f} s")
        manager = RepoManager(root / "data", Configuration.from_tree({}))
        start = time.perf_counter()
        manager.add(str(root / "upstream" / "ControlWorkflows"))
        print(f"add (clone + fetch):                     {time.perf_counter() - start:8.3f} s")

        t_default = best(lambda: manager.templates())
        count = len(manager.templates())
        print(f"list, default revision ({count} templates):   {t_default * 1000:8.2f} ms")
        start = time.perf_counter()
        infos = manager.templates(all_branches=True)
        t_cold = time.perf_counter() - start
        t_warm = best(lambda: manager.templates(all_branches=True))
        print(
            f"list, all {BRANCHES + 1} branches ({len(infos)} rows): cold {t_cold * 1000:8.1f} ms, "
            f"warm {t_warm * 1000:8.1f} ms ({t_warm / (BRANCHES + 1) * 1e6:.0f} us/branch)"
        )
        start = time.perf_counter()
        manager.templates(all_branches=True, details=True)
        t_details = time.perf_counter() - start
        print(f"list -d, all branches, cold (YAML of each distinct blob): {t_details:8.2f} s")

        branch = f"flp-suite-v0.{BRANCHES // 2}.0"
        directory = DirectorySource(CORPUS)

        def read_git(name: str) -> None:
            source, template = manager.resolve(f"readout-dataflow@{name}")
            source.read("workflows", template)

        others = [f"flp-suite-v0.{b}.0" for b in range(100) if b != BRANCHES // 2]
        start = time.perf_counter()
        for name in others:  # each at another commit: a blob never read before
            read_git(name)
        t_cold = (time.perf_counter() - start) / len(others)
        t_git = best(lambda: [read_git(branch) for _ in range(100)]) / 100
        t_dir = best(lambda: [directory.read("workflows", "readout-dataflow") for _ in range(100)]) / 100
        print(
            f"read readout-dataflow@<branch> (resolve + read): first time {t_cold * 1e6:.0f} us, "
            f"again {t_git * 1e6:.0f} us; plain directory {t_dir * 1e6:.0f} us "
            f"(ratios {t_cold / t_dir:.2f}, {t_git / t_dir:.2f})"
        )

        config = Configuration.from_tree(TREE)

        def expand(source, expr: str) -> None:
            make_expander(source, plugins=PLUGINS, config=config, user_vars={"hosts": HOSTS}).expand(expr)

        source, _ = manager.resolve(f"readout-dataflow@{branch}")
        expand(source, "readout-dataflow")  # warm the parse caches, as a running core has them
        t_expand_git = best(lambda: expand(manager.resolve(f"readout-dataflow@{branch}")[0], "readout-dataflow"))
        t_expand_dir = best(lambda: expand(directory, "readout-dataflow"))
        print(
            f"expand readout-dataflow@{branch} (2 hosts): {t_expand_git * 1000:8.1f} ms "
            f"(plain directory {t_expand_dir * 1000:.1f} ms, ratio {t_expand_git / t_expand_dir:.2f})"
        )


if __name__ == "__main__":
    main()
