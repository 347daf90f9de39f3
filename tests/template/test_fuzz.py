"""Fuzzing: mutated real templates and random expressions give clear errors (TemplateError), never a crash.

Bounded so the file runs in a few seconds; each mutation kind that once crashed (invalid UTF-8, alias bombs,
deep nesting, huge integers) is drawn on purpose, besides random byte flips and truncations.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_engine.plugins import plugin_manager
from ecs_engine.template.expr import ExpressionError, render
from ecs_engine.template.functions import static_objects
from ecs_engine.template.validate import validate_paths
from tests.conftest import CW_079, CW_145

#: the corpus fixture is a constant path and each example restores the file it mutates
FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PLUGINS = plugin_manager()
TEMPLATES = [
    path.relative_to(repo.parent)
    for repo in (CW_145, CW_079)
    for kind in ("workflows", "tasks")
    for path in sorted((repo / kind).glob("*.yaml"))
]


def alias_bomb(levels: int) -> bytes:
    lines = ["zz0: &zz0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"zz{n}: &zz{n} [{', '.join([f'*zz{n - 1}'] * 9)}]" for n in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def deep_expression(depth: int, kind: str) -> str:
    if kind == "brackets":
        return "(" * depth + "1" + ")" * depth
    if kind == "chain":
        return " + ".join(["1"] * depth)
    return "!" * depth + "true"


@st.composite
def mutations(draw):
    """(name, function of the file's bytes) for one mutation."""
    kind = draw(st.sampled_from(["flip", "truncate", "utf8", "bomb", "expression", "integer"]))
    where = draw(st.floats(0, 1))
    if kind == "flip":
        flips = draw(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8))

        def flip(data: bytes) -> bytes:
            out = bytearray(data)
            for at, value in flips:
                out[min(int(at * len(out)), len(out) - 1)] = value
            return bytes(out)

        return kind, flip
    if kind == "truncate":
        return kind, lambda data: data[: int(where * len(data))]
    if kind == "utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        return kind, lambda data: data[: int(where * len(data))] + bad + data[int(where * len(data)) :]
    if kind == "bomb":
        levels = draw(st.integers(2, 12))
        return kind, lambda data: data + b"\n" + alias_bomb(levels)
    if kind == "expression":
        text = deep_expression(draw(st.integers(1, 600)), draw(st.sampled_from(["brackets", "chain", "not"])))
    else:
        text = "9" * draw(st.integers(15, 6000))
    return kind, lambda data: data.replace(b"{{", b"{{ " + text.encode() + b" + ", 1)


@FUZZ
@given(index=st.integers(0, 10**6), mutation=mutations())
def test_mutated_corpus_templates_give_template_errors_only(corpus, tmp_path, index, mutation):
    if not (tmp_path / CW_145.name).is_dir():
        for repo in (CW_145, CW_079):
            shutil.copytree(repo, tmp_path / repo.name)
    relative = TEMPLATES[index % len(TEMPLATES)]
    original = (corpus.parent / relative).read_bytes()
    target = tmp_path / relative
    target.write_bytes(mutation[1](original))
    try:
        report = validate_paths([tmp_path / relative.parts[0]], plugins=PLUGINS, config=None, user_vars={})
    finally:
        target.write_bytes(original)
    results = {Path(result.file): result for result in report.results}
    assert target in results
    other_tasks = [r for path, r in results.items() if r.kind == "task" and path != target]
    assert other_tasks and all(r.ok for r in other_tasks)  # one bad file does not stop the others


TOKENS = ["(", ")", "[", "]", "{", "}", "x", "s", "1", "9" * 4400, "'a'", "+", "-", "*", "/", "%", "!", "?", ":"]
TOKENS += ["==", "&&", "||", "??", ".", ",", "in", "len", "json.Unmarshal", "strings.Atoi", "nil", "true", " "]


@settings(max_examples=150, deadline=timedelta(seconds=2), database=None)
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=30),
    depth=st.integers(0, 700),
    wrapper=st.sampled_from(["({})", "[{}]", "!{}", "-{}", "{} + 1", "x ? {} : 1", "len({})", "{}[0]"]),
)
def test_random_expressions_give_expression_errors_only(tokens, depth, wrapper):
    expression = "".join(tokens) or "1"
    for _ in range(depth):
        expression = wrapper.format(expression)
    env = {"x": True, "s": '[[["deep"]]]', **static_objects()}
    try:
        render("{{ " + expression + " }}", env)
    except ExpressionError as error:
        assert error.position is not None and error.expression is not None
