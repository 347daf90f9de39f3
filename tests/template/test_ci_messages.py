"""What a CI script running ``coconut template validate`` and ``plan`` reads: each problem placed (file, line),
named (role, field) and explained, in every output."""

from __future__ import annotations

import json

from tests.coconut.conftest import Runner


def test_plan_says_a_site_value_a_task_template_reads_comes_from_the_store(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'module use {{ modulepath }}'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: t}}\n")
    result = Runner(tmp_path)("template", "plan", "-w", "w", "--repo", str(repo.root), "--config-endpoint", "memory://")
    assert result.status == 1
    assert "field command.value: unknown name 'modulepath'" in result.err
    assert "hint: 'modulepath' is a site value the configuration store lacks" in result.err


def test_annotations_keep_the_hint(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'echo {{ greting }}'}\n")
    repo.workflow("w", "name: !public w\ndefaults: {greeting: hi}\nroles:\n  - {name: r, task: {load: t}}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert (
        "::error file=tasks/t.yaml,line=3::role w.r, field command.value: unknown name 'greting'"
        " (did you mean 'greeting'?)" in result.out.splitlines()
    )


def test_a_task_named_unlike_its_file_is_placed_on_the_task_file(tmp_path, repo):
    repo.task("t", "control: {mode: basic}\nname: other\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: t}}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    annotations = [line for line in result.out.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=tasks/t.yaml,line=2::the task is named 'other' but the file is 't.yaml'",
        "::warning file=tasks/t.yaml,line=2::task template name 'other' differs from its file name 't'",
    ]


