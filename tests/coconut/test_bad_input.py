"""Bad input to coconut: one line naming the file, setting or argument and what was expected, and the exit status
of ``ExitStatus`` (2 for a malformed argument or setting), never a traceback."""

from __future__ import annotations

from ecs_engine.errors import ExitStatus


def one_error(result) -> str:
    """The single ``coconut: error:`` line a refused command printed."""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coconut: error: "), result.err
    return lines[0]


def test_a_settings_file_with_a_yaml_syntax_error_is_one_line_with_its_line_number(coconut):
    bad = coconut.tmp / "bad.yaml"
    bad.write_text("endpoint: [1,2\n")
    result = coconut("--config", str(bad), "about")
    assert result.status == ExitStatus.USAGE
    assert (
        one_error(result)
        == f"coconut: error: settings file {bad}:2: not valid YAML: expected ',' or ']', but got '<stream end>'"
    )
