"""Every revision form of ``[repo/workflows/]name[@rev]`` against a real git history, and the errors."""

from __future__ import annotations

import pytest

from ecs_engine.errors import NotFoundError
from ecs_engine.repos import GitSource


@pytest.fixture
def repo(manager, history):
    manager.add(str(history.path))
    return manager


def description(manager, expr: str) -> str:
    source, name = manager.resolve(expr)
    return source.read("workflows", name).text.splitlines()[1]


def test_default_revision_is_master_head(repo, history):
    source, name = repo.resolve("readout")
    assert isinstance(source, GitSource)
    assert source.revision == history.commits["merge"]
    assert name == "readout"
    assert "third" in description(repo, "readout")


@pytest.mark.parametrize(
    ("rev", "commit", "text"),
    [
        ("master", "merge", "third"),
        ("flp-suite-v0.1", "c1", "first"),  # remote-tracking branch
        ("feature", "feature", "second"),
        ("v1", "c1", "first"),  # lightweight tag
        ("v2", "c2", "second"),  # annotated tag, peeled to its commit
    ],
)
def test_branches_and_tags(repo, history, rev, commit, text):
    source, _ = repo.resolve(f"readout@{rev}")
    assert source.revision == history.commits[commit]
    assert source.label == rev
    assert text in description(repo, f"readout@{rev}")


@pytest.mark.parametrize("length", [40, 12, 7, 4])
def test_full_and_abbreviated_hashes(repo, history, length):
    c2 = history.commits["c2"]
    source, _ = repo.resolve(f"readout@{c2[:length]}")
    assert source.revision == c2
    assert "second" in description(repo, f"readout@{c2[:length].upper()}")


def test_qualified_expression_names_the_repository(repo, history):
    for expr in (f"{history.path}/workflows/readout@v1", f"{str(history.path).lstrip('/')}/workflows/readout@v1"):
        source, name = repo.resolve(expr)
        assert (source.revision, name) == (history.commits["c1"], "readout")


def test_renamed_file_is_found_under_the_name_of_each_revision(repo):
    source, _ = repo.resolve("a@v1")
    assert "renamed later" in source.read("workflows", "a").text
    with pytest.raises(NotFoundError) as err:
        repo.resolve("a@v2")[0].read("workflows", "a")
    assert "workflow template 'a' not found in" in err.value.message
    assert "at v2 (" in err.value.message
    assert "renamed from a" in description(repo, "b@v2")


def test_template_that_exists_only_at_an_old_revision(repo, history):
    assert "exists only at v1" in description(repo, "old-only@v1")
    assert "exists only at v1" in description(repo, f"old-only@{history.commits['c1'][:8]}")
    with pytest.raises(NotFoundError) as err:
        description(repo, "old-only")
    assert (
        err.value.message
        == f"workflow template 'old-only' not found in {history.path} at master ({history.commits['merge'][:8]})"
    )


def test_merged_branch_content_is_at_master(repo):
    assert "from a merged branch" in description(repo, "feature@master")
    with pytest.raises(NotFoundError):
        description(repo, "feature@v2")


def test_unknown_revision_names_the_closest(repo, history):
    with pytest.raises(NotFoundError) as err:
        repo.resolve("readout@flp-suite-v0.3")
    assert err.value.message == f"repository {history.path} has no revision 'flp-suite-v0.3'"
    assert err.value.hint.startswith("closest: flp-suite-v0.")


def test_a_hash_that_is_not_there(repo):
    with pytest.raises(NotFoundError, match="has no revision 'deadbeef'"):
        repo.resolve("readout@deadbeef")


def test_a_hash_of_a_blob_is_not_a_commit(repo, history):
    blob = history.git("rev-parse", "v1:workflows/readout.yaml")
    with pytest.raises(NotFoundError, match="is not a commit"):
        repo.resolve(f"readout@{blob}")


def test_unknown_repository_names_the_closest(repo, history):
    typo = str(history.path).lstrip("/")[:-1] + "x"
    with pytest.raises(NotFoundError) as err:
        repo.resolve(f"{typo}/workflows/readout")
    assert err.value.message == f"workflow comes from an unknown repository '{typo}'"
    assert str(history.path).lstrip("/") in err.value.hint


def test_no_repository_at_all(manager):
    with pytest.raises(NotFoundError, match="no template repositories"):
        manager.resolve("readout")


def test_repo_default_then_global_default(repo, history, config):
    assert repo.resolve("readout")[0].label == "master"
    repo.set_global_default_revision("v1")  # the repository keeps the default chosen when it was added
    assert repo.resolve("readout")[0].label == "master"
    repo.set_repo_default_revision(0, "flp-suite-v0.2")
    assert repo.resolve("readout")[0].revision == history.commits["c2"]
