"""The core's workflow expressions for a directory (``/DIR/workflows/NAME[@REV]``, what ``--repo DIR`` sends):
a revision is honoured for a repository added by that path, and refused where there is none to give."""

from __future__ import annotations

import pytest

from ecs_engine.errors import NotFoundError
from ecs_engine.server.sources import TemplateSources


def test_a_revision_of_a_repository_added_by_its_path_is_honoured(manager, history, tmp_path):
    manager.add(str(history.path))
    sources = TemplateSources(manager, None)
    at_v1, name = sources.resolve(f"{history.path}/workflows/old-only@v1")
    assert "exists only at v1" in at_v1.read("workflows", name).text
    with pytest.raises(NotFoundError):  # the template list says so too: it does not exist at master
        sources.resolve(f"{history.path}/workflows/old-only@master")[0].read("workflows", "old-only")
    with pytest.raises(NotFoundError):
        sources.resolve(f"{history.path}/workflows/readout@no-such-revision")

    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    (plain / "workflows" / "demo.yaml").write_text("name: demo\n")
    with pytest.raises(NotFoundError, match=f"{plain} is not an added repository, so it has no revision 'old'"):
        sources.resolve(f"{plain}/workflows/demo@old")
    assert sources.resolve(f"{plain}/workflows/demo@local")[1] == "demo"
    assert sources.resolve(f"{plain}/workflows/demo")[0].read("workflows", "demo").text == "name: demo\n"


def test_an_added_bare_repository_is_named_by_its_identifier(manager, history, tmp_path):
    """No workflows/ folder in a bare clone: its identifier (as 'repo list' shows it) is what selects it."""
    bare = tmp_path / "src2.git"
    history.git("clone", "-q", "--bare", str(history.path), str(bare))
    manager.add(str(bare))
    sources = TemplateSources(manager, None)
    source, name = sources.resolve(f"{bare}/workflows/feature@feature")
    assert "from a merged branch" in source.read("workflows", name).text
    at_c1, name = sources.resolve(f"{bare}/workflows/old-only@{history.commits['c1'][:4]}")
    assert at_c1.revision == history.commits["c1"]
    with pytest.raises(NotFoundError) as err:  # the hint is typed as it must be: with its leading '/'
        sources.resolve("src2.git/workflows/readout@v1")
    assert err.value.hint == f"closest: {bare}"


def test_an_added_repository_path_without_revision_is_its_default_revision(manager, mutable_history):
    """Not its working tree: uncommitted edits (or a checked-out other branch) are not what was added."""
    manager.add(str(mutable_history.path), "v1")
    mutable_history.workflow("readout", description="uncommitted")
    source, name = TemplateSources(manager, None).resolve(f"{mutable_history.path}/workflows/readout")
    assert source.revision == mutable_history.commits["c1"]
    assert "first" in source.read("workflows", name).text


def test_a_missing_directory_is_named(manager):
    with pytest.raises(NotFoundError) as err:
        TemplateSources(manager, None).resolve("/nowhere/srcX/workflows/dataflow-demo")
    assert err.value.message == (
        "'/nowhere/srcX/workflows/dataflow-demo': /nowhere/srcX does not exist and is not an added repository"
    )


def test_a_pruned_default_revision_is_an_error_not_the_examples(manager, mutable_history, tmp_path):
    examples = tmp_path / "examples"
    (examples / "workflows").mkdir(parents=True)
    (examples / "workflows" / "readout.yaml").write_text("name: readout\n")
    manager.add(str(mutable_history.path), "v2")
    mutable_history.git("tag", "-d", "v2")
    assert manager.refresh() == [f"repository {mutable_history.path}: its default revision 'v2' does not exist"]
    with pytest.raises(NotFoundError, match=f"repository {mutable_history.path}: its default revision 'v2' does not"):
        TemplateSources(manager, examples).resolve("readout")


def test_a_misspelt_workflow_of_a_directory_or_the_examples_gets_the_closest_names(manager):
    """As a git repository's: 'coconut env create -w dataflow-dem' names dataflow-demo, the examples being a
    directory source (by default, and named as examples/ or by their path)."""
    from ecs_engine.server.sources import installed_examples

    examples = installed_examples()
    assert examples is not None
    sources = TemplateSources(manager, examples)
    for expression in ("dataflow-dem", "examples/workflows/dataflow-dem", f"{examples}/workflows/dataflow-dem"):
        with pytest.raises(NotFoundError) as missing:
            source, name = sources.resolve(expression)
            source.read("workflows", name)
        assert missing.value.hint == "closest: dataflow-demo", expression
        assert missing.value.shown_hint() == "closest: dataflow-demo", expression
