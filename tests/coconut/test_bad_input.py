"""Bad input to coconut: one line naming the file, setting or argument and what was expected, and the exit status
of ``ExitStatus`` (2 for a malformed argument or setting), never a traceback."""

from __future__ import annotations

import socket

import pytest

from ecs_engine.errors import ExitStatus, UsageError


def one_error(result) -> str:
    """The single ``coconut: error:`` line a refused command printed."""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coconut: error: "), result.err
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # a YAML syntax error (PyYAML's own text is 8 lines), a section given a value, a yes/no setting
        ("endpoint: [1,2\n", ":2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        ("core: [a]\n", ": 'core' must be a map of settings (core.NAME: VALUE), got list ['a']"),
        ("embedded_core: maybe\n", ": embedded_core: expected true or false, got 'maybe'"),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_the_file_and_what_is_wrong(coconut, text, expected):
    bad = coconut.tmp / "bad.yaml"
    bad.write_text(text)
    result = coconut("--config", str(bad), "about")
    assert result.status == ExitStatus.USAGE
    assert one_error(result) == f"coconut: error: settings file {bad}{expected}"


def test_settings_of_the_right_type_and_an_empty_section_are_taken(coconut):
    good = coconut.tmp / "good.yaml"
    good.write_text("embedded_core: 'no'\nverbose: yes\napricot:\ncore:\n  journal_keep_days: '3'\n")
    result = coconut("--config", str(good), "settings", "show", "-o", "json")
    assert result.status == ExitStatus.OK, result.err
    assert '"embedded_core": false' in result.out and '"verbose": true' in result.out
    assert '"core.journal_keep_days": 3' in result.out and '"core.journal_keep_days": 3.0' not in result.out


@pytest.mark.parametrize(
    ("command", "port", "expected"),
    [
        (("mock", "dcs", "-p"), "99999", "0-65535"),
        (("mock", "dcs", "-p"), "-1", "0-65535"),
        (("apricot", "serve", "--port"), "99999", "1-65535"),
    ],
)
def test_every_port_option_is_checked_before_anything_binds(coconut, command, port, expected):
    result = coconut(*command, port)
    assert result.status == ExitStatus.USAGE
    assert one_error(result) == f"coconut: error: --port {port}: the port must be {expected}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--config-endpoint", "foo://bar", "config", "list"),
            "unknown configuration store scheme 'foo://' in foo://bar",
        ),
        (
            ("--config-endpoint", "notaurl", "config", "list"),
            "bad configuration store URL 'notaurl': expected SCHEME://",
        ),
        (("--config-endpoint", "etcd://h:p", "config", "list"), "bad etcd endpoint 'h:p' in etcd://h:p"),
        (("config", "migrate", "--to", "foo://x"), "unknown configuration store scheme 'foo://' in foo://x"),
    ],
)
def test_a_malformed_store_url_is_a_usage_error(coconut, args, expected):
    result = coconut(*args)
    assert result.status == ExitStatus.USAGE
    assert result.err.startswith(f"coconut: error: {expected}"), result.err


def test_a_malformed_broker_is_a_usage_error_before_kafka_is_tried(coconut):
    result = coconut("mock", "lhc", "--broker", "nonsense")
    assert result.status == ExitStatus.USAGE
    assert one_error(result) == "coconut: error: --broker 'nonsense': expected HOST:PORT, e.g. 127.0.0.1:9092"


def test_a_negative_line_count_is_a_usage_error(coconut):
    result = coconut("task", "logs", "some-task", "-n", "-3")
    assert result.status == ExitStatus.USAGE
    assert one_error(result) == "coconut: error: --lines: expected 0 (all) or a positive number, got -3"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--bogus",), "No such option: --bogus"),
        (("env", "list", "--outpt", "json"), "No such option: --outpt (Possible options: --output)"),
        (("env", "lst"), "No such command 'lst'. Did you mean 'list'?"),
        (("inventory", "hosts"), "No such command 'inventory'. (it is 'coconut config inventory')"),
        (  # a top-level option given after the command: where it goes
            ("config", "list", "--config-endpoint", "memory://"),
            "No such option: --config-endpoint (--config-endpoint is coconut's own option: give it before the"
            " command: 'coconut --config-endpoint CONFIG_ENDPOINT config list ...')",
        ),
        (("template", "plan"), "Missing option '-w' / '--workflow-template'."),
        (("events", "query", "--limit", "x"), "Invalid value for '--limit': "),
    ],
)
def test_the_parser_s_errors_are_one_error_line_with_its_suggestion(coconut, args, expected):
    result = coconut(*args)
    assert result.status == ExitStatus.USAGE
    assert one_error(result).startswith(f"coconut: error: {expected}")


