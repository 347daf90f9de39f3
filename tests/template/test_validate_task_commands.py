"""``coconut template validate`` renders the tasks a workflow uses as ``plan`` does: a templated command field
that renders to a bad value, or does not render, is an error CI sees, not only ``plan``."""

from __future__ import annotations

import json

from tests.coconut.conftest import Runner

TASK = """\
name: t
control: {mode: basic}
command:
  value: reader
  stdout: "{{ out }}"
  env:
    - "LEVEL={{ level }}"
  arguments:
    - "--detector={{ detector }}"
"""


def test_a_task_field_that_renders_to_a_bad_value_or_fails_to_render_is_a_validation_error(tmp_path, repo):
    repo.task("t", TASK)
    workflow = repo.workflow(
        "w",
        "name: !public w\ndefaults: {out: sometimes, level: info, detector: TST}\nroles:\n  - name: r\n    task: {load: t}\n",
    )
    validate = Runner(tmp_path)
    args = ("template", "validate", str(repo.root), "--config-endpoint", "memory://")

    result = validate(*args)
    assert result.status == 1, result.out + result.err
    task_file = repo.root / "tasks" / "t.yaml"
    assert (
        f"    error: {task_file}:5, role w.r, field command.stdout: 'sometimes' is not an output mode (expected none,"
        " stdout or all)" in result.out.splitlines()
    )
    assert "1 valid, 1 invalid" in result.out

    workflow.write_text(workflow.read_text().replace("sometimes", "stdout").replace(", detector: TST", ""))
    data = json.loads(validate(*args, "-o", "json").out)
    (problem,) = [p for r in data["results"] for p in r["problems"] if p["severity"] == "error"]
    assert (problem["file"], problem["line"]) == ("repo/tasks/t.yaml", 9)  # relative to the current directory
    assert problem["message"] == "role w.r, field command.arguments[0]: unknown name 'detector'"

    workflow.write_text(workflow.read_text().replace("info", "info, detector: TST"))
    assert validate(*args).status == 0


def test_a_sub_workflow_leaves_what_its_tasks_read_to_its_includer(tmp_path, repo):
    repo.task("t", TASK)
    repo.workflow("sub", "name: sub\nroles:\n  - name: r\n    task: {load: t}\n")
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "json", "--config-endpoint", "memory://")
    assert result.status == 0, result.out
    (sub,) = [r for r in json.loads(result.out)["results"] if r["name"] == "sub"]
    notes = {p["message"].partition(" is not defined")[0] for p in sub["problems"] if p["severity"] == "note"}
    assert notes == {"'out'", "'level'", "'detector'"}
