"""``GetWorkflowTemplates``: revision globs, all branches/tags, public marker, descriptions and VarSpecs."""

from __future__ import annotations

import pytest

from ecs_engine.errors import NotFoundError, UsageError


@pytest.fixture
def repo(manager, history):
    manager.add(str(history.path))
    return manager


def rows(infos):
    return [(i.revision, i.template) for i in infos]


def test_default_lists_public_templates_at_the_default_revision(repo, history):
    infos = repo.templates()
    assert rows(infos) == [("master", "b"), ("master", "feature"), ("master", "readout")]
    assert {i.repo for i in infos} == {str(history.path)}
    assert all(i.public for i in infos)


def test_all_workflows_includes_non_public(repo):
    infos = repo.templates(all_workflows=True)
    assert ("master", "hidden") in rows(infos)
    assert not next(i for i in infos if i.template == "hidden").public


def test_revision_glob(repo):
    assert rows(repo.templates(revision_pattern="flp-suite-*")) == [
        ("flp-suite-v0.1", "a"),
        ("flp-suite-v0.1", "old-only"),
        ("flp-suite-v0.1", "readout"),
        ("flp-suite-v0.2", "b"),
        ("flp-suite-v0.2", "readout"),
    ]
    assert [r for r, _ in rows(repo.templates(revision_pattern="v{1,2}"))] == ["v1"] * 3 + ["v2"] * 2


def test_all_branches_all_tags(repo):
    branches = {r for r, _ in rows(repo.templates(all_branches=True))}
    assert branches == {"feature", "flp-suite-v0.1", "flp-suite-v0.2", "master"}
    assert {r for r, _ in rows(repo.templates(all_tags=True))} == {"v1", "v2"}
    both = {r for r, _ in rows(repo.templates(all_branches=True, all_tags=True))}
    assert both == branches | {"v1", "v2"}
    with pytest.raises(UsageError, match="cannot be combined"):
        repo.templates(revision_pattern="v1", all_tags=True)


def test_full_and_abbreviated_hash(repo, history):
    c1 = history.commits["c1"]
    assert rows(repo.templates(revision_pattern=c1)) == [(c1, "a"), (c1, "old-only"), (c1, "readout")]
    assert rows(repo.templates(revision_pattern=c1[:7]))[0] == (c1[:7], "a")


def test_unknown_literal_revision_is_an_error_with_closest(repo):
    with pytest.raises(NotFoundError) as err:
        repo.templates(revision_pattern="flp-suite-v0.3")
    assert err.value.message.endswith("ControlWorkflows has no revision 'flp-suite-v0.3'")  # the one repository
    assert err.value.hint.startswith("closest: flp-suite-v0.")
    assert repo.templates(revision_pattern="nothing-*") == []  # a glob may match nothing


def test_repo_pattern_glob_and_index(repo, history, upstream_factory, tmp_path):
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    (plain / "workflows" / "w.yaml").write_text("name: !public w\n")
    repo.add(str(plain))
    assert {i.repo for i in repo.templates()} == {str(history.path), str(plain)}
    assert {i.repo for i in repo.templates("*ControlWorkflows")} == {str(history.path)}
    index = next(r.index for r in repo.list().repos if r.name == str(plain))
    assert rows(repo.templates(str(index))) == [("local", "w")]
    assert rows(repo.templates(str(index), "local")) == [("local", "w")]
    assert repo.templates(str(index), all_branches=True) == []
    with pytest.raises(NotFoundError, match="no repository matches 'nothing'"):
        repo.templates("nothing")


def test_details_give_descriptions_and_varspecs(repo):
    infos = {(i.revision, i.template): i for i in repo.templates(revision_pattern="v*", details=True)}
    old = infos[("v1", "old-only")]
    assert old.description == "exists only at v1"
    assert old.varspecs["speed"].value == "3"
    assert old.varspecs["speed"].type == "number"
    assert old.varspecs["speed"].label == "Speed"
    assert infos[("v2", "readout")].description == "second"


def test_equal_blobs_are_inspected_once(repo, history, monkeypatch):
    import ecs_engine.repos.listing as listing

    seen = []
    real = listing._inspect
    monkeypatch.setattr(listing, "_inspect", lambda text, origin: seen.append(origin) or real(text, origin))
    repo.templates(all_branches=True, all_tags=True, all_workflows=True, details=True)
    blobs = {
        history.git("rev-parse", f"{rev}:workflows/{name}.yaml")
        for rev, name in rows(repo.templates(all_branches=True, all_tags=True, all_workflows=True))
    }
    assert len(seen) == len(blobs) < 18


def test_public_marker_without_a_column_zero_name_falls_back_to_parsing(manager, upstream_factory):
    up = upstream_factory("Flow")
    up.write("workflows/flow.yaml", '{"name": !public flow, "roles": []}\n')
    up.write("workflows/quiet.yaml", '{"name": quiet, "roles": []}\n')
    up.commit("flow style")
    manager.add(str(up.path))
    assert rows(manager.templates()) == [("master", "flow")]


def test_unreadable_workflow_is_listed_with_the_reason(manager, upstream_factory):
    up = upstream_factory("Broken")
    up.write("workflows/broken.yaml", "name: !public broken\ndefaults: [\n")
    up.commit("broken")
    manager.add(str(up.path))
    [info] = manager.templates(details=True)
    assert info.template == "broken" and info.description.startswith("(cannot be read: ")


def test_a_default_revision_deleted_upstream_is_reported(manager, mutable_history):
    manager.add(str(mutable_history.path), "feature")
    mutable_history.git("branch", "-D", "feature")
    manager.refresh()
    with pytest.raises(NotFoundError) as err:
        manager.templates()
    assert err.value.message == f"repository {mutable_history.path}: its default revision 'feature' does not exist"
    assert rows(manager.templates(revision_pattern="master"))[0] == ("master", "b")
