"""One-mistake templates (the user-experience sweep's): each is one error naming the file, line, role and field,
in ``plan`` (expansion, as ``create``) and in ``validate`` alike."""

from __future__ import annotations

import pytest

from ecs_engine.errors import TemplateError
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from ecs_engine.template.validate import validate_paths

TASK = "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n"


def expand(repo, name="w", user_vars=None):
    return make_expander(
        DirectorySource(repo.root), plugins=plugin_manager(), user_vars=user_vars or {}, offline=True
    ).expand(name)


def expansion_error(repo, name="w", user_vars=None) -> TemplateError:
    with pytest.raises(TemplateError) as err:
        expand(repo, name, user_vars)
    return err.value


def validation_errors(repo):
    report = validate_paths([repo.root], plugins=plugin_manager(), config=None, user_vars={})
    return [p for r in report.results for p in r.problems if p.severity == "error"]


def test_two_enabled_siblings_of_one_name_are_an_error_at_the_second(repo):
    repo.task("t", TASK)
    repo.workflow(
        "w",
        """\
        name: w
        roles:
          - name: a
            task: {load: t}
          - name: off
            enabled: "false"
            task: {load: t}
          - name: off
            task: {load: t}
          - name: a
            task: {load: t}
        """,
    )
    error = expansion_error(repo)
    assert (error.line, error.role_path, error.field) == (10, "w.a", "name")
    assert (
        error.message
        == "two enabled roles have this path: the role at line 3 has it too (sibling roles need distinct names)"
    )
    (problem,) = validation_errors(repo)
    assert problem.line == 10 and problem.message.endswith(f"role w.a, field name: {error.message}")


def test_an_iterator_whose_range_repeats_an_item_is_an_error(repo):
    repo.task("t", TASK)
    repo.workflow(
        "w",
        """\
        name: w
        roles:
          - name: host-{{ it }}
            for: {range: "{{ hosts }}", var: it}
            task: {load: t}
        """,
    )
    assert len(expand(repo, user_vars={"hosts": '["a","b"]'}).task_roles()) == 2
    error = expansion_error(repo, user_vars={"hosts": '["a","b","a"]'})
    assert (error.line, error.role_path) == (3, "w.host-a")
    assert "the iterator 'host-{{ it }}' gives it twice" in error.message
