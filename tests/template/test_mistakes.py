"""One-mistake templates (the user-experience sweep's): each is one error naming the file, line, role and field,
in ``plan`` (expansion, as ``create``) and in ``validate`` alike."""

from __future__ import annotations

import pytest

from ecs_engine.errors import TemplateError
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.plan import build_plan
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
    assert (problem.line, problem.message) == (10, f"role w.a, field name: {error.message}")


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


def test_plan_locates_an_expression_error_on_its_own_line_and_field_as_validate_does(repo):
    repo.task(
        "t",
        """\
        name: t
        control: {mode: basic}
        command:
          value: 'true'
          env:
            - A=1
            - "B={{ nope }}"
        """,
    )
    path = repo.workflow(
        "w",
        """\
        name: w
        roles:
          - name: r
            constraints:
              - attribute: machine_id
                value: "{{ foo( }}"
            connect:
              - name: in
                type: pull
                target: "{{ Parent( }}"
            task:
              load: t
              timeout: "{{ 'ten seconds' }}"
        """,
    )

    def mend(old, new):
        path.write_text(path.read_text().replace(old, new))

    error = expansion_error(repo)
    assert (error.line, error.role_path, error.field) == (13, "w.r", "task.timeout")
    mend("'ten seconds'", "'10s'")
    error = expansion_error(repo)
    assert (error.line, error.role_path, error.field) == (6, "w.r", "constraints[0].value")
    (problem, *_) = validation_errors(repo)
    assert problem.line == 6 and "role w.r, field constraints[0].value: expected an expression" in problem.message
    mend("foo(", "'x'")
    error = expansion_error(repo)
    assert (error.line, error.field) == (10, "connect[0].target")
    mend("Parent(", "'x'")
    workflow = expand(repo)
    with pytest.raises(TemplateError) as err:
        build_plan(make_expander(DirectorySource(repo.root), plugins=plugin_manager(), offline=True), workflow)
    assert (err.value.file, err.value.line, err.value.field) == (str(repo.root / "tasks/t.yaml"), 7, "command.env[1]")


def test_an_unknown_control_mode_is_an_error_naming_the_task_file_and_the_role_loading_it(repo):
    repo.task("t", "name: t\ncontrol:\n  mode: turbo\ncommand: {value: 'true'}\n")
    repo.workflow("w", "name: w\nroles:\n  - name: r\n    task: {load: t}\n")
    error = expansion_error(repo)
    assert (error.file, error.line, error.role_path, error.field) == (
        str(repo.root / "tasks/t.yaml"),
        3,
        "w.r",
        "control.mode",
    )
    assert error.message.startswith("unknown control mode 'turbo' (expected one of direct, fairmq, basic")
    task, workflow = validation_errors(repo)
    assert (task.line, workflow.line) == (3, 3)


def test_a_negative_timeout_is_an_error(repo):
    repo.task("t", TASK)
    repo.workflow("w", "name: w\nroles:\n  - name: p\n    task: {load: t, trigger: before_DEPLOY, timeout: -5s}\n")
    error = expansion_error(repo)
    assert (error.line, error.role_path, error.field) == (4, "w.p", "task.timeout")
    assert error.message == "a timeout cannot be negative, got '-5s'"


def test_validate_refuses_literal_values_plan_would_refuse_also_where_expansion_does_not_go(repo):
    repo.task(
        "t", "name: t\ncontrol: {mode: basic}\ncommand:\n  value: 'true'\n  stdout: sometimes\n  stderr: '{{ x }}'\n"
    )
    repo.task("u", TASK.replace("name: t", "name: u"))
    repo.workflow(
        "w",
        """\
        name: w
        roles:
          - name: off
            enabled: "false"
            roles:
              - name: h
                task: {load: u, trigger: before_DEPLOY, timeout: ten seconds}
              - name: n-{{ it }}
                for: {begin: 1, end: x, var: it}
                call: {func: testplugin.Noop(), trigger: DESTROY, timeout: "{{ t }}"}
          - name: r
            task: {load: u, timeout: " "}  # blank: the default
        """,
    )
    task, timeout, end = validation_errors(repo)
    assert (task.file, task.line) == (str(repo.root / "tasks/t.yaml"), 5)
    assert task.message.endswith(
        "field command.stdout: 'sometimes' is not an output mode (expected none, stdout or all)"
    )
    assert timeout.line == 7 and "field task.timeout: invalid duration 'ten seconds'" in timeout.message
    assert end.line == 9 and end.message.endswith("field for.end: expected an integer, got 'x'")

    repo.workflow("p", "name: p\nroles:\n  - name: r\n    task: {load: t}\n")
    with pytest.raises(TemplateError) as err:  # plan's own check, from the same definition
        build_plan(make_expander(DirectorySource(repo.root), plugins=plugin_manager(), offline=True), expand(repo, "p"))
    assert (err.value.line, err.value.role_path, err.value.field) == (5, "p.r", "command.stdout")
    assert err.value.message == "'sometimes' is not an output mode (expected none, stdout or all)"


def test_a_call_to_an_unknown_object_is_a_plan_warning_and_a_validation_error(repo):
    repo.workflow(
        "w",
        """\
        name: w
        roles:
          - name: p
            call: {func: testplugn.Noop(), trigger: before_START_ACTIVITY}
          - name: q
            call: {func: testplugin.Noop(__call_rolepath), trigger: DESTROY}
          - name: never
            call: {func: nosuch.Thing()}
        """,
    )
    expander = make_expander(DirectorySource(repo.root), plugins=plugin_manager(), offline=True)
    warnings = build_plan(expander, expander.expand("w"))["warnings"]
    assert warnings == [
        f"{repo.root / 'workflows/w.yaml'}:4, role w.p, field call.func: unknown name 'testplugn' (the call would fail "
        "when its trigger fires) (did you mean 'testplugin'?)"
    ]
    (error,) = validation_errors(repo)
    assert error.line == 4 and "role w.p, field call.func: unknown name 'testplugn'" in error.message
    assert error.rendered.splitlines()[1:] == ["    testplugn.Noop()", "    ^", "  hint: did you mean 'testplugin'?"]


def test_a_bad_user_value_is_said_to_be_the_users_and_a_templated_path_is_labelled_a_template(repo):
    repo.task("t", TASK)
    repo.workflow(
        "w",
        """\
        name: w
        defaults: {hosts: '["a"]', t: 5s}
        roles:
          - name: host-{{ it }}
            for:
              range: "{{ hosts }}"
              var: it
            task: {load: t, trigger: DESTROY, timeout: "{{ t }}"}
        """,
    )
    error = expansion_error(repo, user_vars={"hosts": '["a",'})
    assert (error.line, error.field) == (6, "for.range")
    assert error.render() == (
        f"{repo.root / 'workflows/w.yaml'}:6, role template w.host-{{{{ it }}}}, field for.range: the range must be a "
        """JSON list of strings, got '["a",' from the user variable 'hosts' (-e)"""
    )
    error = expansion_error(repo, user_vars={"t": "soon"})
    assert (error.role_path, error.field) == ("w.host-a", "task.timeout")
    assert error.message.endswith("(expected a Go duration such as 30s, 1m30s, 500ms) from the user variable 't' (-e)")
    repo.workflow("w", repo.root.joinpath("workflows/w.yaml").read_text().replace("'[\"a\"]'", "'[1]'"))
    assert "from the user variable" not in expansion_error(repo).message  # the template's own default
