"""A coconut command that only asks the core something loads no server code, no other command's module, no
pydantic and no rich, and asks the core over one channel: its cold start is the user's wait (issue 19: ``env
list`` took 360-440 ms, of which the core's service module for two constants, every command module up front,
typer's pydantic conversion of the options, rich's import and table layout, and a second connection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ecs_engine.occ.multipeer import running_hub, write_repo
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token
from ecs_engine.server.client import CoreClient

from ..e2e.conftest import free_port
from ..ports import own_port_range

pytestmark = pytest.mark.slow

#: what a command talking to a running core never needs: the core itself, its engine, executor and templates
SERVER_SIDE = (
    "ecs_engine.server.service",
    "ecs_engine.server.core",
    "ecs_engine.server.settings",
    "ecs_engine.environment",
    "ecs_engine.tasks.executor",
    "ecs_engine.template",
    "ecs_backends",
)
#: what the command's own code does not need either: the plugin manager, pydantic, rich, and for text output json
#: and the core's token checking (hmac, secrets: ~5M instructions each)
HEAVY = ("ecs_engine.plugins", "pluggy", "pydantic", "rich", "json", "hmac", "secrets")
#: runs one command line in a fresh interpreter, counting the channels it opens and the RPCs it makes
PROGRAM = """
import sys
import grpc

channels, rpcs = [], []

class Recorder(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def intercept_unary_unary(self, continuation, details, request):
        rpcs.append(details.method.rsplit("/", 1)[-1])
        return continuation(details, request)

    intercept_unary_stream = intercept_unary_unary

plain = grpc.insecure_channel
def recorded(*args, **kwargs):
    channels.append(args[0])
    return grpc.intercept_channel(plain(*args, **kwargs), Recorder())
grpc.insecure_channel = recorded

from coconut.cli import main
status = main(sys.argv[1:])
modules = sorted(sys.modules)
dataclasses = [
    f"{name}.{attribute}"
    for name, module in list(sys.modules.items()) if name.startswith(("coconut", "ecs_engine"))
    for attribute, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == name and "__dataclass_fields__" in vars(value)
]
import json
print(json.dumps({"status": status, "modules": modules, "channels": channels, "rpcs": rpcs,
                  "dataclasses": dataclasses}))
"""


@pytest.fixture(scope="module")
def run_coconut(tmp_path_factory):
    """Runs a coconut command line in a fresh interpreter against a running core holding one public and one
    private environment of ten fast tasks; returns what it loaded, the channels it opened and the RPCs it made."""
    tmp_path = tmp_path_factory.mktemp("cli-imports")
    directories = {name: tmp_path / name for name in ("config", "data", "state")}
    endpoint = f"127.0.0.1:{free_port()}"
    state = directories["state"] / "coconut"
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"core:\n  ports: {own_port_range()}\n  nodes: [h0000]\n")
    with running_hub(tmp_path / "hub.fifo") as fifo:
        repo = write_repo(tmp_path / "repo", fifo)
        daemon.start(
            endpoint=endpoint, data_dir=directories["data"] / "coconut", state_dir=state, settings_path=settings
        )
        try:
            with CoreClient(endpoint, timeout=120, token=read_token(state)) as core:
                for public in (True, False):
                    request = pb.NewEnvironmentRequest(
                        workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": '["h0000"]'}, public=public
                    )
                    core.call("NewEnvironment", request)
            environ = {**os.environ, **{f"XDG_{name.upper()}_HOME": str(path) for name, path in directories.items()}}

            def run(*args: str) -> dict:
                done = subprocess.run(
                    [sys.executable, "-c", PROGRAM, "--endpoint", endpoint, *args],
                    env=environ,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                *shown, last = done.stdout.strip().splitlines()
                report = json.loads(last)
                assert report["status"] == 0, done.stderr
                return {**report, "out": "\n".join(shown)}

            yield run
        finally:
            daemon.stop(state)


@pytest.fixture(scope="module")
def env_list(run_coconut):
    return run_coconut("env", "list")


@pytest.mark.parametrize("args", [("env", "list"), ("env", "list", "-o", "json")])
def test_env_list_against_a_running_core_imports_no_server_module(run_coconut, args):
    loaded = [m for m in run_coconut(*args)["modules"] if m.startswith(SERVER_SIDE)]
    assert loaded == [], f"coconut {' '.join(args)} imported server modules: {loaded}"


def test_env_list_imports_no_other_command_module(env_list):
    commands = [m for m in env_list["modules"] if m.startswith("coconut.commands.")]
    assert commands == ["coconut.commands.env"]


def test_env_list_loads_neither_pydantic_nor_rich_nor_the_plugin_manager(env_list):
    assert "scale" in env_list["out"]  # the table of the public environment was printed
    assert [m for m in env_list["modules"] if m.startswith(HEAVY)] == []


def test_env_list_defines_no_dataclass_of_the_project_s(env_list):
    """A dataclass compiles its generated methods at import: ~2-4M instructions each."""
    assert env_list["dataclasses"] == []


def test_env_list_asks_the_core_over_one_channel(env_list):
    assert "1 non-public environment hidden" in env_list["out"]
    assert len(env_list["channels"]) == 1
    assert env_list["rpcs"] == ["GetEnvironments", "GetEnvironments"]  # the list, the count: no liveness RPC


def test_env_show_loads_neither_pydantic_nor_rich_nor_the_plugin_manager(run_coconut):
    (environment,) = json.loads(run_coconut("env", "list", "-o", "json")["out"])["environments"]
    shown = run_coconut("env", "show", environment["id"])
    assert "tasks:" in shown["out"] and "global vars and root vars" in shown["out"]
    assert [m for m in shown["modules"] if m.startswith(HEAVY)] == []
    assert len(shown["channels"]) == 1


def test_the_coconut_command_collects_young_objects_rarely():
    """Its start allocates ~10^5 objects and frees few: Python's default young collections were ~10 ms of it."""
    program = "import atexit, gc, sys, coconut.__main__ as m\nsys.argv = ['coconut', '--version']\n"
    program += "atexit.register(lambda: print(gc.get_threshold()[0]))\nm.main()\n"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert int(done.stdout.split()[-1]) >= 10_000
