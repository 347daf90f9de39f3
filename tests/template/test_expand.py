"""Expansion semantics: stages, precedence, enabled, iterators, includes, traits, errors."""

from __future__ import annotations

import pytest

from ecs_engine.config import Configuration
from ecs_engine.errors import NotFoundError, TemplateError
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from ecs_engine.template.triggers import Trigger, parse_trigger

TASK = """
name: t
control: {mode: basic}
command: {shell: true, value: "echo {{ msg }}"}
"""


def expand(repo, name="w", *, tree=None, user_vars=None):
    repo.task("t", TASK)
    config = Configuration.from_tree(tree or {})
    return make_expander(
        DirectorySource(repo.root), plugins=plugin_manager(), config=config, user_vars=user_vars or {}
    ).expand(name)


def role(wf, path):
    return next(r for r in wf.roles() if r.path == path)


def test_precedence_is_class_first_then_depth(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {a: root-default, b: root-default, c: root-default, msg: m}
        vars: {b: root-var}
        roles:
          - name: child
            defaults: {a: child-default, b: child-default, c: child-default}
            task: {load: t}
        """,
    )
    wf = expand(repo, user_vars={"c": "user"})
    stack = role(wf, "w.child").stack()
    assert stack["a"] == "child-default"  # deeper wins within defaults
    assert stack["b"] == "root-var"  # a parent's var beats a child's default
    assert stack["c"] == "user"  # user vars beat everything


def test_store_vars_beat_workflow_defaults_but_not_workflow_vars(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {x: wf-default, msg: m}
        vars: {y: wf-var}
        roles: [{name: r, task: {load: t}}]
        """,
    )
    tree = {"o2": {"runtime": {"aliecs": {"vars": {"x": "store-var", "y": "store-var"}, "defaults": {"z": "store"}}}}}
    stack = role(expand(repo, tree=tree), "w.r").stack()
    assert (stack["x"], stack["y"], stack["z"]) == ("store-var", "wf-var", "store")


def test_sibling_defaults_are_invisible_but_vars_see_own_defaults(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m}
        roles:
          - name: r
            defaults: {a: "1", b: "{{ a }}"}
            task: {load: t}
        """,
    )
    with pytest.raises(TemplateError) as err:
        expand(repo)
    assert "unknown name 'a'" in err.value.message
    assert err.value.role_path == "w.r" and err.value.field == "defaults.b"

    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m}
        roles:
          - name: r
            defaults: {a: "1"}
            vars: {b: "{{ a }}-seen"}
            task: {load: t}
        """,
    )
    assert role(expand(repo), "w.r").vars["b"] == "1-seen"


@pytest.mark.parametrize(
    ("value", "enabled"), [("true", True), (" TRUE ", True), ("1", True), ("yes", False), ("0", False)]
)
def test_enabled_only_true_or_1(repo, value, enabled):
    repo.workflow(
        "w",
        f"""
        name: w
        defaults: {{msg: m}}
        roles:
          - name: on
            task: {{load: t}}
          - name: maybe
            enabled: "{value}"
            task: {{load: t}}
        """,
    )
    paths = [r.path for r in expand(repo).task_roles()]
    assert ("w.maybe" in paths) is enabled


def test_aggregator_with_no_enabled_children_disappears(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m}
        roles:
          - name: group
            roles:
              - {name: a, enabled: "false", task: {load: t}}
          - {name: b, task: {load: t}}
        """,
    )
    assert [r.path for r in expand(repo).roles()] == ["w", "w.b"]


def test_iterator_copies_without_path_segment_and_range_uses_parent_stack(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m}
        roles:
          - name: "host-{{ it }}"
            for: {range: "{{ hosts }}", var: it}
            vars: {me: "{{ it }}"}
            constraints: [{attribute: machine_id, value: "{{ it }}"}]
            roles:
              - {name: x, task: {load: t}}
          - name: "n{{ i }}"
            for: {begin: "1", end: "3", var: i}
            task: {load: t}
        """,
    )
    wf = expand(repo, user_vars={"hosts": '["a","b"]'})
    assert [r.path for r in wf.task_roles()] == ["w.host-a.x", "w.host-b.x", "w.n1", "w.n2", "w.n3"]
    assert role(wf, "w.host-b").constraints == [("machine_id", "b")]
    assert role(wf, "w.host-b.x").stack()["me"] == "b"


