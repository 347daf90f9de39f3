"""A coconut command that only asks the core something loads no server code: its cold start is the user's wait
(issue 19: ``env list`` took 360-420 ms, of which importing the core's service module for two constants)."""

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


def test_env_list_against_a_running_core_imports_no_server_module(tmp_path):
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
        loaded = [m for m in report["modules"] if m.startswith(SERVER_SIDE)]
        assert loaded == [], f"coconut env list imported server modules: {loaded}"
    finally:
        daemon.stop(state)
