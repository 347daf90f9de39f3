"""``coconut template validate`` and ``plan`` as users and CI call them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import CW_079, CW_145, VMIN_TREE


def write_vmin(tmp_path):
    path = tmp_path / "vmin.yaml"
    path.write_text(yaml.safe_dump(VMIN_TREE))
    return f"file://{path}"


def test_validate_the_corpus_passes(coconut, tmp_path, corpus):
    result = coconut("template", "validate", str(CW_145), str(CW_079), "--config-endpoint", write_vmin(tmp_path))
    assert result.status == 0, result.out + result.err
    assert "21 valid, 0 invalid" in result.out


def test_validate_reports_an_invalid_workflow_with_its_location(coconut, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'echo {{ msg }}'}\n")
    repo.workflow(
        "bad",
        "name: !public bad\ndefaults: {msg: m}\nroles:\n  - name: r\n    enabled: \"{{ nope == 'x' }}\"\n    task: {load: t}\n",
    )
    (repo.root / ".git").mkdir()  # a checkout: annotations name files relative to its top, as GitHub wants
    result = coconut("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    (line,) = [text for text in result.out.splitlines() if text.startswith("::error")]
    assert line.startswith("::error file=workflows/bad.yaml,line=5::")
    assert "unknown name 'nope'" in line

    result = coconut("template", "validate", str(repo.root), "-o", "yaml", "--config-endpoint", "memory://")
    assert result.status == 1 and yaml.safe_load(result.out)["ok"] is False

    result = coconut("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://")
    data = json.loads(result.out)
    assert data["ok"] is False
    bad = next(r for r in data["results"] if r["name"] == "bad")
    assert bad["problems"][0]["severity"] == "error" and bad["problems"][0]["line"] == 5


def test_validate_warns_about_triggers_that_never_fire(coconut, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: w\nroles:\n  - {name: h, task: {load: t, trigger: before_NOTHING}}\n")
    result = coconut("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://")
    assert result.status == 0
    problems = json.loads(result.out)["results"][1]["problems"]
    assert any("never fires" in p["message"] for p in problems)


def test_plan_json_of_readout_dataflow(coconut, tmp_path, corpus):
    result = coconut(
        "template",
        "plan",
        "-w",
        "readout-dataflow",
        "--repo",
        str(CW_145),
        "-e",
        'hosts=["flp001","flp002"]',
        "--config-endpoint",
        write_vmin(tmp_path),
        "-o",
        "json",
    )
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert data["counts"]["tasks"] == 10 and data["counts"]["calls"] == 16
    deploy = next(t for t in data["timelines"] if t["transition"] == "DEPLOY")
    before = next(s for s in deploy["steps"] if s["moment"] == "before_DEPLOY")
    kinds = [(h["path"], h["weight"]) for h in before["hooks"]]
    assert ("readout-dataflow.bookkeeping.startenv", 0) in kinds
    assert ("readout-dataflow.host-flp001.fairmq-shmcleanup", 0) in kinds


def test_plan_text_shows_tree_tasks_and_timeline(coconut):
    result = coconut(
        "template", "plan", "-w", "dataflow-demo", "-e", 'hosts=["a","b"]', "--config-endpoint", "memory://"
    )
    assert result.status == 0, result.err
    assert re.search(r"^ +dataflow-demo\.host-b\.consumer +demo-consumer +direct +host=b +critical$", result.out, re.M)
    assert "START_ACTIVITY" in result.out and "testplugin.Noop()" in result.out


def test_bad_input_is_one_clear_error_without_traceback(coconut, tmp_path):
    result = coconut("template", "plan", "-w", "nope", "--repo", str(tmp_path), "--config-endpoint", "memory://")
    assert result.status == 1
    assert "workflow template 'nope' not found" in result.err
    assert "Traceback" not in result.err

    result = coconut("template", "plan", "-w", "dataflow-demo", "-e", "novalue", "--config-endpoint", "memory://")
    assert result.status == 2 and "'novalue' is not KEY=VALUE" in result.err

    result = coconut("template", "validate", "--bogus")
    assert result.status == 2 and "No such option" in result.err


def test_validate_warns_about_unused_defaults_in_inner_roles_and_tasks(coconut, repo):
    repo.task(
        "t", "name: t\ndefaults: {used: a, spare: b}\ncontrol: {mode: basic}\ncommand: {value: 'echo {{ used }}'}\n"
    )
    repo.workflow(
        "w",
        "name: w\ndefaults: {root_only: x}\nroles:\n  - name: g\n    defaults: {lonely: y}\n    roles: [{name: h, task: {load: t}}]\n",
    )
    result = coconut("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://")
    assert result.status == 0
    messages = [p["message"] for r in json.loads(result.out)["results"] for p in r.get("problems", [])]
    assert "default 'spare' is never used" in messages
    assert "default 'lonely' is never used" in messages
    assert not any("root_only" in m for m in messages)


def test_plugins_lists_builtin_backends_with_their_hooks(coconut):
    result = coconut("plugins", "-o", "json")
    assert result.status == 0, result.err
    rows = {r["name"]: r for r in json.loads(result.out)}
    assert rows["config-sqlite"]["hooks"] == ["ecs_register_backends"]


def test_plugins_text_is_the_common_table_with_whole_module_names(coconut):
    """Not on a terminal, the module column once ended in '…' at 80 columns, in a box of its own."""
    result = coconut("plugins")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert lines[1].split() == ["plugin", "module", "hooks"] and set(lines[2].strip()) == {"─"}
    assert "ecs_backends.integrations.bookkeeping" in result.out and "…" not in result.out


def test_plan_resolves_name_at_revision_through_managed_repositories(coconut, tmp_path):
    import shutil
    import subprocess

    from ecs_engine.examples import examples_dir

    src = tmp_path / "wf-repo"
    shutil.copytree(examples_dir(), src)

    def git(*args):
        subprocess.run(["git", "-C", str(src), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "master")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "examples")
    git("checkout", "-q", "-b", "faster")
    wf = src / "workflows" / "dataflow-demo.yaml"
    wf.write_text(wf.read_text().replace('value: "200"', 'value: "300"'))
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "faster")
    assert coconut("repo", "add", str(src)).status == 0

    def rate(expr):
        result = coconut(
            "template", "plan", "-w", expr, "-e", 'hosts=["h"]', "--config-endpoint", "memory://", "-o", "json"
        )
        assert result.status == 0, result.err
        producer = next(t for t in json.loads(result.out)["tasks"] if t["class"] == "demo-producer")
        return next(a for a in producer["command"]["arguments"] if a.startswith("--rate="))

    assert rate("dataflow-demo") == "--rate=200"
    assert rate("dataflow-demo@faster") == "--rate=300"
    result = coconut("template", "plan", "-w", "dataflow-demo@nope", "--config-endpoint", "memory://")
    assert result.status == 1 and "nope" in result.err


def test_validate_reports_an_unreadable_file_and_goes_on_and_plan_writes_nothing(coconut, repo, tmp_path):
    dumped = tmp_path / "dumped"
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    (repo.root / "tasks" / "latin1.yaml").write_bytes(b"name: latin1\ndescription: caf\xe9\n")
    repo.workflow(
        "w",
        f"name: w\nroles:\n  - {{name: r, enabled: \"{{{{ util.Dump('true', '{dumped}') }}}}\", task: {{load: t}}}}\n",
    )
    result = coconut("template", "validate", str(repo.root), "--config-endpoint", "memory://")
    assert result.status == 1 and "internal error" not in result.err
    assert f"{repo.root / 'tasks' / 'latin1.yaml'}:2: not UTF-8 text: byte 0xe9" in result.out
    assert "2 valid, 1 invalid" in result.out

    result = coconut("template", "plan", "-w", "w", "--repo", str(repo.root), "--config-endpoint", "memory://")
    assert result.status == 0, result.err
    assert not dumped.exists()


def test_plan_warns_about_values_the_store_could_not_give_and_strict_fails(coconut, repo, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"o2": {"hardware": {"detectors": {"TST": {"flps": {"flp001": {}}}}}}}))
    repo.task(
        "t",
        "name: t\ncontrol: {mode: basic}\ncommand:\n  value: reader\n  arguments:\n"
        "    - \"--detector={{ inventory.DetectorForHost('flp404') }}\"\n"
        "    - \"{{ config.ResolvePath('readout/PHYSICS/any/nope') }}\"\n",
    )
    repo.workflow("w", "name: w\nroles:\n  - {name: r, task: {load: t}}\n")
    args = ("template", "plan", "-w", "w", "--repo", str(repo.root), "--config-endpoint", f"file://{site}")

    result = coconut(*args)
    assert result.status == 0, result.err
    assert "warning: role w.r: command.arguments[0]: detector not found for host flp404" in result.out
    assert "warning: role w.r: command.arguments[1]: could not resolve configuration path" in result.out

    result = coconut(*args, "-o", "json")
    assert any("detector not found for host flp404" in w for w in json.loads(result.out)["warnings"])

    result = coconut(*args, "--strict")
    assert result.status == 1
    assert "--strict: the plan has 2 warning(s)" in result.err


def test_config_init_writes_the_site_file_and_keeps_what_the_store_has(coconut, tmp_path):
    store = f"sqlite:///{tmp_path / 'data' / 'config.sqlite'}"
    result = coconut("config", "init", "--dry-run")
    assert result.status == 0, result.err
    assert re.search(rf"site\.yaml into {store}: 9 keys would be written, 0 unchanged, 0 kept", result.out)
    result = coconut("config", "init")
    assert result.status == 0, result.err
    assert re.search(rf"site\.yaml into {store}: 9 keys written, 0 unchanged, 0 kept", result.out)
    assert coconut("config", "runtime", "get", "aliecs", "defaults/consul_endpoint").out == "localhost:8500\n"
    hosts = json.loads(coconut("config", "inventory", "detectors", "-o", "json").out)
    assert hosts == {"TST": ["flp001", "flp002", "localhost"]}

    assert coconut("config", "runtime", "set", "aliecs", "defaults/consul_endpoint", "consul.site:8500").status == 0
    result = coconut("config", "init")
    assert ": 0 keys written," in result.out and ", 1 kept" in result.out
    assert "kept runtime/aliecs/defaults/consul_endpoint (the store's value differs; --force replaces it)" in result.out
    assert coconut("config", "runtime", "get", "aliecs", "defaults/consul_endpoint").out == "consul.site:8500\n"
    assert ": 1 key written," in coconut("config", "init", "--force").out

    result = coconut("config", "init", "nope.yaml")
    assert result.status == 1 and "nope.yaml: no such file" in result.err


def test_the_real_readout_dataflow_plans_without_warnings_of_the_store_after_config_init(coconut, corpus):
    assert coconut("config", "init").status == 0
    result = coconut(
        "template",
        "plan",
        "-w",
        "readout-dataflow",
        "--repo",
        str(corpus),
        "-e",
        'hosts=["flp001","flp002"]',
        "-o",
        "json",
    )
    assert result.status == 0, result.err
    warnings = json.loads(result.out)["warnings"]
    assert not [w for w in warnings if w.startswith("role ")], warnings  # every configuration path and detector found


def test_the_first_hours_warnings_are_what_the_plan_prints_on_stdout(coconut, corpus):
    """docs/cli.md, 'The first hour' step 4: its warning lines, for a host the site file does not list."""
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    shown = [line for line in docs.splitlines() if line.startswith("warning: role readout-dataflow.")]
    assert shown and all("flp003" in line for line in shown)
    assert coconut("config", "init").status == 0
    args = ("template", "plan", "-w", "readout-dataflow", "--repo", str(corpus), "-e", 'hosts=["flp001","flp003"]')
    result = coconut(*args)
    assert result.status == 0, result.err
    printed = result.out.splitlines()
    assert all(line in printed for line in shown) and "warning" not in result.err
    strict = coconut(*args, "--strict")
    assert strict.status == 1 and "coconut: error: --strict: the plan has" in strict.err


def test_validate_needs_no_site_values_where_plan_does(coconut, corpus):
    """docs/cli.md step 4: validate passes on a store 'config init' never wrote; plan stops at a site value."""
    assert coconut("template", "validate", str(corpus)).status == 0
    plan = coconut("template", "plan", "-w", "readout-dataflow", "--repo", str(corpus), "-e", 'hosts=["flp001"]')
    assert plan.status == 1 and "unknown name 'consul_endpoint'" in plan.err


def test_a_site_value_the_store_lacks_says_how_to_get_it(coconut, corpus):
    result = coconut(
        "template", "plan", "-w", "readout-dataflow", "--repo", str(corpus), "-e", 'hosts=["flp001","flp002"]'
    )
    assert result.status == 1
    assert "unknown name 'consul_endpoint'" in result.err
    assert "hint: 'consul_endpoint' is a site value the configuration store lacks: 'coconut config init'" in result.err