def test_iterator_range_must_be_a_json_list_of_strings(repo):
    repo.workflow(
        "w",
        """
        name: w
        roles:
          - name: "h{{ it }}"
            for: {range: "{{ hosts }}", var: it}
            task: {load: t}
        """,
    )
    with pytest.raises(TemplateError, match="JSON list of strings"):
        expand(repo, user_vars={"hosts": "[1, 2]"})


def test_include_layers_and_keeps_the_include_role_name(repo):
    repo.workflow(
        "sub",
        """
        name: sub-root-name-is-ignored-for-includes
        defaults: {port: sub-default, msg: m}
        roles:
          - name: leaf
            vars: {seen: "{{ port }}/{{ Parent().Path }}"}
            task: {load: t}
        """,
    )
    repo.workflow(
        "w",
        """
        name: w
        roles:
          - name: inc
            defaults: {port: include-default}
            include: sub
        """,
    )
    wf = expand(repo)
    leaf = role(wf, "w.inc.leaf")
    # the sub-workflow root is a layer below the include role
    assert leaf.vars["seen"] == "sub-default/w.inc"
    assert role(wf, "w.inc").include == "sub"


def test_include_of_missing_workflow_names_it(repo):
    repo.workflow("w", "name: w\nroles:\n  - {name: inc, include: nope}\n")
    with pytest.raises(TemplateError) as err:
        expand(repo)
    assert "cannot include 'nope'" in err.value.message and err.value.role_path == "w.inc"


def test_parent_up_this_and_paths(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m}
        roles:
          - name: a
            roles:
              - name: b
                vars:
                  up: "{{ Up(2).Path }}"
                  parent: "{{ Parent().Name }}"
                connect: [{name: c, type: pull, target: "{{ This().Path }}:x"}]
                task: {load: t}
        """,
    )
    b = role(expand(repo), "w.a.b")
    assert (b.vars["up"], b.vars["parent"], b.connect[0]["target"]) == ("w", "a", "w.a.b:x")


def test_role_path_user_vars_apply_to_that_role_only(repo):
    repo.workflow(
        "w", "name: w\ndefaults: {msg: m}\nroles:\n  - {name: a, task: {load: t}}\n  - {name: b, task: {load: t}}\n"
    )
    wf = expand(repo, user_vars={"w.a:msg": "only-a"})
    assert role(wf, "w.a").stack()["msg"] == "only-a"
    assert role(wf, "w.b").stack()["msg"] == "m"
    with pytest.raises(TemplateError, match="no enabled role has this path"):
        expand(repo, user_vars={"w.zzz:msg": "x"})


def test_call_and_task_traits_defaults(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults: {msg: m, t_out: 310s}
        roles:
          - {name: c1, call: {func: testplugin.Noop(), trigger: before_CONFIGURE+5}}
          - {name: c2, call: {func: x(), trigger: CONFIGURE, await: after_CONFIGURE-1, timeout: "{{ t_out }}", critical: false}}
          - {name: h, task: {load: t, trigger: DESTROY}}
          - {name: plain, task: {load: t}}
        """,
    )
    wf = expand(repo)
    c1, c2, h, plain = (role(wf, f"w.{n}") for n in ("c1", "c2", "h", "plain"))
    assert (c1.traits.trigger, c1.traits.await_, c1.traits.timeout, c1.critical) == (
        Trigger("before_CONFIGURE", 5),
        Trigger("before_CONFIGURE", 5),
        30.0,
        True,
    )
    assert (str(c2.traits.trigger), str(c2.traits.await_), c2.traits.timeout, c2.critical) == (
        "after_CONFIGURE",
        "after_CONFIGURE-1",
        310.0,
        False,
    )
    assert h.is_hook and h.traits.timeout == 30.0
    assert not plain.is_hook and plain.traits.timeout == 0.0


@pytest.mark.parametrize(
    ("text", "moment", "weight", "warns"),
    [
        ("before_START_ACTIVITY+100", "before_START_ACTIVITY", 100, False),
        ("after_GO_ERROR-1", "after_GO_ERROR", -1, False),
        ("DESTROY", "DESTROY", 0, False),
        ("CONFIGURE", "after_CONFIGURE", 0, False),
        ("RUNNING", "enter_RUNNING", 0, False),
        ("before_DEPLOY+x", "before_DEPLOY", 0, True),
        ("whenever", "whenever", 0, True),
    ],
)
def test_trigger_parsing(text, moment, weight, warns):
    trigger, warning = parse_trigger(text)
    assert (trigger.moment, trigger.weight, warning is not None) == (moment, weight, warns)


