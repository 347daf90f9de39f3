"""``coconut template validate -o github``: each annotation places itself (file, line) and says the rest once."""

from __future__ import annotations

from tests.coconut.conftest import Runner


def test_github_annotations_name_the_file_once_and_the_line_of_a_missing_task(tmp_path, repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true', stdout: sometimes}\n")
    repo.workflow(
        "w",
        "name: !public w\nroles:\n  - name: r\n    task:\n      load: nosuch\n  - name: s\n    task: {load: t}\n",
    )
    (repo.root / ".git").mkdir()
    result = Runner(tmp_path)("template", "validate", str(repo.root), "-o", "github", "--config-endpoint", "memory://")
    assert result.status == 1
    annotations = [line for line in result.out.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=tasks/t.yaml,line=3::field command.stdout: 'sometimes' is not an output mode (expected none,"
        " stdout or all)",
        "::error file=workflows/w.yaml,line=5::role w.r, field task.load: cannot load task 'nosuch': task template"
        f" 'nosuch' not found (looked for {repo.root / 'tasks/nosuch.yaml'})",
    ]
