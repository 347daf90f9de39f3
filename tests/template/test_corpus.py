"""The real AliECS corpus: every file loads, and readout-dataflow expands as the reference says."""

from __future__ import annotations

from ecs_engine.config import Configuration
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.plan import build_plan
from ecs_engine.template.sources import DirectorySource
from ecs_engine.template.tasks import parse_task
from ecs_engine.template.validate import validate_paths
from tests.conftest import CW_079, VMIN_TREE, VMIN_VARS


def expand_vmin(corpus, hosts=VMIN_VARS["hosts"]):
    expander = make_expander(
        DirectorySource(corpus),
        plugins=plugin_manager(),
        config=Configuration.from_tree(VMIN_TREE),
        user_vars={"hosts": hosts},
    )
    return expander, expander.expand("readout-dataflow")


def test_readout_dataflow_vmin_has_the_reference_tasks_and_calls(corpus):
    _, wf = expand_vmin(corpus)
    tasks = {r.path: r for r in wf.task_roles()}
    calls = {r.path: r for r in wf.call_roles()}
    assert len(tasks) == 10
    assert len(calls) == 16
    for host in ("flp001", "flp002"):
        base = f"readout-dataflow.host-{host}"
        assert tasks[f"{base}.readout"].task_class.name == "readout"
        assert tasks[f"{base}.data-distribution.stfb"].task_class.name == "stfbuilder-senderoutput"
        assert tasks[f"{base}.data-distribution.stfs"].task_class.name == "stfsender"
        cleanup = tasks[f"{base}.fairmq-shmcleanup"]
        assert (cleanup.task_class.name, str(cleanup.traits.trigger), cleanup.traits.timeout, cleanup.critical) == (
            "shell-command",
            "before_DEPLOY",
            30.0,
            False,
        )
        monitor = tasks[f"{base}.fairmq-shmmonitor"]
        assert (monitor.task_class.name, str(monitor.traits.trigger), monitor.traits.timeout, monitor.critical) == (
            "fairmq-shmmonitor",
            "DESTROY",
            10.0,
            False,
        )
    assert all(path.startswith("readout-dataflow.bookkeeping.") for path in calls)
    startenv = calls["readout-dataflow.bookkeeping.startenv"]
    assert (startenv.func, str(startenv.traits.trigger)) == ("bookkeeping.CreateEnv()", "before_DEPLOY")
    runstart = calls["readout-dataflow.bookkeeping.updaterunstart"]
    assert (runstart.func, str(runstart.traits.trigger)) == ("bookkeeping.UpdateRunStart()", "after_START_ACTIVITY+100")
    exit_call = calls["readout-dataflow.bookkeeping.exit"]
    assert (exit_call.func, str(exit_call.traits.trigger)) == ("bookkeeping.UpdateEnv()", "after_EXIT")
    assert all(c.traits.timeout == 10.0 and not c.critical for c in calls.values())
    assert all(c.traits.await_ == c.traits.trigger for c in calls.values())


def test_readout_dataflow_channels_all_match_and_commands_are_built(corpus):
    expander, wf = expand_vmin(corpus)
    plan = build_plan(expander, wf)
    assert not [w for w in plan["warnings"] if "matches no inbound" in w]
    stfs = next(t for t in plan["tasks"] if t["path"].endswith("host-flp002.data-distribution.stfs"))
    (chan,) = stfs["connect"]
    assert chan["target"] == "readout-dataflow.host-flp002.data-distribution.stfb:buildertosender"
    assert chan["matches"] == chan["target"]
    readout = next(t for t in plan["tasks"] if t["path"] == "readout-dataflow.host-flp001.readout")
    assert readout["command"]["value"] == "/opt/o2/bin/o2-readout-exe"  # modulepath "" selects _plain_cmdline
    assert "O2_DETECTOR=TST" in readout["command"]["env"]
    assert readout["host"] == "flp001"
    assert readout["mode"] == "direct"


def test_detectors_and_inventory_reach_the_templates(corpus):
    _, wf = expand_vmin(corpus)
    host = next(r for r in wf.roles() if r.path == "readout-dataflow.host-flp001")
    assert host.vars["detector"] == "TST"
    assert wf.root.stack()["detectors"] == '["TST"]'


def test_every_corpus_file_loads(corpus):
    config = Configuration.from_tree(VMIN_TREE)
    report = validate_paths([corpus, CW_079], plugins=plugin_manager(), config=config, user_vars=VMIN_VARS)
    failures = [(r.file, [p.message for p in r.problems]) for r in report.results if not r.ok]
    assert failures == []
    kinds = {(r.kind, r.name) for r in report.results}
    assert ("workflow", "readout-dataflow") in kinds and ("workflow", "minimal-dpl") in kinds
    assert sum(1 for k, _ in kinds if k == "task") == 15


def test_every_corpus_task_template_parses_with_its_mode(corpus):
    modes = {p.stem: parse_task(p.read_text(), str(p)).control_mode for p in sorted((corpus / "tasks").glob("*.yaml"))}
    assert modes["readout"] == "direct"
    assert modes["stfsender"] == "fairmq"
    assert modes["shell-command"] == "basic"
    assert len(modes) == 12


def test_minimal_dpl_included_keeps_the_include_role_name_and_pins_tasks(corpus, tmp_path):
    # an includer next to the v0.79.0 sub-workflow: roles get the include role's path, channels resolve
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(CW_079, root)
    (root / "workflows" / "host.yaml").write_text(
        "name: host\n"
        "defaults: {detector: TST, it: flp001, extra_env_vars: '', infologger_severity: info}\n"
        "roles:\n"
        "  - name: dpl\n"
        "    include: minimal-dpl\n"
    )
    expander = make_expander(DirectorySource(root), plugins=plugin_manager(), config=Configuration.from_tree(VMIN_TREE))
    wf = expander.expand("host")
    paths = sorted(r.path for r in wf.task_roles())
    assert paths == ["host.dpl.dpl-output-proxy", "host.dpl.internal-dpl-clock", "host.dpl.readout-proxy"]
    plan = build_plan(expander, wf)
    proxy = next(t for t in plan["tasks"] if t["path"] == "host.dpl.readout-proxy")
    targets = {c["name"]: c["matches"] for c in proxy["connect"]}
    assert targets["from_internal-dpl-clock_to_readout-proxy"] == (
        "host.dpl.internal-dpl-clock:from_internal-dpl-clock_to_readout-proxy"
    )
    assert targets["readout-proxy"] == ""  # ::readout-proxy-flp001 is bound by readout-dataflow, not here


def test_config_payloads_see_template_helpers_and_legacy_expressions(repo):
    tree = {
        "o2": {
            "components": {
                "qc": {
                    "ANY": {
                        "any": {
                            "modern": "det={{ strings.ToLower(det) }}",
                            "legacy": "det={{ strings.ToUpper(det) }}",
                        }
                    }
                }
            }
        }
    }
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow(
        "w",
        "name: w\ndefaults: {det: Tpc}\nroles:\n  - name: r\n    vars:\n"
        "      a: \"{{ config.Get('qc/ANY/any/modern') }}\"\n"
        "      b: \"{{ config.GetLegacy('qc/ANY/any/legacy') }}\"\n"
        "    task: {load: t}\n",
    )
    wf = make_expander(
        DirectorySource(repo.root), plugins=plugin_manager(), config=Configuration.from_tree(tree)
    ).expand("w")
    r = wf.task_roles()[0]
    assert (r.vars["a"], r.vars["b"]) == ("det=tpc", "det=TPC")