def test_unknown_variable_error_names_file_line_role_field_and_suggests(repo):
    path = repo.workflow(
        "w",
        """
        name: w
        defaults: {dd_enabled: "true", msg: m}
        roles:
          - name: r
            enabled: "{{ dd_enabld == 'true' }}"
            task: {load: t}
        """,
    )
    with pytest.raises(TemplateError) as err:
        expand(repo)
    exc = err.value
    assert exc.file == str(path) and exc.line == 6 and exc.role_path == "w.r" and exc.field == "enabled"
    assert "dd_enabled" in (exc.hint or "")
    rendered = exc.render().splitlines()
    at = next(i for i, line in enumerate(rendered) if line.strip() == "^")
    caret_line, expr_line = rendered[at], rendered[at - 1]
    assert expr_line[caret_line.index("^") :].startswith("dd_enabld")


def test_root_name_must_equal_the_file_name(repo):
    repo.workflow("w", "name: other\nroles: []\n")
    with pytest.raises(TemplateError, match="root role is named 'other'"):
        expand(repo)


def test_duplicate_public_variables_are_an_error(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults:
          a: !public {value: "1"}
        vars:
          a: !public {value: "2"}
        roles: []
        """,
    )
    with pytest.raises(TemplateError, match="duplicate public variable 'a'"):
        expand(repo)


def test_variable_maps_are_raw_text_and_odd_values_dropped(repo):
    repo.workflow(
        "w",
        """
        name: w
        defaults:
          port: 8500
          flag: false
          ratio: 1.50
          empty:
          listy: [1, 2]
          pub: !public {value: x, type: string, widget: editBox}
          msg: m
        roles: [{name: r, task: {load: t}}]
        """,
    )
    stack = role(expand(repo), "w.r").stack()
    assert (stack["port"], stack["flag"], stack["ratio"], stack["empty"], stack["pub"]) == (
        "8500",
        "false",
        "1.50",
        "",
        "x",
    )
    assert "listy" not in stack


def test_role_kind_errors(repo):
    repo.workflow("w", "name: w\nroles:\n  - {name: r, task: {load: t}, call: {func: x()}}\n")
    with pytest.raises(TemplateError, match="exactly one of"):
        expand(repo)
    repo.workflow("w", "name: w\nroles:\n  - {name: r}\n")
    with pytest.raises(TemplateError, match="cannot tell the role kind"):
        expand(repo)


def test_yaml_errors_name_the_line(repo):
    path = repo.workflow("w", "name: w\nroles:\n  - name: r\n    task: {load: t\n")
    with pytest.raises(TemplateError) as err:
        expand(repo)
    assert err.value.file == str(path) and err.value.line and "invalid YAML" in err.value.message


def test_missing_workflow_is_not_found(repo):
    with pytest.raises(NotFoundError, match="workflow template 'nope' not found"):
        expand(repo, "nope")


def test_jit_reuses_a_generated_workflow_and_fails_clearly_offline(repo):
    from ecs_engine.template.jit import jit_name

    repo.jit("proc", "o2-dpl-run --detector {{ det }}")
    repo.workflow(
        "w",
        """
        name: w
        defaults: {det: TST}
        roles:
          - {name: dpl, include: "{{ dpl.GenerateFromUri('proc') }}"}
        """,
    )
    with pytest.raises(TemplateError, match="no DPL generator is installed"):
        expand(repo)
    name = jit_name("o2-dpl-run --detector TST", {})
    repo.workflow(name, f"name: {name}\ndefaults: {{msg: m}}\nroles: [{{name: proc, task: {{load: t}}}}]\n")
    assert [r.path for r in expand(repo).task_roles()] == ["w.dpl.proc"]


def test_fallback_to_template_when_no_jit_command(repo):
    repo.workflow("sub", "name: sub\ndefaults: {msg: m}\nroles: [{name: x, task: {load: t}}]\n")
    repo.workflow(
        "w", "name: w\nroles:\n  - {name: d, include: \"{{ dpl.GenerateFromUriOrFallbackToTemplate('sub') }}\"}\n"
    )
    assert [r.path for r in expand(repo).task_roles()] == ["w.d.x"]


def test_caret_points_into_the_right_line_of_a_multi_line_field():
    from ecs_engine.errors import TemplateError

    text = TemplateError("unknown name 'b'", expression="first line\nsecond {{ b }} line", position=21).render()
    assert text.splitlines()[-2:] == ["    second {{ b }} line", "              ^"]
