"""A coconut command that only asks the core something loads no server code, no other command's module and no
pydantic: its cold start is the user's wait (issue 19: ``env list`` took 360-440 ms, of which the core's service
module for two constants, every command module up front, and typer's pydantic conversion of the options)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ecs_engine.server import daemon

from ..e2e.conftest import free_port

pytestmark = pytest.mark.slow

#: what a command talking to a running core never needs: the core itself, its engine, executor and templates
SERVER_SIDE = (
    "ecs_engine.server.service",
    "ecs_engine.server.core",
    "ecs_engine.environment",
    "ecs_engine.tasks.executor",
    "ecs_engine.template",
    "ecs_backends",
)
PROGRAM = """
import json, sys
from coconut.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def env_list_modules(tmp_path_factory):
    """The modules a fresh interpreter holds after ``coconut env list -o json`` against a running core."""
    tmp_path = tmp_path_factory.mktemp("cli-imports")
    directories = {name: tmp_path / name for name in ("config", "data", "state")}
    endpoint = f"127.0.0.1:{free_port()}"
    state = directories["state"] / "coconut"
    daemon.start(endpoint=endpoint, data_dir=directories["data"] / "coconut", state_dir=state, settings_path=None)
    try:
        environ = {**os.environ, **{f"XDG_{name.upper()}_HOME": str(path) for name, path in directories.items()}}
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM, "--endpoint", endpoint, "env", "list", "-o", "json"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
        *_, last = done.stdout.strip().splitlines()
        report = json.loads(last)
        assert report["status"] == 0, done.stderr
        return report["modules"]
    finally:
        daemon.stop(state)


def test_env_list_against_a_running_core_imports_no_server_module(env_list_modules):
    loaded = [m for m in env_list_modules if m.startswith(SERVER_SIDE)]
    assert loaded == [], f"coconut env list imported server modules: {loaded}"


def test_env_list_imports_no_other_command_module(env_list_modules):
    commands = [m for m in env_list_modules if m.startswith("coconut.commands.")]
    assert commands == ["coconut.commands.env"]


def test_env_list_converts_its_options_without_pydantic(env_list_modules):
    assert [m for m in env_list_modules if m.startswith("pydantic")] == []