@pytest.mark.parametrize("command", [("config", "list"), ("config", "init")])
def test_a_sqlite_store_in_a_missing_directory_is_refused_and_nothing_is_created(coconut, command):
    missing = coconut.tmp / "no" / "such"
    result = coconut("--config-endpoint", f"sqlite:///{missing / 'x.sqlite'}", *command)
    assert result.status == ExitStatus.FAILED
    first = result.err.splitlines()[0]
    assert (
        first
        == f"coconut: error: configuration database {missing / 'x.sqlite'}: the directory {missing} does not exist"
    )
    assert not (coconut.tmp / "no").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("template", "validate", "--config-endpoint", "{url}"),
        ("template", "plan", "-w", "readout", "--config-endpoint", "{url}"),
        ("--config-endpoint", "{url}", "config", "list"),
        ("config", "migrate", "--from", "{url}", "--to", "sqlite:///{tmp}/copy.sqlite"),
    ],
)
def test_a_site_file_that_is_not_there_is_a_usage_error_naming_the_url_and_the_path(coconut, command):
    """A mistyped path is told apart from broken templates (exit 1) by a script: exit 2, as for any bad store URL."""
    missing = coconut.tmp / "no" / "site.yaml"
    url = f"file://{missing}"
    result = coconut(*(arg.format(url=url, tmp=coconut.tmp) for arg in command))
    assert result.status == ExitStatus.USAGE
    assert one_error(result) == f"coconut: error: configuration store URL {url}: the file {missing} does not exist"


def test_whole_number_settings_stay_whole_in_settings_show_and_errors(coconut):
    from ecs_engine.server.journal_retention import journal_retention
    from ecs_engine.server.layered_settings import _typed

    shown = coconut("settings", "show", "-o", "json").out
    assert '"core.journal_keep_days": 90,' in shown  # the default, as docs/events.md writes it (was 90.0)
    with pytest.raises(UsageError, match=r"got '-3'$"):  # as typed (was '-3.0')
        journal_retention({"journal_keep_days": _typed("-3", 90, "core.journal_keep_days")})


def test_apricot_on_a_port_in_use_says_only_that(coconut):
    """Without the token check, apricot warns that anyone reaching it reads the store: once it listens (the warning
    came first, before the refusal, about a port it never served)."""
    settings = coconut.tmp / "open.yaml"
    settings.write_text("core:\n  require_token: false\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = coconut("--config", str(settings), "apricot", "serve", "--port", str(port))
    assert result.status == ExitStatus.REFUSED
    assert result.err.splitlines() == [
        f"coconut: error: cannot start apricot on 127.0.0.1:{port}: something listens there already",
        "  hint: choose another --port",
    ]


def test_a_core_that_exits_at_start_over_a_bad_setting_is_that_usage_error(coconut):
    """``core start`` answers with the core's own error and its exit status (2 for a site file that is not there),
    not "the core exited with code 2" and exit 1 (a script could not tell a typo from a failure)."""
    missing = coconut.tmp / "no" / "site.yaml"
    settings = coconut.tmp / "settings.yaml"
    settings.write_text(f"config_endpoint: file://{missing}\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = coconut("--config", str(settings), "core", "start", "--listen", f"127.0.0.1:{port}")
    assert result.status == ExitStatus.USAGE
    lines = result.err.splitlines()
    assert lines[0] == (
        f"coconut: error: the core could not start: configuration store URL file://{missing}: "
        f"the file {missing} does not exist"
    )
    assert lines[1:] == [f"  hint: full log: {coconut.tmp / 'state' / 'core.log'}"], result.err
