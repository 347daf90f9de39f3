"""Layered settings: defaults < /etc/coconut/settings.yaml < the user's file < ./coconut.yaml < COCONUT_* < flags,
and ``coconut settings show --origin`` naming where each value came from (coconut in-process, the core's loader)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from coconut.cli import main
from coconut.context import CliContext
from ecs_engine.server.layered_settings import SYSTEM_FILE_VARIABLE
from ecs_engine.server.settings import CoreSettings


class Layers:
    """A system file (through COCONUT_SYSTEM_SETTINGS: tests never write /etc), a user config directory and a
    working directory, each empty until a test writes it."""

    def __init__(self, root: Path):
        self.root = root
        self.system = root / "etc" / "settings.yaml"
        self.config_dir = root / "config"
        self.cwd = root / "work"
        for directory in (self.system.parent, self.config_dir, self.cwd):
            directory.mkdir(parents=True)
        self.environ: dict[str, str] = {SYSTEM_FILE_VARIABLE: str(self.system)}

    def write(self, where: str, values: dict) -> Path:
        path = {"system": self.system, "user": self.config_dir / "settings.yaml", "site": self.cwd / "coconut.yaml"}
        path[where].write_text(yaml.safe_dump(values))
        return path[where]

    def coconut(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        cli = CliContext(
            stdout=out,
            stderr=err,
            environ=self.environ,
            config_dir=self.config_dir,
            data_dir=self.root / "data",
            state_dir=self.root / "state",
            cwd=self.cwd,
        )
        status = main(list(args), cli=cli)
        return status, out.getvalue(), err.getvalue()

    def show(self, *flags: str) -> dict:
        status, out, err = self.coconut(*flags, "settings", "show", "--origin", "-o", "json")
        assert status == 0, err
        data = json.loads(out)
        return {key: (value, data["origins"][key]) for key, value in data["settings"].items()}


def test_a_setting_no_layer_sets_has_its_built_in_default(tmp_path):
    assert Layers(tmp_path).show()["timeout"] == ("5m", "default")


def test_the_system_file_beats_the_defaults(tmp_path):
    layers = Layers(tmp_path)
    system = layers.write("system", {"timeout": "7m"})
    assert layers.show()["timeout"] == ("7m", str(system))


def test_the_user_file_beats_the_system_file_key_by_key(tmp_path):
    layers = Layers(tmp_path)
    system = layers.write("system", {"timeout": "7m", "core": {"instance_name": "lab"}})
    user = layers.write("user", {"timeout": "8m", "core": {"nodes": ["flp001"]}})
    shown = layers.show()
    assert shown["timeout"] == ("8m", str(user))
    assert shown["core.nodes"] == (["flp001"], str(user))
    assert shown["core.instance_name"] == ("lab", str(system))  # the user's core section did not hide it


def test_the_working_directory_file_beats_the_user_file(tmp_path):
    layers = Layers(tmp_path)
    layers.write("user", {"timeout": "8m"})
    site = layers.write("site", {"timeout": "9m"})
    assert layers.show()["timeout"] == ("9m", str(site))


def test_an_environment_variable_beats_the_files_with_the_type_of_the_setting(tmp_path):
    layers = Layers(tmp_path)
    layers.write("site", {"timeout": "9m", "core": {"require_token": True}})
    layers.environ.update(COCONUT_TIMEOUT="10m", COCONUT_CORE_REQUIRE_TOKEN="false")
    shown = layers.show()
    assert shown["timeout"] == ("10m", "env COCONUT_TIMEOUT")
    assert shown["core.require_token"] == (False, "env COCONUT_CORE_REQUIRE_TOKEN")


def test_a_flag_beats_the_environment(tmp_path):
    layers = Layers(tmp_path)
    layers.environ["COCONUT_ENDPOINT"] = "127.0.0.1:1111"
    assert layers.show("--endpoint", "127.0.0.1:2222")["endpoint"] == ("127.0.0.1:2222", "flag --endpoint")


def test_settings_show_origin_prints_each_value_and_where_it_came_from(tmp_path):
    layers = Layers(tmp_path)
    system = layers.write("system", {"core": {"startup_timeout": "40s"}})
    layers.environ["COCONUT_TIMEOUT"] = "10m"
    status, out, err = layers.coconut("settings", "show", "--origin")
    assert status == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip() and "." in line}
    assert rows["core.startup_timeout"] == ["40s", str(system)]
    assert rows["log.level"] == ["info", "default"]
    assert f"settings files read: {system}" in err
    assert "COCONUT_TIMEOUT" in out and "10m" in out


def test_an_unknown_key_is_warned_with_the_closest_known_name(tmp_path):
    layers = Layers(tmp_path)
    user = layers.write("user", {"core": {"startup_timout": "40s"}})
    status, _, err = layers.coconut("settings", "show")
    assert status == 0
    assert f"settings file {user}: unknown setting 'core.startup_timout' (did you mean 'core.startup_timeout'?)" in err


def test_the_core_reads_the_same_layers(tmp_path, monkeypatch):
    layers = Layers(tmp_path)
    layers.write("system", {"core": {"startup_timeout": "40s", "instance_name": "lab"}})
    user = layers.write("user", {"core": {"instance_name": "mine"}})
    layers.write("site", {"core": {"configure_timeout": "50s"}})
    monkeypatch.chdir(layers.cwd)
    environ = {**layers.environ, "COCONUT_CORE_DEPLOY_TIMEOUT": "60s"}
    core = CoreSettings.load(user, data_dir=tmp_path / "data", state_dir=tmp_path / "state", environ=environ)
    assert (core.startup_timeout, core.instance_name, core.configure_timeout) == (40.0, "mine", 50.0)
    assert core.deploy_timeout == 60.0


def test_a_bad_value_is_named_by_the_layer_it_came_from(tmp_path):
    """COCONUT_TIMEOUT=abc set in a shell profile long ago: the error names the variable, not only the setting."""
    layers = Layers(tmp_path)
    layers.environ.update(COCONUT_EMBEDDED_CORE="false", COCONUT_TIMEOUT="abc", COCONUT_ENDPOINT="127.0.0.1:1")
    status, _, err = layers.coconut("env", "list")
    assert status == 2
    assert err.startswith("coconut: error: environment variable COCONUT_TIMEOUT: invalid duration 'abc'"), err
    layers.environ.update(COCONUT_ENDPOINT="nowhere")
    assert layers.coconut("env", "list")[2].startswith(
        "coconut: error: environment variable COCONUT_ENDPOINT 'nowhere': expected HOST:PORT"
    )
    del layers.environ["COCONUT_TIMEOUT"], layers.environ["COCONUT_ENDPOINT"]
    layers.environ["COCONUT_TLS_CA"] = str(tmp_path / "nowhere.pem")  # was 'internal error: FileNotFoundError'
    status, _, err = layers.coconut("env", "list")
    assert status == 2 and err.startswith(
        f"coconut: error: environment variable COCONUT_TLS_CA: cannot read the CA certificate '{tmp_path}/nowhere.pem'"
    ), err
    del layers.environ["COCONUT_TLS_CA"]
    site = layers.write("site", {"timeout": "soon"})
    assert layers.coconut("env", "list")[2].startswith(f"coconut: error: settings file {site}: timeout: invalid")
    layers.environ["COCONUT_CORE_DEPLOY_TIMEOUT"] = "abc"  # the core's settings, read through the same layers
    status, _, err = layers.coconut("core", "serve", "--listen", "127.0.0.1:1")
    assert status == 2
    assert err.startswith("coconut: error: environment variable COCONUT_CORE_DEPLOY_TIMEOUT: invalid duration"), err
