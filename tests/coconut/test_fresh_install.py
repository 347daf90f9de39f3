"""A fresh install (no repository added): the built-in examples are the repository 'examples'."""

from __future__ import annotations

from tests.coconut.conftest import Runner


def test_template_list_shows_the_built_in_examples(coconut: Runner):
    for args in ((), ("examples",), ("examples@local",)):
        result = coconut("template", "list", *args)
        assert result.status == 0, result.err
        assert "examples" in result.out and "dataflow-demo" in result.out, result.out
