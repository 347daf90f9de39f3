"""Glob patterns (ecs_engine.globs): repository and revision names, and role paths with "." as separator."""

from __future__ import annotations

import pytest

from ecs_engine.errors import UsageError
from ecs_engine.globs import compile_glob, is_glob


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("flp-suite-v*", "flp-suite-v1.45.0", True),
        ("flp-suite-v*", "master", False),
        ("*", "feature/with/slashes", True),
        ("v?", "v1", True),
        ("v?", "v10", False),
        ("v[12]", "v2", True),
        ("v[!12]", "v2", False),
        ("v[0-9].0", "v7.0", True),
        ("{master,main}", "main", True),
        ("{master,main}", "mainline", False),
        ("flp-suite-v{0.1,1.*}", "flp-suite-v1.45.0", True),
        ("a.b", "aXb", False),
        (r"v\*", "v*", True),
        (r"v\*", "v1", False),
        ("*AliceO2Group*", "github.com/AliceO2Group/ControlWorkflows", True),
    ],
)
def test_matching(pattern, name, expected):
    assert (compile_glob(pattern).match(name) is not None) is expected


def test_is_glob():
    assert is_glob("v*") and is_glob("{a,b}") and is_glob("v[12]")
    assert not is_glob("flp-suite-v1.45.0")


@pytest.mark.parametrize(
    ("pattern", "message"), [("v[12", "never closed"), ("{a,b", "never closed"), ("v\\", "trailing")]
)
def test_malformed(pattern, message):
    with pytest.raises(UsageError, match=message):
        compile_glob(pattern)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("dataflow-demo.*.producer", "dataflow-demo.flp001.producer", True),
        ("dataflow-demo.*", "dataflow-demo.flp001.producer", False),
        ("dataflow-demo.**", "dataflow-demo.flp001.producer", True),
        ("**", "a.b.c", True),
        ("a.?.c", "a.b.c", True),
        ("a.?", "a..", False),
        ("a.{b,c}.d", "a.c.d", True),
        ("a.[!x].d", "a.y.d", True),
        ("a**", "a", True),  # ** is any run of characters, the empty one too
        ("a**", "a.b.c", True),
        ("a.**.d", "a.b.c.d", True),
        ("a.**.d", "a.d", False),  # the dots around it are literal
        ("**.d", "a.b.d", True),
        ("*.d", "a.b.d", False),
        ("a.*.**", "a.b", False),
        ("a,b", "a,b", True),  # a comma outside braces is a plain character
        ("a,b", "a", False),
    ],
)
def test_role_paths_use_the_dot_as_separator(pattern, path, expected):
    """``*`` and ``?`` stay within a role path level, ``**`` crosses levels (gobwas Compile(p, '.'))."""
    assert (compile_glob(pattern, separator=".").match(path) is not None) is expected
