"""Adding, listing, removing and refreshing repositories; defaults kept in the configuration store."""

from __future__ import annotations

import json

import pytest

from ecs_engine.errors import NotFoundError, RefusedError, UnreachableError, UsageError
from ecs_engine.repos import RepoManager


def index_of(manager, path) -> int:
    return next(r.index for r in manager.list().repos if r.name == str(path))


def test_add_clones_and_the_first_repo_becomes_default(manager, history, config, tmp_path):
    result = manager.add(str(history.path))
    assert result.repo.name == str(history.path)
    assert result.repo.default and result.repo.default_revision == "master"
    assert result.info == "default revision: master (global default)"
    clone = tmp_path / "data" / "repos" / "_local" / str(history.path).lstrip("/")
    assert (clone / "HEAD").is_file() and not (clone / "workflows").exists()  # bare: nothing checked out
    assert config.runtime_get("aliecs", "default_repo") == str(history.path)
    assert json.loads(config.runtime_get("aliecs", "default_revisions")) == {str(history.path): "master"}


def test_list_is_sorted_and_indexed_with_revisions(manager, upstream_factory, history, tmp_path):
    other = upstream_factory("Another")
    other.workflow("x")
    other.commit("x")
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    manager.add(str(plain))
    manager.add(str(history.path))
    manager.add(str(other.path))
    listing = manager.list(revisions=True)
    names = [r.name for r in listing.repos]
    assert names == sorted(names)
    assert [r.index for r in listing.repos] == [0, 1, 2]
    by_name = {r.name: r for r in listing.repos}
    assert by_name[str(plain)].default  # the first one added
    assert by_name[str(plain)].default_revision == "local" and by_name[str(plain)].revisions == ("local",)
    assert by_name[str(history.path)].revisions == (
        "feature",
        "flp-suite-v0.1",
        "flp-suite-v0.2",
        "master",
        "v1",
        "v2",
    )
    assert listing.global_default_revision == "master"


def test_duplicate_is_refused(manager, history):
    manager.add(str(history.path))
    with pytest.raises(RefusedError, match="is already present"):
        manager.add(history.path.as_uri())


def test_given_default_revision_must_exist(manager, history, tmp_path):
    with pytest.raises(NotFoundError) as err:
        manager.add(str(history.path), "flp-suite-v0.9")
    assert "closest: flp-suite-v0." in err.value.hint
    assert manager.list().repos == []
    assert not list((tmp_path / "data" / "repos").rglob("HEAD"))  # the failed clone is gone
    result = manager.add(str(history.path), "v1")
    assert result.repo.default_revision == "v1"


def test_default_revision_falls_back_to_main(manager, upstream_factory):
    up = upstream_factory("OnMain", branch="main")
    up.workflow("x")
    up.commit("x")
    result = manager.add(str(up.path))
    assert result.repo.default_revision == "main"
    assert result.info == "default revision: main (fallback, master not found)"


def test_global_default_revision_is_tried_first(manager, history):
    manager.set_global_default_revision("flp-suite-v0.2")
    result = manager.add(str(history.path))
    assert result.repo.default_revision == "flp-suite-v0.2"
    assert manager.list().global_default_revision == "flp-suite-v0.2"


def test_no_fallback_revision_is_an_error(manager, upstream_factory):
    up = upstream_factory("OnDev", branch="dev")
    up.workflow("x")
    up.commit("x")
    with pytest.raises(NotFoundError) as err:
        manager.add(str(up.path))
    assert err.value.message == f"cannot fall back to any default revision for {up.path}: it has none of master, main"
    assert "dev" in err.value.hint


def test_unreachable_remote(manager):
    with pytest.raises(UnreachableError) as err:
        manager.add("file:///nonexistent/repository")
    assert err.value.message.startswith(
        "cannot fetch repository /nonexistent/repository from file:///nonexistent/repository: "
    )
    assert manager.list().repos == []


def test_state_is_shared_by_managers_over_the_same_data_dir(manager, history, tmp_path, config):
    manager.add(str(history.path))
    manager.set_repo_default_revision(0, "v2")
    again = RepoManager(tmp_path / "data", config)
    [row] = again.list().repos
    assert (row.name, row.default, row.default_revision) == (str(history.path), True, "v2")
    assert again.resolve("readout")[0].revision == history.commits["c2"]


def test_set_repo_default_revision_rejects_unknown(manager, history):
    manager.add(str(history.path))
    with pytest.raises(NotFoundError) as err:
        manager.set_repo_default_revision(0, "nope")
    assert err.value.message == f"repository {history.path} has no revision 'nope'"
    assert manager.list().repos[0].default_revision == "master"


def test_index_out_of_range(manager, history):
    manager.add(str(history.path))
    with pytest.raises(NotFoundError) as err:
        manager.set_default_repo(3)
    assert err.value.message == "no repository with index 3 (indexes: 0-0)"


