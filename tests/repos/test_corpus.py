"""The real ControlWorkflows v1.45.0 committed into git at two revisions, expanded at both at once."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecs_engine.config import Configuration
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from tests.conftest import CW_145 as CORPUS
from tests.conftest import need_shared

#: the variable set of the corpus README's reference expectation
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


@pytest.fixture
def corpus_repo(upstream_factory):
    need_shared()
    up = upstream_factory()
    for kind in ("workflows", "tasks", "jit"):
        shutil.copytree(CORPUS / kind, up.path / kind)
    first = up.commit("ControlWorkflows flp-suite-v1.45.0")
    up.git("branch", "flp-suite-v1.45.0")
    readout = up.path / "tasks" / "readout.yaml"
    readout.write_text(readout.read_text().replace("cpu: 0.15", "cpu: 0.5"))
    dataflow = up.path / "workflows" / "readout-dataflow.yaml"
    dataflow.write_text(dataflow.read_text().replace("Main workflow template", "Changed workflow template"))
    second = up.commit("more cpu for readout")
    return up, first, second


def expand(manager, expr):
    source, name = manager.resolve(expr)
    config = Configuration.from_tree(TREE)
    return make_expander(source, plugins=plugin_manager(), config=config, user_vars={"hosts": HOSTS}).expand(name)


def test_readout_dataflow_at_two_revisions_concurrently(manager, corpus_repo):
    up, first, second = corpus_repo
    manager.add(str(up.path))
    with ThreadPoolExecutor(2) as pool:
        old, new = pool.map(lambda e: expand(manager, e), ["readout-dataflow@flp-suite-v1.45.0", "readout-dataflow"])
    for wf, commit in ((old, first), (new, second)):
        tasks = {r.path: r for r in wf.task_roles()}
        assert len(tasks) == 10
        assert len(wf.call_roles()) == 16
        readout = tasks["readout-dataflow.host-flp001.readout"]
        assert readout.task_class.name == "readout"
        assert readout.task_class.file.startswith(f"{up.path}@{commit[:8]}:tasks/readout.yaml")  # pinned task load
    assert old.roles().__next__().description == "Main workflow template for ALICE data taking"
    assert new.roles().__next__().description == "Changed workflow template for ALICE data taking"
    assert {r.task_class.cpu for r in old.task_roles() if r.task_class.name == "readout"} == {0.15}
    assert {r.task_class.cpu for r in new.task_roles() if r.task_class.name == "readout"} == {0.5}


def test_listing_the_corpus_shows_the_public_workflows(manager, corpus_repo):
    up, _, _ = corpus_repo
    manager.add(str(up.path))
    infos = manager.templates(all_branches=True, details=True)
    assert [(i.revision, i.template) for i in infos] == [
        ("flp-suite-v1.45.0", "qc-server-workflow"),
        ("flp-suite-v1.45.0", "readout-dataflow"),
        ("master", "qc-server-workflow"),
        ("master", "readout-dataflow"),
    ]
    assert len(infos[1].varspecs) > 100
    assert infos[1].description == "Main workflow template for ALICE data taking"
    assert infos[3].description == "Changed workflow template for ALICE data taking"
    hidden = {i.template for i in manager.templates(all_workflows=True)} - {"readout-dataflow"}
    assert "o2-roc-config" in hidden
