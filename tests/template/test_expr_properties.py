"""Properties of template expressions, checked against a reference evaluator written here.

Random expression trees are printed with the fewest parentheses expr-lang's precedence allows
(plus random redundant ones), parsed by the engine and compared with a direct evaluation of the tree.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecs_engine.template.expr import ExpressionError, compile_expression, render, to_text

ENV = {"i": 3, "j": -4, "f": 2.5, "s": "ab", "t": "", "b": True, "n": None}

# Binding strength, loosest first (expr-lang): ?: || && comparisons +- */% unary ?? atoms.
LEVEL = {"?:": 0, "||": 1, "or": 1, "&&": 2, "and": 2, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "??": 7}
LEVEL.update(dict.fromkeys(["==", "!=", "<", "<=", ">", ">=", "contains", "startsWith", "endsWith"], 3))
UNARY, ATOM = 6, 8


class Invalid(Exception):
    """The reference says the expression has a type error."""


# --- trees: ("lit", value) ("var", name) ("paren", t) ("unary", op, t) ("bin", op, a, b) ("?:", c, a, b)


def show(tree) -> tuple[str, int]:
    """Source text of ``tree`` and its binding level."""
    kind = tree[0]
    if kind == "lit":
        value = tree[1]
        if isinstance(value, bool):
            return ("true" if value else "false"), ATOM
        if value is None:
            return "nil", ATOM
        return (json.dumps(value) if isinstance(value, str) else str(value)), ATOM
    if kind == "var":
        return tree[1], ATOM
    if kind == "paren":
        return f"({show(tree[1])[0]})", ATOM
    if kind == "unary":
        return tree[1] + (" " if tree[1] == "not" else "") + wrap(tree[2], UNARY), UNARY
    if kind == "bin":
        op, left, right = tree[1:]
        level = LEVEL[op]
        return f"{wrap(left, level)} {op} {wrap(right, level + 1)}", level
    condition, then, otherwise = tree[1:]
    return f"{wrap(condition, 1)} ? {wrap(then, 0)} : {wrap(otherwise, 0)}", 0


def wrap(tree, level: int) -> str:
    text, own = show(tree)
    return text if own >= level else f"({text})"


def is_number(value) -> bool:
    return type(value) in (int, float)


def ref_bool(value):
    if type(value) is not bool:
        raise Invalid
    return value


def ref_equal(a, b) -> bool:
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def ref(tree, env=ENV):
    """expr-lang semantics, evaluated directly on the tree."""
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "var":
        return env[tree[1]]
    if kind == "paren":
        return ref(tree[1], env)
    if kind == "?:":
        return ref(tree[2], env) if ref_bool(ref(tree[1], env)) else ref(tree[3], env)
    if kind == "unary":
        value = ref(tree[2], env)
        if tree[1] in ("!", "not"):
            return not ref_bool(value)
        if not is_number(value):
            raise Invalid
        return -value if tree[1] == "-" else value
    op, left, right = tree[1:]
    if op in ("&&", "and"):
        return ref_bool(ref(left, env)) and ref_bool(ref(right, env))
    if op in ("||", "or"):
        return ref_bool(ref(left, env)) or ref_bool(ref(right, env))
    if op == "??":
        value = ref(left, env)
        return ref(right, env) if value is None else value
    a, b = ref(left, env), ref(right, env)
    if op == "==":
        return ref_equal(a, b)
    if op == "!=":
        return not ref_equal(a, b)
    if op == "+" and type(a) is str and type(b) is str:
        return a + b
    if op in ("contains", "startsWith", "endsWith"):
        if type(a) is not str or type(b) is not str:
            raise Invalid
        return {"contains": b in a, "startsWith": a.startswith(b), "endsWith": a.endswith(b)}[op]
    if op in ("<", "<=", ">", ">=") and type(a) is str and type(b) is str:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if not (is_number(a) and is_number(b)):
        raise Invalid
    if op == "/":
        if b == 0:
            raise Invalid
        return float(a) / float(b)
    if op == "%":
        if type(a) is float or type(b) is float or b == 0:
            raise Invalid
        remainder = abs(a) % abs(b)  # Go truncates toward zero: the sign follows the dividend
        return remainder if a >= 0 else -remainder
    return {"+": a + b, "-": a - b, "*": a * b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def binary(ops, left, right):
    return st.builds(lambda op, a, b: ("bin", op, a, b), st.sampled_from(ops), left, right)


def ternary(condition, branch):
    return st.builds(lambda c, a, b: ("?:", c, a, b), condition, branch, branch)


def around(strategy):
    return strategy.map(lambda tree: ("paren", tree))


@st.composite
def typed_trees(draw, kind: str | None = None, depth: int | None = None):
    """Well-typed trees over ints and bools: every one evaluates, so they test precedence only."""
    kind = kind or draw(st.sampled_from(["int", "bool"]))
    depth = draw(st.integers(1, 6)) if depth is None else depth
    if depth == 0 or draw(st.integers(0, 7)) == 0:
        if kind == "int":
            return draw(
                st.one_of(st.integers(0, 99).map(lambda v: ("lit", v)), st.sampled_from([("var", "i"), ("var", "j")]))
            )
        return ("lit", draw(st.booleans()))

    def sub(of: str):
        return draw(typed_trees(of, depth - 1))

    shape = draw(st.sampled_from(["binary", "unary", "?:", "paren"] + ["binary"] * 3))
    if shape == "?:":
        return ("?:", sub("bool"), sub(kind), sub(kind))
    if shape == "paren":
        return ("paren", sub(kind))
    if shape == "unary":
        return ("unary", "-" if kind == "int" else draw(st.sampled_from(["!", "not"])), sub(kind))
    if kind == "int":
        return ("bin", draw(st.sampled_from(["+", "-", "*"])), sub("int"), sub("int"))
    op = draw(st.sampled_from(["&&", "||", "and", "or", "==", "!=", "<", "<=", ">", ">="]))
    operands = "bool" if op in ("&&", "||", "and", "or") or (op in ("==", "!=") and draw(st.booleans())) else "int"
    return ("bin", op, sub(operands), sub(operands))


LEAVES = {
    "num": st.one_of(
        st.integers(0, 20).map(lambda v: ("lit", v)), st.sampled_from([("var", "i"), ("var", "j"), ("var", "f")])
    ),
    "str": st.one_of(
        st.text("ab\"'\\{}", max_size=3).map(lambda v: ("lit", v)), st.sampled_from([("var", "s"), ("var", "t")])
    ),
    "bool": st.one_of(st.booleans().map(lambda v: ("lit", v)), st.just(("var", "b"))),
    "nil": st.sampled_from([("lit", None), ("var", "n")]),
}
SHAPES = {
    "num": ["+", "-", "*", "/", "%", "-x", "+x", "?:", "??", "()"],
    "str": ["+", "?:", "??", "()"],
    "bool": ["&&", "||", "and", "or", "==", "!=", "<", "<=", ">", ">=", "contains", "startsWith", "endsWith", "!x"],
    "nil": ["?:", "??", "()"],
}


@st.composite
def mixed_trees(draw, kind: str = "bool", depth: int | None = None):
    """Trees over numbers, strings, bools and nil that are mostly well typed, with wrong types mixed in."""
    depth = draw(st.integers(1, 5)) if depth is None else depth
    if depth == 0 or draw(st.integers(0, 5)) == 0:
        return draw(LEAVES[kind])

    def sub(of: str):
        if draw(st.integers(0, 7)) == 0:  # a wrong type here and there
            of = draw(st.sampled_from(sorted(LEAVES)))
        return draw(mixed_trees(of, depth - 1))

    shape = draw(st.sampled_from(SHAPES[kind]))
    if shape == "()":
        return ("paren", sub(kind))
    if shape == "?:":
        return ("?:", sub("bool"), sub(kind), sub(kind))
    if shape == "??":
        return ("bin", "??", sub(draw(st.sampled_from(["nil", kind]))), sub(kind))
    if shape.endswith("x"):
        return ("unary", draw(st.sampled_from(["!", "not"])) if kind == "bool" else shape[0], sub(kind))
    if shape in ("&&", "||", "and", "or"):
        return ("bin", shape, sub("bool"), sub("bool"))
    if kind == "bool":
        operands = {"==": None, "!=": None, "contains": "str", "startsWith": "str", "endsWith": "str"}.get(shape, "")
        operands = operands or draw(st.sampled_from(["num", "str"] if operands == "" else sorted(LEAVES)))
        return ("bin", shape, sub(operands), sub(operands))
    return ("bin", shape, sub(kind), sub(kind))


def check_against_reference(tree, env=ENV):
    source, _ = show(tree)
    try:
        expected = ref(tree, env)
    except Invalid:
        with pytest.raises(ExpressionError):
            compile_expression(source).evaluate(env)
        return
    actual = compile_expression(source).evaluate(env)
    assert actual == expected and type(actual) is type(expected), source


@given(typed_trees())
def test_precedence_matches_the_reference(tree):
    check_against_reference(tree)


@given(st.sampled_from(sorted(LEAVES)).flatmap(mixed_trees))
def test_types_are_strict_and_errors_are_expression_errors(tree):
    check_against_reference(tree)


scalars = st.one_of(
    st.integers(-2, 2), st.sampled_from([0.0, 1.0, -1.5, 2.5]), st.text("ab", max_size=2), st.booleans(), st.none()
)


@given(scalars, scalars)
def test_every_operator_on_every_pair_of_types(left, right):
    for op in sorted(LEVEL.keys() - {"?:"}):
        check_against_reference(("bin", op, ("var", "x"), ("var", "y")), {"x": left, "y": right})
    for op in ("!", "not", "-", "+"):
        check_against_reference(("unary", op, ("var", "x")), {"x": left})


KEYWORDS = {"true", "false", "nil", "not", "and", "or", "in", "contains", "startsWith", "endsWith", "len"}
unknown_names = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8).filter(
    lambda name: not name[0].isdigit() and name not in KEYWORDS and name not in ENV
)


@given(typed_trees("bool"), unknown_names, st.sampled_from(["false && {}", "true || {}", "true ? 1 : {}", "1 ?? {}"]))
def test_unknown_name_fails_in_an_untaken_branch(condition, name, shape):
    prefix = f"({show(condition)[0]}) || "
    source = prefix + "(" + shape.format(name) + " ) == 1"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source).evaluate(ENV)
    assert caught.value.message == f"unknown name '{name}'"
    assert caught.value.position == len(prefix) + 1 + shape.index("{}")


# --- rendering -------------------------------------------------------------------------------


@given(st.booleans())
def test_bools_render_as_go_does(value):
    assert to_text(value) == ("true" if value else "false")


@given(st.integers(-(2**63), 2**63 - 1))
def test_ints_render_in_decimal(value):
    assert to_text(value) == str(value)


@given(st.text())
def test_strings_render_verbatim(value):
    assert to_text(value) == value


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != 0))
def test_floats_render_round_trip_with_the_exponent_rule(value):
    text = to_text(value)
    assert float(text) == value
    exponent = Decimal(repr(value)).adjusted()
    assert ("e" in text) == (exponent < -4 or exponent >= 6), text
    assert re.fullmatch(r"-?\d+(\.\d*[1-9])?(e[+-]\d\d+)?", text), text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=10,
)


@given(st.lists(json_values, max_size=5))
def test_lists_render_as_compact_go_json(value):
    text = to_text(value)
    assert json.loads(text) == value
    assert not set(text) & set("<>&")
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).replace(
        "<", "\\u003c"
    ).replace(">", "\\u003e").replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


literal_parts = st.text().filter(lambda part: "{{" not in part and not part.endswith("{"))


@given(st.lists(st.tuples(literal_parts, st.text()), max_size=4), literal_parts)
def test_render_never_rescans_its_output(pieces, tail):
    env = {f"v{index}": value for index, (_, value) in enumerate(pieces)}
    text = "".join(f"{literal}{{{{ v{index} }}}}" for index, (literal, _) in enumerate(pieces)) + tail
    assert render(text, env) == "".join(literal + value for literal, value in pieces) + tail
