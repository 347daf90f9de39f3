"""A repository that went bad (its default revision pruned, its source directory deleted, a failed add) is
named in one line, and the healthy ones stay usable."""

from __future__ import annotations

import json
import shutil


def test_a_pruned_default_revision_hides_only_its_repository(coconut, history, upstream_factory):
    broken = upstream_factory("Broken")
    broken.workflow("gone")
    broken.commit("only")
    broken.git("tag", "v1")
    coconut("repo", "add", str(history.path))
    coconut("repo", "add", str(broken.path), "-d", "v1")
    broken.git("tag", "-d", "v1")
    refreshed = coconut("repo", "refresh")
    assert refreshed.status == 0
    warning = f"coconut: warning: repository {broken.path}: its default revision 'v1' does not exist\n"
    assert refreshed.err == warning
    rows = json.loads(coconut("repo", "list", "-o", "json").out)["repos"]
    assert [r["defaultRevisionMissing"] for r in rows] == [True, False, False]  # broken, history, examples
    assert "v1 (missing)" in coconut("repo", "list").out
    listed = coconut("template", "list", "-o", "json")
    assert (listed.status, listed.err) == (0, warning)
    assert {r["repo"] for r in json.loads(listed.out)} == {str(history.path), "examples"}
    only = coconut("template", "list", "-r", str(broken.path))
    assert (only.status, only.out) == (1, "")  # nothing could be listed: the one error
    assert only.err.startswith(f"coconut: error: repository {broken.path}: its default revision 'v1' does not")


def test_a_revision_no_repository_has(coconut, history, upstream_factory):
    other = upstream_factory("Other")
    other.commit("empty")
    coconut("repo", "add", str(history.path))
    coconut("repo", "add", str(other.path))
    unknown = coconut("template", "list", "-i", "v9")
    assert unknown.err == "coconut: error: no repository has revision 'v9'\n  hint: closest: v2, v1\n"
    one = coconut("template", "list", f"{history.path}@v3")
    assert one.err == f"coconut: error: repository {history.path} has no revision 'v3'\n  hint: closest: v2, v1\n"


def test_a_failed_add_leaves_no_folder(coconut, tmp_path):
    unreachable = coconut("repo", "add", "http://127.0.0.1:1/git/cw")
    assert unreachable.status == 3
    assert sorted(p.name for p in (tmp_path / "data" / "repos").iterdir()) == [".lock"]


def test_refresh_of_a_deleted_local_source(coconut, history, tmp_path):
    source = tmp_path / "copy"
    shutil.copytree(history.path, source)
    coconut("repo", "add", str(source))
    shutil.rmtree(source)
    gone = coconut("repo", "refresh")
    assert gone.status == 1
    assert gone.err.startswith(f"coconut: error: repository {source}: the directory {source} no longer exists\n")
    assert gone.err.endswith(
        "  hint: put it back, or remove the repository with 'coconut repo remove 0'\n"
    )  # its index


def test_repo_list_shows_the_built_in_examples_last(coconut):
    """As the core's ListRepos and 'template list' do: the default while no repository is added."""
    rows = json.loads(coconut("repo", "list", "-o", "json").out)["repos"]
    assert [(r["id"], r["name"], r["default"], r["defaultRevision"]) for r in rows] == [(0, "examples", True, "local")]
