"""GitSource: concurrent revisions, include/task pinning, JIT cache outside the object store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecs_engine.errors import NotFoundError
from ecs_engine.repos import GitSource
from ecs_engine.template.sources import TemplateRef

from .conftest import workflow_text


@pytest.fixture
def repo(manager, history):
    manager.add(str(history.path))
    return manager


def ref(expr: str, kind: str = "workflows") -> TemplateRef:
    return TemplateRef.parse(expr, kind)


def test_two_revisions_read_concurrently_by_threads(repo):
    v1, _ = repo.resolve("readout@v1")
    master, _ = repo.resolve("readout@master")
    start = threading.Barrier(8)

    def read(source, expected):
        start.wait(timeout=10)
        for _ in range(200):
            text = source.read("workflows", "readout").text
            task = source.read("tasks", "sleeper").text
            assert expected in text, text
            assert ("sleep 1" in task) == (source is v1)
        return True

    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(read, v1 if i % 2 else master, "first" if i % 2 else "third") for i in range(8)]
        assert all(job.result(timeout=60) for job in jobs)


def test_sources_resolved_concurrently_from_one_manager(repo, history):
    revs = ["v1", "v2", "master", "flp-suite-v0.1", history.commits["feature"][:9]] * 8
    with ThreadPoolExecutor(6) as pool:
        commits = list(pool.map(lambda rev: repo.resolve(f"readout@{rev}")[0].revision, revs))
    expected = {"v1": "c1", "v2": "c2", "master": "merge", "flp-suite-v0.1": "c1"}
    for rev, commit in zip(revs, commits, strict=True):
        assert commit == history.commits[expected.get(rev, "feature")]


def test_includes_and_task_loads_without_at_are_pinned_to_the_commit(repo, mutable_history, manager):
    up = mutable_history
    manager.remove(0)
    manager.add(str(up.path))
    source, _ = manager.resolve("readout@master")
    up.workflow("readout", description="moved on")
    up.write("tasks/sleeper.yaml", "name: sleeper\ncommand:\n  value: moved\n")
    up.commit("later")
    manager.refresh()
    assert source.resolve(ref("readout")) is source
    assert source.resolve(ref(f"{up.path}/workflows/readout")) is source  # same repo named explicitly
    assert "sleep 2" in source.resolve(ref("sleeper", "tasks")).read("tasks", "sleeper").text
    assert "moved" in manager.resolve("readout")[0].read("tasks", "sleeper").text


def test_at_revision_resolves_within_the_repository(repo, history):
    source, _ = repo.resolve("readout@master")
    old = source.resolve(ref("old-only@v1"))
    assert isinstance(old, GitSource) and old.revision == history.commits["c1"]
    assert "exists only at v1" in old.read("workflows", "old-only").text
    assert source.resolve(ref(f"readout@{history.commits['merge'][:6]}")) is source
    with pytest.raises(NotFoundError, match="has no revision 'v9'"):
        source.resolve(ref("readout@v9"))


def test_other_repositories_are_reached_through_the_manager(repo, upstream_factory, history):
    other = upstream_factory("Other")
    other.workflow("sub", description="from the other repository")
    other.commit("sub")
    repo.add(str(other.path))
    source, _ = repo.resolve(f"{history.path}/workflows/readout")
    sub = source.resolve(ref(f"{other.path}/workflows/sub"))  # no @: the other repository's default
    assert sub.repo_id == str(other.path)
    assert "from the other repository" in sub.read("workflows", "sub").text
    with pytest.raises(NotFoundError, match="unknown repository 'nowhere/x'"):
        source.resolve(ref("nowhere/x/workflows/sub"))


def test_plain_directory_includes_can_name_a_git_repository(repo, history, tmp_path):
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    repo.add(str(plain))
    source, _ = repo.resolve(f"{plain}/workflows/x")
    assert source.resolve(ref("x")) is source
    pinned = source.resolve(ref(f"{history.path}/workflows/readout@v1"))
    assert pinned.revision == history.commits["c1"]


def test_standalone_source_resolves_revisions_in_its_own_repository(repo, history):
    source, _ = repo.resolve("readout@master")
    alone = GitSource(source.repo, source.revision)
    assert alone.resolve(ref("readout@v2")).revision == history.commits["c2"]
    with pytest.raises(NotFoundError, match="unknown repository"):
        alone.resolve(ref("elsewhere/workflows/readout"))


def test_names_and_missing_templates(repo):
    source, _ = repo.resolve("readout@v1")
    assert source.names("workflows") == ["a", "hidden", "old-only", "readout"]
    assert source.names("tasks") == ["sleeper"]
    assert source.names("jit") == ["minimal"]
    assert source.read("jit", "minimal").text == "o2-dpl-raw-proxy --x\n"
    with pytest.raises(NotFoundError) as err:
        source.read("workflows", "redout")
    assert err.value.hint == "closest: readout"
    assert not source.exists("tasks", "nope")


def test_jit_outputs_are_cached_per_commit_outside_the_clone(repo, history, tmp_path):
    v1, _ = repo.resolve("readout@v1")
    v2, _ = repo.resolve("readout@v2")
    assert not v1.exists("workflows", "jit-abc")
    v1.jit_cache_write("jit-abc", workflow_text("jit-abc"))
    assert v1.read("workflows", "jit-abc").origin.startswith(str(tmp_path / "data" / "jit"))
    assert repo.resolve("readout@flp-suite-v0.1")[0].exists("workflows", "jit-abc")  # same commit
    assert not v2.exists("workflows", "jit-abc")
    assert "jit-abc" not in v1.names("workflows")  # listings show the repository's own files only


def test_refresh_drops_jit_outputs_of_commits_no_ref_reaches(manager, mutable_history, tmp_path):
    up = mutable_history
    manager.add(str(up.path))
    keep, _ = manager.resolve("readout@v1")
    keep_old, _ = manager.resolve(f"readout@{up.commits['c2']}")  # not a tip, but reachable
    drop, _ = manager.resolve("readout@feature")
    up.git("checkout", "-q", "feature")
    up.git("commit", "-q", "--amend", "-m", "rewritten")  # the old feature commit becomes unreachable
    up.git("checkout", "-q", "master")
    up.git("reset", "-q", "--hard", up.commits["c3"])  # ...also from master (drop the merge)
    for source in (keep, keep_old, drop):
        source.jit_cache_write("jit-1", workflow_text("jit-1"))
    manager.refresh()
    assert keep.exists("workflows", "jit-1")
    assert keep_old.exists("workflows", "jit-1")
    assert not (tmp_path / "data" / "jit" / "_local" / str(up.path).lstrip("/") / drop.revision).exists()


def test_working_tree_is_a_temporary_copy_of_the_commit(repo):
    source, _ = repo.resolve("readout@v1")
    with source.working_tree() as tree:
        assert (tree / "workflows" / "old-only.yaml").is_file()
        assert "sleep 1" in (tree / "tasks" / "sleeper.yaml").read_text()
        kept = tree
    assert not kept.exists()


def test_display_names_the_revision(repo, history):
    assert repo.resolve("readout@v1")[0].display() == f"{history.path}@v1"
    full = history.commits["c1"]
    assert repo.resolve(f"readout@{full}")[0].display() == f"{history.path}@{full[:8]}"
