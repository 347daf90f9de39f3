"""Bad template input is one clear error naming where, never a crash; validation and plans change nothing."""

from __future__ import annotations

import shutil

import pytest

from ecs_engine.config import Configuration
from ecs_engine.errors import TemplateError
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.expr import MAX_DEPTH, ExpressionError, render
from ecs_engine.template.functions import static_objects
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from ecs_engine.template.validate import validate_paths
from ecs_engine.template.yamlload import MAX_ALIAS_NODES, load_yaml
from tests.conftest import CW_079

TASK = "name: t\ncontrol: {mode: basic}\ncommand: {value: 'true'}\n"


def validate(*paths, config=None):
    return validate_paths(list(paths), plugins=plugin_manager(), config=config, user_vars={})


def errors_of(result):
    return [p for p in result.problems if p.severity == "error"]


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one nine times (9**levels values)."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_file_that_is_not_utf8_is_one_error_and_the_rest_of_the_repository_is_validated(corpus, tmp_path):
    root = shutil.copytree(CW_079, tmp_path / "repo")
    bad = root / "tasks" / "minimal-dpl-readout-proxy.yaml"
    text = bad.read_bytes()
    bad.write_bytes(text[:100] + b"\xff\xfe" + text[100:])
    results = {r.name: r for r in validate(root).results}
    assert [name for name, result in results.items() if result.ok] == [
        "minimal-dpl-dpl-output-proxy",
        "minimal-dpl-internal-dpl-clock",
    ]
    failed = results["minimal-dpl-readout-proxy"]
    (error,) = errors_of(failed)
    assert failed.file == error.file == str(bad) and error.line == text[:100].count(b"\n") + 1
    assert "not UTF-8 text: byte 0xff at offset 100" in error.message
    (error,) = errors_of(results["minimal-dpl"])  # the workflow loading the task says why it cannot
    assert "cannot load task 'minimal-dpl-readout-proxy': not UTF-8 text" in error.message


def test_an_alias_bomb_is_refused_at_the_line_using_it():
    with pytest.raises(TemplateError) as err:
        load_yaml(alias_bomb(), "bomb.yaml")
    assert f"YAML aliases expand to more than {MAX_ALIAS_NODES} values" in err.value.message
    assert (err.value.file, err.value.line) == ("bomb.yaml", 5)


def test_a_recursive_alias_and_deep_nesting_are_errors_not_crashes():
    with pytest.raises(TemplateError, match="a YAML alias refers to a value that contains it") as err:
        load_yaml("a: 1\nb: &b [1, *b]\n", "loop.yaml")
    assert err.value.line == 2
    with pytest.raises(TemplateError, match="nest deeper than 100 levels"):
        load_yaml("a: " + "[" * 150 + "]" * 150 + "\n", "deep.yaml")


def test_aliases_within_the_bound_still_load():
    assert load_yaml("a: &a {b: x}\nc: *a\n", "ok.yaml") == {"a": {"b": "x"}, "c": {"b": "x"}}


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("(" * 450 + "1" + ")" * 450, MAX_DEPTH + 1),  # points at the bracket that goes too deep
        ("!" * 450 + "true", MAX_DEPTH + 1),
        ("+".join(["1"] * 450), 0),
        ("x" + "[0]" * 450, 0),
    ],
)
def test_an_expression_nested_too_deep_is_an_error_at_its_position(expression, position):
    with pytest.raises(ExpressionError, match=f"nests deeper than {MAX_DEPTH} levels") as err:
        render("{{ " + expression + " }}", {"x": []})
    assert err.value.position == 3 + position


def test_integers_beyond_64_bits_are_errors():
    with pytest.raises(ExpressionError, match=r"integer 9{20}\.\.\.\(5000 characters\) does not fit in 64 bits"):
        render("{{ " + "9" * 5000 + " }}", {})
    with pytest.raises(ExpressionError, match="integer overflow") as err:
        render("{{ 9223372036854775807 + 1 }}", {})
    assert err.value.position == 23
    assert render("{{ strings.Atoi('9223372036854775808') }}", static_objects()) == (
        '{"error":"strconv.Atoi: parsing \\"9223372036854775808\\": value out of range"}'
    )


def test_validate_finds_syntax_errors_in_fields_it_never_renders(repo):
    repo.task("t", "name: t\ncontrol: {mode: basic}\ncommand:\n  env: ['A={{}}', 'B={{ 1 + }}']\n  value: 'true'\n")
    repo.workflow(
        "w",
        "name: w\nroles:\n  - name: off\n    enabled: 'false'\n    task: {load: t, trigger: '{{ ( }}'}\n",
    )
    report = validate(repo.root)
    task, workflow = report.results
    assert [(e.line, e.message) for e in errors_of(task)] == [
        (4, "field command.env[0]: empty expression between '{{' and '}}'"),
        (4, "field command.env[1]: expected an expression"),
    ]
    (error,) = errors_of(workflow)
    assert (error.line, error.file) == (5, str(repo.root / "workflows" / "w.yaml"))
    # file and line are the error's own
    assert error.message == "role w.off, field task.trigger: expected an expression"
    assert error.rendered.splitlines()[0] == f"{error.file}:5, {error.message}"


def test_validate_and_plans_do_not_run_side_effects(repo, tmp_path):
    dumped = tmp_path / "dumped"
    repo.task("t", TASK)
    repo.workflow(
        "w",
        "name: w\nroles:\n  - name: r\n"
        f"    enabled: \"{{{{ util.Dump('true', '{dumped}') }}}}\"\n"
        "    vars: {set: \"{{ runtime.Set('c', 'k', 'v') }}\"}\n"
        "    task: {load: t, arguments: ['{{ set }}']}\n",
    )
    config = Configuration.from_tree({})
    assert validate(repo.root, config=config).ok
    assert not dumped.exists() and config.runtime_get("c", "k") is None
    expander = make_expander(DirectorySource(repo.root), plugins=plugin_manager(), config=config, offline=True)
    expander.expand("w")  # as `template plan` does
    assert not dumped.exists() and config.runtime_get("c", "k") is None

    make_expander(DirectorySource(repo.root), plugins=plugin_manager(), config=config).expand("w")
    assert dumped.read_text() == "true" and config.runtime_get("c", "k") == "v"