def test_a_misspelt_role_key_is_named_with_the_key_it_resembles(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - name: r\n    enabeld: 'false'\n    task: {load: t}\n")
    repo.workflow("x", "name: !public x\nroles:\n  - name: r\n    vars: {a: b}\n    taks:\n      load: t\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::warning file=workflows/w.yaml,line=4::role w.r: unknown key 'enabeld' ignored (did you mean 'enabled'?)",
        "::error file=workflows/x.yaml,line=5::role x.r: cannot tell the role kind: expected one of 'roles', 'task',"
        " 'call', 'include' or 'for'; unknown key 'taks' (did you mean 'task'?)",
    ]


def test_a_name_set_to_a_list_says_the_list_was_ignored(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow(
        "w",
        "name: !public w\ndefaults:\n  nodes: [flp001, flp002]\nroles:\n"
        "  - name: h-{{ it }}\n    for: {range: '{{ nodes }}', var: it}\n    task: {load: t}\n",
    )
    result = Runner(tmp_path)("template", "plan", "-w", "w", "--repo", str(repo.root), "--config-endpoint", "memory://")
    assert result.status == 1
    assert "unknown name 'nodes'" in result.err
    assert (
        f"hint: 'nodes' is set to a map or list at {repo.root / 'workflows/w.yaml'}:3, which is ignored: variables"
        " are strings" in result.err
    )


def test_validate_strict_fails_on_a_warning(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - name: r\n    enabeld: 'false'\n    task: {load: t}\n")
    run = Runner(tmp_path)
    args = ("template", "validate", str(repo.root), "--config-endpoint", "memory://")
    assert run(*args).status == 0
    strict = run(*args, "--strict", "-o", "github")
    assert strict.status == 1
    assert "unknown key 'enabeld' ignored" in strict.out
    assert strict.err == "coconut: error: --strict: 1 warning(s)\n"


def test_a_missing_template_in_a_disabled_role_is_a_warning(tmp_path, repo):
    repo.task("readout", "name: readout\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow(
        "w",
        "name: !public w\ndefaults: {extra: 'false'}\nroles:\n  - {name: r, task: {load: readout}}\n"
        "  - name: x\n    enabled: '{{ extra }}'\n    roles:\n      - {name: t, task: {load: reaodut}}\n"
        "      - {name: s, include: sub}\n",
    )
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 0
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::warning file=workflows/w.yaml,line=8::role w.x.t, field task.load: task template 'reaodut' not found"
        " (did you mean 'readout'?): enabling this role would fail",
        "::warning file=workflows/w.yaml,line=9::role w.x.s, field include: workflow template 'sub' not found:"
        " enabling this role would fail",
    ]


def test_an_expression_that_does_not_compile_is_named_by_its_role(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow(
        "w",
        "name: !public w\nroles:\n  - name: h-{{ it }}\n    for: {range: '[\"a\"]', var: it}\n    roles:\n"
        "      - name: r\n        enabled: \"{{ it === 'a' }}\"\n        task: {load: t}\n",
    )
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert (
        "::error file=workflows/w.yaml,line=7::role template w.h-{{ it }}.r, field enabled: unexpected character '='"
        " (compare with '==')" in result.out.splitlines()
    )


def test_a_template_that_cannot_be_read_is_its_own_error_also_when_a_disabled_role_loads_it(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    (repo.root / "tasks" / "latin.yaml").write_bytes(b"name: latin\ncommand: {value: 'echo caf\xe9'}\n")
    (repo.root / ".git").mkdir()
    repo.workflow(
        "w",
        "name: !public w\nroles:\n  - {name: r, task: {load: t}}\n  - {name: x, enabled: 'false', task: {load: latin}}\n",
    )
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert [line.partition("::")[2].partition("::")[0] for line in result.out.splitlines() if "::" in line] == [
        "error file=tasks/latin.yaml,line=2"
    ]
    assert result.out.splitlines()[-1] == "2 valid, 1 invalid"


def test_validate_warns_of_a_channel_no_task_binds_as_plan_does(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: fairmq}\nbind: [{name: out, type: push}]\ncommand: {value: run}\n")
    channel = "{name: in, type: pull, target: '{{ Parent().Path }}.pp:out'}"
    repo.workflow(
        "w",
        f"name: !public w\nroles:\n  - {{name: p, task: {{load: t}}}}\n  - name: c\n    connect: [{channel}]\n    task: {{load: t}}\n",
    )
    repo.workflow(
        "sub",
        "name: sub\nroles:\n  - name: c\n    connect: [{name: in, type: pull, target: '::up'}]\n    task: {load: t}\n",
    )
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 0
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::warning file=workflows/w.yaml,line=4::role w.c: outbound channel 'in' target 'w.pp:out' matches no"
        " inbound channel (CONFIGURE would fail)"
    ]  # a sub-workflow's includer may bind '::up'


def test_a_misspelt_trigger_names_the_moment_it_resembles(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - {name: h, task: {load: t, trigger: before_CONFIGUR}}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert (
        "::warning file=workflows/w.yaml,line=3::role w.h: trigger 'before_CONFIGUR': unknown moment 'before_CONFIGUR',"
        " it never fires (did you mean 'before_CONFIGURE'?)" in result.out.splitlines()
    )


def test_an_include_cycle_names_its_workflows(tmp_path, repo):
    repo.workflow("a", "name: !public a\nroles:\n  - {name: x, include: b}\n")
    repo.workflow("b", "name: b\nroles:\n  - {name: y, include: a}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::error file=workflows/b.yaml,line=3::role a.x.y, field include: include cycle: a -> b -> a",
        "::error file=workflows/a.yaml,line=3::role b.y.x, field include: include cycle: b -> a -> b",
    ]


def test_a_task_template_without_a_command_is_a_warning(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand:\n  shell: true\n  valeu: 'true'\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::warning file=tasks/t.yaml,line=1::field command.value: empty: the task has no command",
        "::warning file=tasks/t.yaml,line=5::unknown key 'command.valeu' ignored (did you mean 'value'?)",
    ]


def test_a_repository_without_templates_says_so(tmp_path):
    (tmp_path / "cw" / "workflows").mkdir(parents=True)
    (tmp_path / "cw" / "workflows" / "readout.yml").write_text("name: readout\n")
    result = Runner(tmp_path)("template", "validate", "cw", "--config-endpoint", "memory://")
    assert result.status == 1
    assert result.err.startswith(f"coconut: error: {tmp_path / 'cw'} holds no templates (no .yaml file in workflows/")


def test_the_workflows_folder_given_as_a_repository_says_which_to_give(tmp_path, repo):
    repo.workflow("w", "name: !public w\nroles: []\n")
    result = Runner(tmp_path)("template", "validate", str(repo.root / "workflows"), "--config-endpoint", "memory://")
    assert result.status == 1
    assert f"hint: give the repository: {repo.root}" in result.err


def test_a_sub_workflow_problem_met_through_each_includer_is_annotated_once(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    for name in ("a", "b"):
        repo.workflow(name, f"name: !public {name}\nroles:\n  - {{name: s, include: sub}}\n")
    repo.workflow("sub", "name: sub\nroles:\n  - {name: r, task: {load: t, timeout: 5}}\n")
    (repo.root / ".git").mkdir()
    run = Runner(tmp_path)
    result = run("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::error file=workflows/sub.yaml,line=3::role a.s.r, field task.timeout: invalid duration '5' (expected a Go"
        " duration such as 30s, 1m30s, 500ms)"
    ]
    assert result.out.splitlines()[-1] == "1 valid, 3 invalid"
    data = json.loads(run("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://").out)
    assert [p["role_path"] for r in data["results"] for p in r["problems"]] == ["a.s.r", "b.s.r", "sub.r"]


def test_a_repeated_key_names_the_line_of_the_first(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - name: r\n    task:\n      load: t\n    task:\n      load: t\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert "::error file=workflows/w.yaml,line=6::duplicate key 'task' (first defined at line 4)" in result.out


def test_a_task_template_problem_met_through_a_role_is_annotated_once(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true', shell: maybe}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: t}}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert [line for line in result.out.splitlines() if line.startswith("::")] == [
        "::error file=tasks/t.yaml,line=3::field command.shell: expected true or false, got 'maybe'"
    ]
    assert result.out.splitlines()[-1] == "0 valid, 2 invalid"


def test_json_places_problems_relative_to_the_checkout_with_the_column_of_a_yaml_error(tmp_path, repo):
    """A CI tool reads each problem's file as git shows it, its line, and the column where YAML gives one."""
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand:\n  value: echo a: b\n")
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: x, timeout: 5}}\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://")
    assert result.status == 1
    placed = {
        r["file"]: [{k: p.get(k) for k in ("file", "line", "column", "role_path")} for p in r["problems"]]
        for r in json.loads(result.out)["results"]
    }
    assert placed == {
        "tasks/t.yaml": [{"file": "tasks/t.yaml", "line": 4, "column": 16, "role_path": None}],
        "workflows/w.yaml": [{"file": "workflows/w.yaml", "line": 3, "column": None, "role_path": "w.r"}],
    }


def test_json_places_a_file_outside_any_checkout_relative_to_the_current_directory(tmp_path, repo):
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: x, timeout: 5}}\n")
    result = Runner(tmp_path)("template", "validate", "repo", "-o", "json", "--config-endpoint", "memory://")
    assert [p["file"] for r in json.loads(result.out)["results"] for p in r["problems"]] == ["repo/workflows/w.yaml"]


def test_annotations_give_the_column_of_a_yaml_error(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand:\n  value: echo a: b\n")
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.out.startswith("::error file=tasks/t.yaml,line=4,col=16::invalid YAML: mapping values are not")


def test_codeclimate_is_gitlabs_code_quality_report_with_the_exit_status_of_the_other_outputs(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: !public w\nroles:\n  - name: r\n    enabeld: 'false'\n    task: {load: t}\n")
    repo.workflow("x", "name: !public x\nroles:\n  - {name: r, task: {load: t, timeout: 5}}\n")
    (repo.root / ".git").mkdir()
    run = Runner(tmp_path)
    args = ("template", "validate", str(repo.root), "-o", "codeclimate", "--config-endpoint", "memory://")
    result = run(*args)
    assert result.status == 1
    issues = json.loads(result.out)
    assert [{k: v for k, v in i.items() if k != "fingerprint"} for i in issues] == [
        {
            "description": "role w.r: unknown key 'enabeld' ignored (did you mean 'enabled'?)",
            "check_name": "coconut-template-warning",
            "severity": "minor",
            "location": {"path": "workflows/w.yaml", "lines": {"begin": 4}},
        },
        {
            "description": "role x.r, field task.timeout: invalid duration '5' (expected a Go duration such as 30s,"
            " 1m30s, 500ms)",
            "check_name": "coconut-template-error",
            "severity": "critical",
            "location": {"path": "workflows/x.yaml", "lines": {"begin": 3}},
        },
    ]
    (repo.root / "workflows" / "x.yaml").unlink()
    assert run(*args).status == 0
    strict = run(*args, "--strict")
    assert strict.status == 1 and len(json.loads(strict.out)) == 1


def test_a_code_quality_issue_keeps_its_fingerprint_when_its_line_moves(tmp_path, repo):
    """GitLab compares the fingerprints of a merge request's report with its target's: a moved line is no new issue."""
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    workflows = [
        repo.workflow("v", "name: !public v\nroles:\n  - name: r\n    task: {load: t}\n    task: {load: t}\n"),
        repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: t, timeout: 5}}\n"),
    ]
    (repo.root / ".git").mkdir()
    run = Runner(tmp_path)
    args = ("template", "validate", str(repo.root), "-o", "codeclimate", "--config-endpoint", "memory://")
    before = json.loads(run(*args).out)
    for workflow in workflows:
        workflow.write_text("# moved down\n" + workflow.read_text())
    after = json.loads(run(*args).out)
    assert after[0]["description"] == "duplicate key 'task' (first defined at line 5)"  # a message naming a line too
    assert [i["location"]["lines"]["begin"] for i in before + after] == [5, 3, 6, 4]
    assert [i["fingerprint"] for i in before] == [i["fingerprint"] for i in after]
    assert len({i["fingerprint"] for i in before}) == 2


def test_an_unclosed_quote_is_placed_at_the_quote_not_where_the_file_ends(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n")
    repo.workflow("w", 'name: !public w\nroles:\n  - name: "r\n    task: {load: t}\n\n')
    (repo.root / ".git").mkdir()
    run = Runner(tmp_path)
    args = ("template", "validate", str(repo.root), "--config-endpoint", "memory://")
    assert run(*args, "-o", "github").out.splitlines()[0] == (
        "::error file=workflows/w.yaml,line=3,col=11::invalid YAML: unclosed quote that began at line 3, column 11:"
        " found unexpected end of stream at line 6 (expected the closing quote)"
    )
    (issue,) = json.loads(run(*args, "-o", "codeclimate").out)
    assert issue["location"] == {"path": "workflows/w.yaml", "lines": {"begin": 3}}


def test_a_yaml_error_names_the_line_where_the_construct_it_breaks_began(tmp_path, repo):
    repo.workflow("w", "name: !public w\nroles:\n  - {name: r, task: {load: t}\n  - {name: s, task: {load: t}}\n")
    result = Runner(tmp_path)("template", "validate", str(repo.root), "--config-endpoint", "memory://")
    assert result.status == 1
    (error,) = [line for line in result.out.splitlines() if line.startswith("    error: ")]
    assert error.startswith(f"    error: {repo.root / 'workflows/w.yaml'}:4: invalid YAML: ")
    assert error.endswith("'}' at line 4, column 3, in a flow mapping that began at line 3, column 5")  # or '}'