def test_remove_moves_the_default_and_deletes_the_clone(manager, history, upstream_factory, config, tmp_path):
    other = upstream_factory("Zeta")
    other.workflow("z")
    other.commit("z")
    manager.add(str(other.path))  # default
    manager.add(str(history.path))
    assert manager.list().repos[index_of(manager, other.path)].default
    new_default = manager.remove(index_of(manager, other.path))
    assert new_default == str(history.path)
    assert [r.name for r in manager.list().repos] == [str(history.path)]
    assert manager.list().repos[0].default
    assert not (tmp_path / "data" / "repos" / "_local" / str(other.path).lstrip("/")).exists()
    assert str(other.path) not in json.loads(config.runtime_get("aliecs", "default_revisions"))
    assert manager.remove(0) is None
    assert manager.list().repos == []
    assert config.runtime_get("aliecs", "default_repo") == ""
    assert not (tmp_path / "data" / "repos" / "_local").exists()  # no empty folders left behind


def test_removing_a_non_default_keeps_the_default(manager, history, upstream_factory):
    other = upstream_factory("Zeta")
    other.commit("empty")
    manager.add(str(history.path), "v1")
    manager.add(str(other.path), "master")
    assert manager.remove(index_of(manager, other.path)) is None
    assert manager.list().repos[0].default


def test_set_default_repo(manager, history, upstream_factory):
    other = upstream_factory("Zeta")
    other.workflow("readout", description="zeta")
    other.commit("z")
    manager.add(str(history.path))
    manager.add(str(other.path))
    assert manager.set_default_repo(index_of(manager, other.path)) == str(other.path)
    assert "zeta" in manager.resolve("readout")[0].read("workflows", "readout").text


def test_refresh_fetches_new_commits_and_prunes_deleted_branches(manager, mutable_history):
    up = mutable_history
    manager.add(str(up.path))
    before = manager.resolve("readout")[0]
    up.workflow("readout", description="fourth")
    up.commit("fourth")
    up.git("branch", "-D", "feature")
    up.git("tag", "v3")
    assert manager.resolve("readout")[0].revision == before.revision  # nothing changes until refreshed
    assert manager.refresh() == []  # no warning: the default revision is still there
    after = manager.resolve("readout")[0]
    assert after.revision == up.git("rev-parse", "HEAD")
    assert "fourth" in after.read("workflows", "readout").text
    assert "third" in before.read("workflows", "readout").text  # a source stays on its commit
    names = manager.list(revisions=True).repos[0].revisions
    assert "feature" not in names and "v3" in names


def test_refresh_one_by_index_and_the_errors(manager, mutable_history, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    manager.add(str(plain))
    manager.add(str(mutable_history.path))
    assert manager.refresh(index_of(manager, mutable_history.path)) == []
    plain.rmdir()
    with pytest.raises(NotFoundError, match=f"the directory {plain} no longer exists"):
        manager.refresh()


def test_refresh_reclones_a_deleted_clone(manager, history, tmp_path):
    import shutil

    manager.add(str(history.path))
    shutil.rmtree(tmp_path / "data" / "repos" / "_local")
    fresh = RepoManager(tmp_path / "data", manager.defaults.store)
    fresh.refresh()
    assert fresh.resolve("readout")[0].revision == history.commits["merge"]


def test_plain_directory_repository(manager, tmp_path):
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    (plain / "workflows" / "w.yaml").write_text("name: w\n")
    with pytest.raises(UsageError, match="its only revision is 'local'"):
        manager.add(str(plain), "master")
    result = manager.add(str(plain))
    assert (result.repo.protocol, result.repo.default_revision) == ("directory", "local")
    source, name = manager.resolve("w@local")
    assert source.revision == "local" and source.read("workflows", name).text == "name: w\n"
    with pytest.raises(NotFoundError) as err:
        manager.resolve("w@v1")
    assert err.value.hint == "it is a plain directory: its only revision is 'local'"


def test_without_pygit2_git_repositories_are_a_clear_error_and_directories_work(
    manager, history, tmp_path, monkeypatch
):
    import ecs_engine.repos.gitrepo as gitrepo
    from ecs_engine.errors import ConfigurationError

    monkeypatch.setattr(gitrepo, "pygit2", None)
    with pytest.raises(ConfigurationError) as err:
        manager.add(str(history.path))
    assert err.value.message == "git template repositories need the pygit2 package, which is not installed"
    assert err.value.hint.startswith("pip install 'pygit2>=1.14'")  # not coconut-ecs[git]: a checkout is not on PyPI
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    (plain / "workflows" / "w.yaml").write_text("name: !public w\n")
    manager.add(str(plain))
    assert [i.template for i in manager.templates()] == ["w"]
