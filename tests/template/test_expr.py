"""Template expressions: corpus examples, the language, Go-compatible rendering, and every error path."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import yaml

from ecs_engine.errors import NotFoundError, TemplateError
from ecs_engine.template.expr import (
    ExpressionError,
    compile_expression,
    has_expressions,
    render,
    to_text,
)
from tests.conftest import CORPUS


def evaluate(source: str, **env):
    return compile_expression(source).evaluate(env)


def failure(source: str, **env) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, **env)
    return caught.value


def is_falsy(value: str) -> bool:
    return value.strip().lower() in ("", "false", "no", "n", "0", "off", "none")


STRINGS = SimpleNamespace(IsFalsy=is_falsy, ToLower=str.lower, TrimSpace=str.strip)
JSON = SimpleNamespace(Unmarshal=json.loads, Marshal=lambda value: json.dumps(value, separators=(",", ":")))


# --- expressions as they appear in the corpus -----------------------------------------------------


@pytest.mark.parametrize(("modulepath", "expected"), [("", "plain"), ("/opt/modules", "module")])
def test_len_chooses_the_command_line(modulepath, expected):
    source = "len(modulepath)>0 ? _module_cmdline : _plain_cmdline"
    env = {"modulepath": modulepath, "_module_cmdline": "module", "_plain_cmdline": "plain"}
    assert compile_expression(source).evaluate(env) == expected


def test_in_a_list_returned_by_a_function_and_in_a_list_variable():
    assert evaluate("'MCH' in json.Unmarshal(detectors)", json=JSON, detectors='["MCH","TPC"]') is True
    assert evaluate("'MID' in json.Unmarshal(detectors)", json=JSON, detectors='["MCH","TPC"]') is False
    assert evaluate("'MCH' in json_list", json_list=["MCH"]) is True


def test_member_of_a_callable_result():
    def up(levels):
        return {"Name": "host-flp001", "Path": "readout-dataflow.host-flp001" + ".x" * (levels - 2)}

    assert evaluate("Up(2).Path + '.x'", Up=up) == "readout-dataflow.host-flp001.x"
    assert render("{{ Up(2).Path }}.readout:readout", {"Up": up}) == "readout-dataflow.host-flp001.readout:readout"


ODC_FIELD = (
    '{{strings.TrimSpace(odc_resources_spec) == "default" ? "[ {\\"zone\\":\\"online\\", \\"n\\":\\"" + odc_n_epns'
    ' + "\\"}, {\\"zone\\":\\"calib\\"} ]" : odc_resources_spec }}'
)


def test_odc_resources_with_escaped_quotes():
    env = {"strings": STRINGS, "odc_resources_spec": " default ", "odc_n_epns": "12"}
    assert render(ODC_FIELD, env) == '[ {"zone":"online", "n":"12"}, {"zone":"calib"} ]'
    assert render(ODC_FIELD, {**env, "odc_resources_spec": '[{"zone":"x"}]'}) == '[{"zone":"x"}]'


def test_enabled_expression_with_negated_calls():
    source = (
        "stfb_standalone == 'false' && (qcdd_enabled == 'true' || minimal_dpl_enabled == 'true' "
        "|| !strings.IsFalsy(dpl_workflow) || !strings.IsFalsy(dpl_command))"
    )
    env = {
        "strings": STRINGS,
        "stfb_standalone": "false",
        "qcdd_enabled": "false",
        "minimal_dpl_enabled": "false",
        "dpl_workflow": "none",
        "dpl_command": "none",
    }
    assert render("{{" + source + "}}", env) == "false"
    assert render("{{" + source + "}}", {**env, "dpl_command": "o2-dpl-run"}) == "true"


def test_calls_with_computed_arguments_and_keyword_operators():
    calls = []

    def resolve(*arguments):
        calls.append(arguments)
        return "consul://" + "/".join(arguments)

    config = SimpleNamespace(Resolve=resolve)
    source = "config.Resolve('readout', run_type, 'any', 'readout-stfb-' + it)"
    assert evaluate(source, config=config, run_type="PHYSICS", it="flp001") == (
        "consul://readout/PHYSICS/any/readout-stfb-flp001"
    )
    assert calls == [("readout", "PHYSICS", "any", "readout-stfb-flp001")]
    assert evaluate("detectors contains 'ITS'", detectors='["ITS"]') is True
    assert render("stfs-{{ it }}-{{ uid.New() }}", {"it": "flp1", "uid": SimpleNamespace(New=lambda: "2b1")}) == (
        "stfs-flp1-2b1"
    )


def corpus_strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from corpus_strings(key)
            yield from corpus_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from corpus_strings(item)


class CorpusLoader(yaml.SafeLoader):
    """Reads AliECS templates, whose custom tags (`!public`) only wrap ordinary nodes."""


CorpusLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node)
    ),
)


@pytest.mark.shared
def test_every_corpus_expression_compiles():
    sources = set()
    for path in CORPUS.rglob("*.yaml"):
        for text in corpus_strings(yaml.load(path.read_text(), Loader=CorpusLoader)):
            sources.update(match.strip() for match in re.findall(r"\{\{(.*?)\}\}", text, re.S))
    assert len(sources) > 200  # the spec counts 250 distinct expressions at HEAD
    for source in sorted(sources):
        expression = compile_expression(source)
        assert expression.names <= {word for word in re.findall(r"\w+", source)}, source


# --- the language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 3 - 2", 5),
        ("-2 * 3", -6),
        ("- -2", 2),
        ("+2", 2),
        ("true || false && false", True),
        ("(true || false) && false", False),
        ("!true || true", True),
        ("not false and true", True),
        ("false or true", True),
        ("1 < 2 == true", True),
        ("'a' + 'b' == 'ab'", True),
        ("1 + 1 == 2 && 2 > 1", True),
        ("false ? 1 : true ? 2 : 3", 2),
        ("true ? false ? 1 : 2 : 3", 2),
        ("true || false ? 'y' : 'n'", "y"),
        ("nil ?? 1 + 1", 2),
        ("nil ?? nil ?? 'x'", "x"),
        ("0 ?? 5", 0),
        ("'x' in ['x'] == true", True),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("{a: 1, 'b': 2, \"c\": 3, 4: 5, `e`: 6}", {"a": 1, "b": 2, "c": 3, 4: 5, "e": 6}),
        ("[]", []),
        ("{}", {}),
        ("{a: [1]}.a[0]", 1),
    ],
)
def test_precedence_and_literals(source, expected):
    value = evaluate(source)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("0x1F", 31),
        ("0X1f", 31),
        ("1_000_000", 1000000),
        ("0o17", 15),
        ("0b101", 5),
        ("017", 17),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2.5e-3", 0.0025),
        ("1_0.5", 10.5),
        ("true", True),
        ("false", False),
        ("nil", None),
        ("'it'", "it"),
        (r"'a\nb\tc\\d\'e\"f'", "a\nb\tc\\d'e\"f"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'\u00e9\x41\U0001F600\r\a\b\f\v'", "\u00e9A\U0001f600\r\a\b\f\v"),
        ("`raw \\n {x}`", "raw \\n {x}"),
        ("'multi\nline'", "multi\nline"),
    ],
)
def test_literals(source, expected):
    value = evaluate(source)
    assert value == expected and type(value) is type(expected)


def test_keywords_only_match_whole_words():
    env = {"order": 1, "index": 2, "nothing": 3, "android": 4, "true_value": 5, "nilly": 6}
    assert evaluate("order + index + nothing + android + true_value + nilly", **env) == 21
    assert evaluate("m.in + m.not", m={"in": 1, "not": 2}) == 3


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("7 / 2", 3.5),
        ("4 / 2", 2.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("1 + 2.5", 3.5),
        ("3 * 2", 6),
        ("3 * 0.5", 1.5),
        ("1 == 1.0", True),
        ("'1' == 1", False),
        ("nil == nil", True),
        ("nil == ''", False),
        ("true == 1", False),
        ("1 != 1.0", False),
        ("[1, 'a'] == [1.0, 'a']", True),
        ("{a: 1} == {a: 1}", True),
        ("{a: 1} == {b: 1}", False),
        ("'a' < 'b'", True),
        ("'b' >= 'b'", True),
        ("2 <= 1.5", False),
        ("'x' in {x: 1}", True),
        ("'y' in {x: 1}", False),
        ("1 in [1.0]", True),
        ("'1' in [1]", False),
        ("'x' in nil", False),
        ("'x' not in ['y']", True),
        ("'bc' not contains 'c'", False),
        ("'abc' contains 'b'", True),
        ("'abc' startsWith 'ab'", True),
        ("'abc' endsWith 'bc'", True),
        ("'abc' not endsWith 'c'", False),
    ],
)
def test_operator_semantics(source, expected):
    value = evaluate(source)
    assert value == expected and type(value) is type(expected)


def test_members_and_indexes():
    class Role:
        Name = "stfs"

        def __init__(self):
            self._secret = "no"

    env = {"m": {"k": "v"}, "role": Role(), "xs": ["a", "b", "c"], "word": "héllo"}
    assert evaluate("m.k", **env) == "v"
    assert evaluate("m.missing", **env) is None
    assert evaluate("m['k']", **env) == "v"
    assert evaluate("m['missing']", **env) is None
    assert evaluate("role.Name", **env) == "stfs"
    assert evaluate("xs[0] + xs[-1]", **env) == "ac"
    assert evaluate("word[1]", **env) == "é"


def test_len_builtin_counts_characters_and_can_be_shadowed():
    assert evaluate("len('héllo')") == 5
    assert evaluate("len(xs) + len(m)", xs=[1, 2], m={"a": 1}) == 3
    assert evaluate("len(x)", x="ab", len=lambda value: "mine") == "mine"
    assert "len" not in compile_expression("len(x)").names


def test_names_are_the_free_identifiers_only():
    expression = compile_expression("a.b + c[d] + len(e) + {k: f}.k + g(h).i")
    assert expression.names == {"a", "c", "d", "e", "f", "g", "h"}


def test_compiled_once_per_source():
    assert compile_expression("a == 'b'") is compile_expression("a == 'b'")


def test_short_circuit_skips_the_other_side_at_run_time():
    def boom():
        raise RuntimeError("must not run")

    assert evaluate("false && boom()", boom=boom) is False
    assert evaluate("true || boom()", boom=boom) is True
    assert evaluate("true ? 'y' : boom()", boom=boom) == "y"
    assert evaluate("'x' ?? boom()", boom=boom) == "x"


# --- strict names -----------------------------------------------------------------------------------


def test_unknown_name_fails_even_in_a_branch_never_taken():
    error = failure("true ? 'a' : fooo_bar", foo_bar="x")
    assert error.message == "unknown name 'fooo_bar'"
    assert error.position == 13
    assert error.expression == "true ? 'a' : fooo_bar"
    assert error.hint == "did you mean 'foo_bar'?"


def test_unknown_name_without_a_close_match_has_no_hint():
    error = failure("a && zzz", a=True)
    assert (error.message, error.position, error.hint) == ("unknown name 'zzz'", 5, None)


def test_first_unknown_name_in_the_text_is_reported():
    assert failure("b == a", c=1).message == "unknown name 'b'"


# --- runtime errors: message and position ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("s && true", "operator '&&' needs bools, but its left side is string \"true\"", 2),
        ("true && s", "operator '&&' needs bools, but its right side is string \"true\"", 5),
        ("false || 1", "operator '||' needs bools, but its right side is int 1", 6),
        ("!s", "operator '!' needs a bool, got string \"true\"", 0),
        ("not nil", "operator 'not' needs a bool, got nil", 0),
        ("s ? 1 : 2", "the condition of '?:' must be a bool, got string \"true\"", 2),
        ("'1' + 1", "operator '+' cannot add string \"1\" and int 1", 4),
        ("nil + 'a'", "operator '+' cannot add nil and string \"a\"", 4),
        ("'a' - 'b'", 'operator \'-\' needs numbers, got string "a" and string "b"', 4),
        ("'a' * 2", "operator '*' needs numbers, got string \"a\" and int 2", 4),
        ("-s", "operator '-' needs a number, got string \"true\"", 0),
        ("1 / 0", "division by zero", 2),
        ("1 % 0", "division by zero", 2),
        ("1.5 % 1", "operator '%' needs integers, got float 1.5 and int 1", 4),
        ("true < false", "operator '<' cannot compare bool true and bool false", 5),
        ("[1] contains 1", "operator 'contains' needs strings, got list and int 1", 4),
        ("1 startsWith 'a'", "operator 'startsWith' needs strings, got int 1 and string \"a\"", 2),
        ("'a' in 1", "operator 'in' needs a list or a map on its right, got int 1", 4),
        ("'a' not in 1", "operator 'in' needs a list or a map on its right, got int 1", 4),
        ("nil.Path", "cannot get member 'Path' of nil (nil is nil)", 4),
        ("s.Path", "cannot get member 'Path' of string \"true\" (s)", 2),
        ("xs[3]", "index 3 out of range for xs (length 2)", 2),
        ("xs[-3]", "index -3 out of range for xs (length 2)", 2),
        ("xs['a']", 'index of xs must be an int, got string "a"', 2),
        ("m[[1]]", "cannot use list as a key of m", 1),
        ("nil[0]", "cannot index nil (nil)", 3),
        ("s(1)", 's is not a function but string "true"', 0),
        ("len(1)", "len(): needs a string, list or map, got int 1", 0),
        ("f()", "f is not a function but nil", 0),
    ],
)
def test_runtime_errors(source, message, position):
    error = failure(source, s="true", xs=[1, 2], m={}, f=None)
    assert (error.message, error.position, error.expression) == (message, position, source)


def test_string_in_a_string_hints_at_contains_or_json():
    assert failure("'a' in 'abc'").hint == "to look for a substring use 'contains'"
    assert "json.Unmarshal" in failure("'MCH' in detectors", detectors='["MCH"]').hint


def test_string_used_as_bool_or_number_has_a_hint():
    assert failure("x && true", x="true").hint == "template variables are strings: compare them, e.g. x == 'true'"
    assert "strings.Atoi" in failure("n > 1", n="2").hint


def test_members_of_objects():
    class Plugin:
        def __init__(self):
            self._token = "secret"

        def Configure(self):
            return "ok"

        @property
        def Broken(self):
            raise ValueError("no broker")

    env = {"odc": Plugin()}
    assert evaluate("odc.Configure()", **env) == "ok"
    error = failure("odc.Configur()", **env)
    assert (error.message, error.position, error.hint) == (
        "odc has no member 'Configur'",
        4,
        "did you mean 'Configure'?",
    )
    error = failure("odc._token", **env)
    assert (error.message, error.position) == ("member '_token' of odc is not accessible", 4)
    error = failure("odc.Broken", **env)
    assert (error.message, error.position) == ("odc.Broken(): ValueError: no broker", 4)


def test_exception_in_a_call_becomes_an_expression_error_at_the_call():
    def generate(name):
        raise ValueError(f"no JIT template {name!r}")

    dpl = SimpleNamespace(GenerateFromUri=generate)
    error = failure("x == 'true' ? dpl.GenerateFromUri('none') : ''", x="true", dpl=dpl)
    assert error.message == "dpl.GenerateFromUri(): ValueError: no JIT template 'none'"
    assert error.position == 18
    assert isinstance(error.__cause__, ValueError)


def test_handled_error_in_a_call_keeps_its_message_and_hint():
    def missing():
        raise NotFoundError("workflow 'x' not found", hint="list them with coconut template list")

    error = failure("  f()", f=missing)
    assert (error.message, error.hint, error.position) == (
        "f(): workflow 'x' not found",
        "list them with coconut template list",
        2,
    )


# --- syntax errors: message and position ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("", "expected an expression", 0),
        ("a )", "unexpected ')'", 2),
        ("a b", "unexpected 'b'", 2),
        ("(a", "unexpected end of expression, expected ')'", 2),
        ("f(1", "unexpected end of expression, expected ')' or ','", 3),
        ("[1", "unexpected end of expression, expected ',' or ']'", 2),
        ("{a: 1", "unexpected end of expression, expected ',' or '}'", 5),
        ("{a 1}", "unexpected '1', expected ':'", 3),
        ("a ? b", "unexpected end of expression, expected ':'", 5),
        ("a.", "unexpected end of expression, expected a name", 2),
        ("a not b", "unexpected 'b', expected 'contains' or 'endsWith' or 'in' or 'startsWith'", 6),
        ("a +", "expected an expression", 3),
        ("f(1,)", "expected an expression, found ')'", 4),
        ("x ? : y", "expected an expression, found ':'", 4),
        ("'abc", "unterminated string", 0),
        ('x + "abc', "unterminated string", 4),
        ("`abc", "unterminated string", 0),
        ("a # b", "unexpected character '#'", 2),
        (r"'a\qb'", "unknown escape '\\q' in string", 2),
        (r"'\u12'", "'\\u' needs 4 hex digits", 1),
        (r"'\U0011FFFF'", "'\\U0011FFFF' is not a character", 1),
        ("9223372036854775808", "integer 9223372036854775808 does not fit in 64 bits", 0),
    ],
)
def test_syntax_errors(source, message, position):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    error = caught.value
    assert (error.message, error.position, error.expression) == (message, position, source)


@pytest.mark.parametrize(
    ("source", "hint"),
    [("a = b", "compare with '=='"), ("a & b", "use '&&' for 'and'"), ("a | b", "use '||' for 'or'")],
)
def test_single_character_operators_have_a_hint(source, hint):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert (caught.value.message, caught.value.position, caught.value.hint) == (
        f"unexpected character '{source[2]}'",
        2,
        hint,
    )


def test_expression_error_is_a_template_error_with_a_caret():
    with pytest.raises(TemplateError) as caught:
        render("cmd --flag={{ a + }} --x", {"a": "1"})
    assert caught.value.render().splitlines() == [
        "expected an expression",
        "    cmd --flag={{ a + }} --x",
        "                      ^",
    ]


# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        ("verbatim {{x}}", "verbatim {{x}}"),
        (42, "42"),
        (-7, "-7"),
        (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (123456.0, "123456"),
        (3.0, "3"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5, "1.5"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e100, "1e+100"),
        (123456.7, "123456.7"),
        (0.1 + 0.2, "0.30000000000000004"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (["a", "b"], '["a","b"]'),
        (("a", 1), '["a",1]'),
        ([], "[]"),
        ({"b": 1, "a": [True, None]}, '{"a":[true,null],"b":1}'),
        ({2: "x", 10: "y"}, '{"10":"y","2":"x"}'),
        (["<a&b>", "é", "\n", "\u2028"], '["\\u003ca\\u0026b\\u003e","é","\\n","\\u2028"]'),
        ([1.0, 2.5, 1e21, 1e20, 1e-7, 0.000001], "[1,2.5,1e+21,100000000000000000000,1e-7,0.000001]"),
    ],
)
def test_to_text_follows_go(value, text):
    assert to_text(value) == text


def test_nan_cannot_be_written_as_json():
    with pytest.raises(ExpressionError, match="cannot write NaN as JSON"):
        to_text([float("nan")])


def test_render_splices_values_into_text():
    env = {"a": "A", "xs": ["x"], "n": None}
    assert render("-{{a}}-{{ a == 'A' }}-{{ xs }}-{{ n }}-{{ 7 / 2 }}-", env) == '-A-true-["x"]-<nil>-3.5-'
    assert render("no expressions }} here", env) == "no expressions }} here"
    assert render("{{a}}", env) == "A"


def test_render_never_rescans_its_output():
    env = {"a": "{{ b }}", "b": "never"}
    assert render("{{ a }}", env) == "{{ b }}"


def test_render_cuts_at_the_first_closing_braces():
    # As fasttemplate: '}}' inside a string literal still ends the tag, so the literal is unterminated.
    with pytest.raises(ExpressionError) as caught:
        render("x{{ '}}' }}", {})
    assert (caught.value.message, caught.value.position) == ("unterminated string", 4)
    assert render("{{ '{' }}{{ '}' }}", {}) == "{}"


def test_has_expressions():
    assert has_expressions("a {{ b }}")
    assert not has_expressions("a { b }")


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("x {{ a", "'{{' is never closed by '}}'", 2),
        ("{{ a }} {{ a", "'{{' is never closed by '}}'", 8),
        ("x {{  }} y", "empty expression between '{{' and '}}'", 2),
        ("x {{ a }}{{ fooo }}", "unknown name 'fooo'", 12),
        ("x {{ a }}{{\tfooo }}", "unknown name 'fooo'", 12),
        ("line1\n{{ a + 1 }}", "operator '+' cannot add string \"A\" and int 1", 11),
        ("{{ a }} {{ (a }}", "unexpected end of expression, expected ')'", 14),
        ("{{ xs }}", "cannot write NaN as JSON", 3),
    ],
)
def test_render_errors_point_into_the_whole_field(text, message, position):
    with pytest.raises(ExpressionError) as caught:
        render(text, {"a": "A", "foo": "f", "xs": [float("nan")]})
    error = caught.value
    assert (error.message, error.expression, error.position) == (message, text, position)
