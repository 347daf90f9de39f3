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
    working_tree, name = sources.resolve(f"{history.path}/workflows/readout")
    assert "third" in working_tree.read("workflows", name).text

    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    (plain / "workflows" / "demo.yaml").write_text("name: demo\n")
    with pytest.raises(NotFoundError, match="unknown repository"):
        sources.resolve(f"{plain}/workflows/demo@old")
    assert sources.resolve(f"{plain}/workflows/demo@local")[1] == "demo"
